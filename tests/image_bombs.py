"""Decompression bombs: images whose file is tiny and whose pixels are many."""

from __future__ import annotations

import struct
import zlib


def blank_png(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG of ``width`` x ``height`` black pixels, compressed ~1000:1, built without
    ever holding the pixels (a few KB of file per million pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter type 0, then the row's pixels
    rows_at_once = max(1, (1 << 20) // len(row))
    pixels = b"".join(
        packer.compress(row * min(rows_at_once, height - done)) for done in range(0, height, rows_at_once)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels + packer.flush()) + chunk(b"IEND", b"")
