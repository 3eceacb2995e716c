"""Reading pickles from mirrors without running them, and without letting them blow up.

RefCOCO's ``refs(unc).p`` files are Python pickles, and a pickle can name any callable to run
while loading. This unpickler interprets only the opcodes that build plain containers,
strings, bytes and numbers; every other opcode (globals, ``REDUCE``, ``BUILD``, ``INST``,
``OBJ``, ``NEWOBJ``, extensions, persistent ids, out-of-band buffers) is refused. It is
Python's own pure-Python unpickler with its dispatch table cut down, plus bounds that a
crafted file cannot get past:

- memo indices at most the file's length (a legal pickle numbers its objects 0, 1, 2, …;
  the C unpickler sizes its memo by the index, so ``LONG_BINPUT 2**28`` took 4 GB);
- strings, bytes and frames no longer than the bytes left in the file, and at most
  :data:`MAX_STRING`; integers at most 1,024 bytes;
- containers nested at most :data:`MAX_DEPTH` deep, ``MARK`` likewise;
- at most :data:`MAX_FILE_BYTES` bytes, so at most that many opcodes and scalars, and at
  most :data:`MAX_CONTAINERS` lists, dicts, tuples and sets;
- no sharing that expands: every container's size written out in full (its text, as
  ``str()`` would make it) is tracked and kept under :func:`expansion_limit` of the file,
  and a list, dict or set may not change once it sits inside another container (the
  pickler never does that; it is how a cut-down file could hide a doubling per level).

Every refusal is a :class:`~grounding.datasets.base.DatasetError` whose one line names the
file and the problem; nothing in the file is ever run.

>>> import io, pickle
>>> safe_load(io.BytesIO(pickle.dumps([{"ref_id": 1, "sentences": [{"sent": "a cup"}]}])))
[{'ref_id': 1, 'sentences': [{'sent': 'a cup'}]}]
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NoReturn

from grounding.datasets.base import DatasetError

__all__ = [
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_STRING",
    "UnsafePickleError",
    "expansion_limit",
    "safe_load",
    "safe_load_path",
]

MAX_FILE_BYTES = 1 << 30  # RefCOCO's largest refs pickle is about 40 MB
MAX_CONTAINERS = 20_000_000  # RefCOCOg's refs hold about 1.5 million
MAX_STRING = 16 << 20  # a referring expression is a few dozen bytes
MAX_DEPTH = 100  # refs nest four deep
_MAX_LONG = 1024  # bytes of one integer: ids are small


def expansion_limit(size: int) -> int:
    """The most characters a pickle of ``size`` bytes may stand for once written out.

    A real refs pickle expands about 2x (keys shared by memo references); 64x leaves room
    and still refuses a doubling of shared lists after a few dozen levels.
    """
    return 64 * size + (1 << 20)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something plain data never needs, or past a bound."""


def _refuse(reason: str) -> NoReturn:
    raise UnsafePickleError(reason)


_Op = Callable[["_PlainUnpickler"], None]
_CONTAINERS = (list, dict, tuple, set, frozenset)
_MUTABLE = (list, dict, set)

# Opcodes Python's unpickler may run here unchanged: they push constants or shuffle the stack.
_PLAIN = (
    "STOP", "POP", "POP_MARK", "DUP", "FLOAT", "INT", "BININT", "BININT1", "LONG", "BININT2",
    "NONE", "STRING", "SHORT_BINSTRING", "UNICODE", "EMPTY_DICT", "GET", "BINGET", "LONG_BINGET",
    "EMPTY_LIST", "BINPUT", "EMPTY_TUPLE", "BINFLOAT", "PROTO", "NEWTRUE", "NEWFALSE", "LONG1",
    "SHORT_BINBYTES", "SHORT_BINUNICODE", "EMPTY_SET", "MEMOIZE",
)  # fmt: skip
_REFUSED = {
    "BUILD": "BUILD (sets state on an object; plain data never needs it)",
    "REDUCE": "REDUCE (calls a callable)",
    "INST": "INST (builds a class instance)",
    "OBJ": "OBJ (builds a class instance)",
    "NEWOBJ": "NEWOBJ (builds a class instance)",
    "NEWOBJ_EX": "NEWOBJ_EX (builds a class instance)",
    "PERSID": "a persistent reference",
    "BINPERSID": "a persistent reference",
    "EXT1": "an extension-registry object",
    "EXT2": "an extension-registry object",
    "EXT4": "an extension-registry object",
    "NEXT_BUFFER": "an out-of-band buffer",
    "READONLY_BUFFER": "an out-of-band buffer",
    "BYTEARRAY8": "a bytearray (mutable bytes are not plain data)",
}


