"""HTTP range requests for stored media (RFC 9110 section 14): what part of a file a request asks for.

A player seeks in a recording with ``Range``, and Safari on iOS plays ``<audio>``/``<video>`` only
from a server that answers ranges. One range is answered (206 with ``Content-Range``); a request for
several is answered with the whole file (200), which RFC 9110 permits (a server MAY ignore
``Range``), as it does for a unit other than bytes or a header it cannot parse. ``If-Range`` is
compared strongly with the file's ETag (the file's SHA-256: its key in a content-addressed store, so
the bytes behind it never change); a date or another tag there means "send it all".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Positions of up to 18 digits (an exabyte): int() refuses strings of over 4,300 digits (a 500), and no file is larger.
_SPEC = re.compile(r"bytes[ \t]*=[ \t]*(\d{0,18})-(\d{0,18})[ \t]*", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` (exclusive) of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


class Unsatisfiable(Exception):
    """The range lies outside the file: answered 416 with ``Content-Range: bytes */size``."""


def etag(sha256: str) -> str:
    """A strong ETag: the bytes of a content-addressed file never change under its digest."""
    return f'"{sha256}"'


def requested(range_header: str | None, if_range: str | None, tag: str, size: int) -> ByteRange | None:
    """The one range to serve, or None for the whole file; :class:`Unsatisfiable` if it is out of the file."""
    if range_header is None or (if_range is not None and if_range.strip() != tag):
        return None
    match = _SPEC.fullmatch(range_header.strip())
    if match is None:
        return None  # another unit, several ranges, or not a range at all: the whole file
    first, last = match.groups()
    if first:
        start = int(first)
        end = int(last) + 1 if last else size
        if last and end <= start:
            return None  # last-pos before first-pos: an invalid range-spec, ignored
    elif last:
        start, end = max(size - int(last), 0), size
        if int(last) == 0:
            raise Unsatisfiable
    else:
        return None  # "bytes=-": no range at all
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size), size)
