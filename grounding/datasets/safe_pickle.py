"""Reading pickles from mirrors without running them.

RefCOCO's ``refs(unc).p`` files are Python pickles, and a pickle can name any callable to run
while loading. This unpickler refuses every global: only plain containers, strings, bytes and
numbers (built by opcodes, never by callables) can come out of it.

>>> import io, pickle
>>> safe_load(io.BytesIO(pickle.dumps([{"ref_id": 1, "sentences": [{"sent": "a cup"}]}])))
[{'ref_id': 1, 'sentences': [{'sent': 'a cup'}]}]
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import IO, Any, NoReturn

from grounding.datasets.base import DatasetError

__all__ = ["safe_load", "safe_load_path"]


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> NoReturn:
        raise pickle.UnpicklingError(
            f"refused {module}.{name}: only plain containers, strings and numbers are allowed"
        )

    def persistent_load(self, pid: Any) -> NoReturn:
        raise pickle.UnpicklingError("refused a persistent reference")


def safe_load(file: IO[bytes]) -> Any:
    """Unpickle plain data only; Python 2 byte strings are read as latin-1 text."""
    return _PlainUnpickler(file, encoding="latin1").load()


def safe_load_path(path: Path) -> Any:
    """:func:`safe_load` on a file, with errors that name it."""
    try:
        with path.open("rb") as file:
            return safe_load(file)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        raise DatasetError(
            f"{path}: not a plain-data pickle ({exc}); nothing in it was run"
        ) from None