class _PlainUnpickler(pickle._Unpickler):
    """Python's pure-Python unpickler, restricted to plain data and bounded (see the module)."""

    # set or defined by pickle._Unpickler (typeshed does not describe its private side)
    memo: dict[int, Any]
    pop_mark: Callable[[], list[Any]]
    _decode_string: Callable[[bytes], Any]

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        super().__init__(self._buffer, encoding="latin1")
        self._size = len(data)
        self._max_weight = expansion_limit(len(data))
        # per container id: (characters written out, nesting depth); kept alive so ids stay
        self._shape: dict[int, tuple[int, int]] = {}
        self._placed: set[int] = set()
        self._alive: list[object] = []

    # --- the loop -----------------------------------------------------------------------

    def load(self) -> Any:
        # Frames (protocol 4+) only group the same opcode stream for buffered reading; the
        # whole file is in memory, so it is read directly (twice as fast as pickle's unframer).
        self.read = self._buffer.read
        self.readline = self._buffer.readline
        self.readinto = self._buffer.readinto
        self.metastack: list[list[Any]] = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read, table = self.read, _TABLE
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                table[key[0]](self)
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value

    # --- bookkeeping --------------------------------------------------------------------

    def _unknown(self, code: int) -> NoReturn:
        for name, why in _REFUSED.items():
            if getattr(pickle, name)[0] == code:
                _refuse(f"refused {why}")
        at = self._buffer.tell() - 1
        raise pickle.UnpicklingError(f"unknown opcode 0x{code:02x} at byte {at}")

    def _left(self) -> int:
        return self._size - self._buffer.tell()

    def _length(self, fmt: str, what: str, limit: int = MAX_STRING) -> int:
        """Read a length prefix of ``fmt`` and check it (``what`` comes with its article)."""
        (n,) = struct.unpack(fmt, self.read(struct.calcsize(fmt)))
        if 0 <= n <= 4096:
            return int(n)  # a short read of a few bytes runs into the end and is refused there
        if n < 0:
            _refuse(f"{what} of negative length {n}")
        if n > limit:
            _refuse(f"{what} of {n:,} bytes (the limit is {limit:,})")
        if n > self._left():
            _refuse(f"{what} of {n:,} bytes with only {self._left():,} left in the file")
        return int(n)

    def _child(self, item: object) -> tuple[int, int]:
        """The written-out size and depth of ``item``; a container is now placed."""
        kind = type(item)
        if kind is str or kind is bytes:
            return len(item) + 1, 0  # type: ignore[arg-type]
        if kind in _CONTAINERS:
            key = id(item)
            size, depth = self._shape.get(key, (2, 1))
            if key not in self._placed and kind in _MUTABLE:
                self._placed.add(key)
                self._alive.append(item)
            return size, depth
        return 8, 0

    def _record(self, container: object, size: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            _refuse(f"containers nested more than {MAX_DEPTH} deep")
        if size > self._max_weight:
            _refuse(
                f"shared objects that expand to over {self._max_weight:,} characters "
                f"written out ({self._size:,} bytes on disk)"
            )
        key = id(container)
        if key not in self._shape:
            self._alive.append(container)
            if len(self._alive) > MAX_CONTAINERS:
                _refuse(f"more than {MAX_CONTAINERS:,} containers")
        self._shape[key] = (size, depth)

    def _build(self, container: object, items: list[Any]) -> None:
        """Record a container made in one go from ``items`` (tuple, list, dict, frozenset)."""
        size, depth = 2, 1
        for item in items:
            item_size, item_depth = self._child(item)
            size += item_size
            depth = max(depth, item_depth + 1)
        self._record(container, size, depth)
        self.append(container)

    def _fill(self, kind: type, items: list[Any]) -> Any:
        """The container on top of the stack, checked and recorded as ``items`` go into it.

        The hottest code of a load: :meth:`_child` is written out inline.
        """
        target = self.stack[-1]
        if type(target) is not kind:
            _refuse(f"adds items to a {type(target).__name__}, not a {kind.__name__}")
        key = id(target)
        if key in self._placed:
            _refuse("changes a container after putting it inside another")
        shape = self._shape
        size, depth = shape.get(key, (2, 1))
        for item in items:
            item_kind = type(item)
            if item_kind is str:
                size += len(item) + 1
            elif item_kind is int or item_kind is float or item is None or item_kind is bool:
                size += 8
            else:
                if item is target:
                    _refuse("a container that holds itself")
                item_size, item_depth = self._child(item)
                size += item_size
                if item_depth >= depth:
                    depth = item_depth + 1
        self._record(target, size, depth)
        return target

    # --- opcodes with bounds ------------------------------------------------------------

    def _mark(self) -> None:
        if len(self.metastack) >= MAX_DEPTH:
            _refuse(f"marks nested more than {MAX_DEPTH} deep")
        self.metastack.append(self.stack)
        self.stack = []
        self.append = self.stack.append

    def _memo_index(self, index: int) -> int:
        if not 0 <= index <= self._size:
            _refuse(f"memo index {index:,} in a file of {self._size:,} bytes")
        return index

    def _put(self) -> None:
        self.memo[self._memo_index(int(self.readline()[:-1]))] = self.stack[-1]

    def _long_binput(self) -> None:
        index = int.from_bytes(self.read(4), "little")
        if index > self._size:
            self._memo_index(index)
        self.memo[index] = self.stack[-1]

    def _binput(self) -> None:
        self.memo[self.read(1)[0]] = self.stack[-1]

    def _frame(self) -> None:
        self._length("<Q", "a frame", MAX_FILE_BYTES)  # checked, then read through

    def _binstring(self) -> None:
        self.append(self._decode_string(self.read(self._length("<i", "a string"))))

    def _binunicode(self) -> None:
        n = int.from_bytes(self.read(4), "little")
        if n > 4096:
            self._buffer.seek(-4, io.SEEK_CUR)
            n = self._length("<I", "a string")
        self.append(str(self.read(n), "utf-8", "surrogatepass"))

    def _binunicode8(self) -> None:
        self.append(str(self.read(self._length("<Q", "a string")), "utf-8", "surrogatepass"))

    def _binbytes(self) -> None:
        self.append(self.read(self._length("<I", "a bytes object")))

    def _binbytes8(self) -> None:
        self.append(self.read(self._length("<Q", "a bytes object")))

    def _long4(self) -> None:
        data = self.read(self._length("<i", "an integer", _MAX_LONG))
        self.append(int.from_bytes(data, "little", signed=True))

    def _global(self) -> None:
        module = self.readline()[:-1].decode("utf-8", "replace")
        name = self.readline()[:-1].decode("utf-8", "replace")
        _refuse(f"refused {module[:80]}.{name[:80]}: only plain containers, strings and numbers")

    def _stack_global(self) -> None:
        module, name = [*self.stack[-2:], "?", "?"][:2]
        if not (isinstance(module, str) and isinstance(name, str)):
            module, name = "?", "?"
        _refuse(f"refused {module[:80]}.{name[:80]}: only plain containers, strings and numbers")

    def _tuple(self) -> None:
        items = self.pop_mark()
        self._build(tuple(items), items)

    def _tuple_n(self, n: int) -> None:
        if len(self.stack) < n:
            _refuse("a tuple of more items than the stack holds")
        items = self.stack[-n:]
        del self.stack[-n:]
        self._build(tuple(items), items)

    def _list(self) -> None:
        items = self.pop_mark()
        self._build(list(items), items)

    def _dict(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            _refuse("a dict with a key and no value")
        self._build({items[i]: items[i + 1] for i in range(0, len(items), 2)}, items)

    def _frozenset(self) -> None:
        items = self.pop_mark()
        self._build(frozenset(items), items)

    def _append(self) -> None:
        item = self.stack.pop()
        self._fill(list, [item]).append(item)

    def _appends(self) -> None:
        items = self.pop_mark()
        self._fill(list, items).extend(items)

    def _setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._fill(dict, [key, value])[key] = value

    def _setitems(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            _refuse("a dict update with a key and no value")
        target = self._fill(dict, items)
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _additems(self) -> None:
        items = self.pop_mark()
        self._fill(set, items).update(items)


def _dispatch() -> dict[int, _Op]:
    base: dict[int, _Op] = pickle._Unpickler.dispatch  # type: ignore[assignment]
    table = {getattr(pickle, name)[0]: base[getattr(pickle, name)[0]] for name in _PLAIN}
    bounded: dict[str, _Op] = {
        "MARK": _PlainUnpickler._mark,
        "PUT": _PlainUnpickler._put,
        "BINPUT": _PlainUnpickler._binput,
        "LONG_BINPUT": _PlainUnpickler._long_binput,
        "FRAME": _PlainUnpickler._frame,
        "BINSTRING": _PlainUnpickler._binstring,
        "BINUNICODE": _PlainUnpickler._binunicode,
        "BINUNICODE8": _PlainUnpickler._binunicode8,
        "BINBYTES": _PlainUnpickler._binbytes,
        "BINBYTES8": _PlainUnpickler._binbytes8,
        "LONG4": _PlainUnpickler._long4,
        "GLOBAL": _PlainUnpickler._global,
        "STACK_GLOBAL": _PlainUnpickler._stack_global,
        "TUPLE": _PlainUnpickler._tuple,
        "TUPLE1": lambda u: u._tuple_n(1),
        "TUPLE2": lambda u: u._tuple_n(2),
        "TUPLE3": lambda u: u._tuple_n(3),
        "LIST": _PlainUnpickler._list,
        "DICT": _PlainUnpickler._dict,
        "FROZENSET": _PlainUnpickler._frozenset,
        "APPEND": _PlainUnpickler._append,
        "APPENDS": _PlainUnpickler._appends,
        "SETITEM": _PlainUnpickler._setitem,
        "SETITEMS": _PlainUnpickler._setitems,
        "ADDITEMS": _PlainUnpickler._additems,
    }
    table.update({getattr(pickle, name)[0]: op for name, op in bounded.items()})
    return table


def _unknown_opcode(unpickler: _PlainUnpickler) -> None:
    unpickler._buffer.seek(-1, io.SEEK_CUR)
    unpickler._unknown(unpickler._buffer.read(1)[0])


_DISPATCH = _dispatch()
_TABLE: list[_Op] = [_DISPATCH.get(code, _unknown_opcode) for code in range(256)]

# What a malformed pickle raises inside Python's unpickler (a wrong-shaped stack, a bad
# length, a truncated file); each becomes one DatasetError line.
_MALFORMED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    UnicodeDecodeError,
    RecursionError,
    MemoryError,
    OverflowError,
)


def safe_load(file: IO[bytes]) -> Any:
    """Unpickle plain data only; Python 2 byte strings are read as latin-1 text.

    Raises :class:`UnsafePickleError` for anything refused and Python's usual errors for a
    malformed file; :func:`safe_load_path` turns both into one line naming the file.
    """
    data = file.read()
    if len(data) > MAX_FILE_BYTES:
        _refuse(f"larger than {MAX_FILE_BYTES:,} bytes")
    return _PlainUnpickler(data).load()


def safe_load_path(path: Path) -> Any:
    """:func:`safe_load` on a file, with errors that name it (one line, nothing run)."""
    try:
        with path.open("rb") as file:
            if path.stat().st_size > MAX_FILE_BYTES:
                _refuse(f"larger than {MAX_FILE_BYTES:,} bytes")
            return safe_load(file)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, not a pickle") from None
    except UnsafePickleError as exc:
        raise DatasetError(f"{path}: unsafe pickle, {exc}; nothing in it was run") from None
    except _MALFORMED as exc:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}".rstrip(": ")
        raise DatasetError(
            f"{path}: not a plain-data pickle ({reason}); nothing in it was run"
        ) from None
