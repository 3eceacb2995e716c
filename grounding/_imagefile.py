"""Encoded images without decoding them: structure checks of JPEG and PNG files, and the
budget of decoded pixels in flight.

An image that needs no change is sent as its own bytes. Instead of decoding it to find out
whether it is whole (a full decode of a 5 MP JPEG costs about 20 times more than the rest
of preparing it), its structure is walked: every JPEG segment up to the end-of-image marker,
every PNG chunk up to ``IEND`` with its CRC. A file cut off mid-stream or with a broken chunk
fails here as it would have failed the decoder.

>>> jpeg_end(b"\\xff\\xd8\\xff\\xd9")
Traceback (most recent call last):
grounding._imagefile.Corrupt: no image data before the end-of-image marker
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Corrupt", "PixelBudget", "PngHeader", "jpeg_end", "png_header"]


class Corrupt(ValueError):
    """The bytes are not a whole JPEG or PNG file; the message says what is wrong."""


# In entropy-coded data 0xFF is followed by 0x00 (stuffing) or a restart marker: any other
# byte after it is the next marker (0xFF fill bytes may repeat before it).
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)


def jpeg_end(data: bytes) -> int:
    """Where the JPEG's end-of-image marker ends (bytes after it, as in Motion Photos or
    multi-picture files, belong to other images). Raises :class:`Corrupt`."""
    if not data.startswith(b"\xff\xd8"):
        raise Corrupt("no JPEG start-of-image marker")
    size, pos = len(data), 2
    frame = scan = False
    while True:
        if pos + 2 > size:
            raise Corrupt("truncated: no end-of-image marker")
        if data[pos] != 0xFF:
            raise Corrupt(f"a segment does not start with a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            if not (frame and scan):
                raise Corrupt("no image data before the end-of-image marker")
            return pos + 2
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            raise Corrupt("truncated: no end-of-image marker")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise Corrupt(f"a segment of impossible length at byte {pos}")
        pos += 2 + length
        frame = frame or marker in _SOF
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            scan = True
            found = _MARKER.search(data, pos)
            if found is None:
                raise Corrupt("truncated: no end-of-image marker")
            pos = found.start()


@dataclass(frozen=True)
class PngHeader:
    """What a PNG's chunks say without decoding: where ``IEND`` ends, the bit depth and colour
    type from ``IHDR``, and whether a ``tRNS`` (transparency) or ``eXIf`` chunk is present."""

    end: int
    bit_depth: int
    colour_type: int
    transparency: bool
    exif: bool


_EXIF_TEXT = b"Raw profile type exif"


def png_header(data: bytes) -> PngHeader:
    """Walk the chunks, checking each CRC, up to ``IEND``. Raises :class:`Corrupt`."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise Corrupt("no PNG signature")
    size, pos = len(data), 8
    kinds: set[bytes] = set()
    ihdr = b""
    while True:
        if pos + 12 > size:
            raise Corrupt("truncated: no IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            raise Corrupt(f"truncated in a {kind!r} chunk")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(memoryview(data)[pos + 4 : end - 4]) != crc:
            raise Corrupt(f"broken {kind.decode('latin-1')} chunk (CRC mismatch)")
        if kind == b"IHDR":
            ihdr = data[pos + 8 : end - 4]
        elif kind in (b"tEXt", b"zTXt", b"iTXt") and data.startswith(_EXIF_TEXT, pos + 8):
            kind = b"eXIf"  # ImageMagick's way of storing EXIF, which Pillow reads too
        kinds.add(kind)
        pos = end
        if kind == b"IEND":
            break
    if len(ihdr) != 13 or b"IDAT" not in kinds:
        raise Corrupt("no IHDR or no IDAT chunk")
    return PngHeader(pos, ihdr[8], ihdr[9], b"tRNS" in kinds, b"eXIf" in kinds)


class PixelBudget:
    """At most ``limit`` decoded pixels in flight across threads; one image larger than the
    whole budget still runs, alone. Waiting threads go in turn, so a large image is not
    starved by a stream of small ones.

    >>> budget = PixelBudget(100)
    >>> with budget.hold(80):
    ...     budget.in_use
    80
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.in_use = 0
        self._changed = threading.Condition()
        self._queue: list[object] = []

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            self._changed.wait_for(
                lambda: (
                    self._queue[0] is ticket
                    and (self.in_use == 0 or self.in_use + pixels <= self.limit)
                )
            )
            self._queue.pop(0)
            self.in_use += pixels
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= pixels
                self._changed.notify_all()

    def reset_after_fork(self) -> None:
        """In a child made by ``fork``: the parent's other threads (and their holds) are gone."""
        self.in_use = 0
        self._changed = threading.Condition()
        self._queue = []
