"""Thumbnails of kept images: drawn only when decoding them is cheap, a few at a time, each once.

An image's file size says little of what decoding it costs: a blank 13000x13000 RGBA PNG is a
656 KB file that decodes to 676 MB of pixels (PNG, GIF and WebP decode the whole image before
scaling), and Pillow refuses only above 2x ``Image.MAX_IMAGE_PIXELS`` (~179 M pixels). So
:func:`thumbnail` reads the header first and refuses (None: the page shows no thumbnail, the
download still works) anything that would decode to more than :data:`MAX_PIXELS`, before any pixel
is read. A JPEG is asked to decode at the smallest scale (1/2 to 1/8) still larger than the
thumbnail (``draft``), so a phone's 50 or 200 megapixel photo decodes to a few megapixels and keeps
its thumbnail; the limit applies to what is decoded.

Measured on that 656 KB PNG, one call in a fresh process (``resource.getrusage``): before, 4.2 s CPU
and 1.36 GB peak RSS; now, 0.01 s of CPU and 1 MB of RSS (the header alone is read).

:class:`Thumbnails` draws at most :data:`AT_ONCE` at a time (the others wait their turn without holding
a thread of the default pool the webhooks share) and keeps the drawn PNGs, and the refusals, by the file's
sha256 (content is immutable) in a cache bounded by :data:`CACHE_BYTES`, so opening a contact again
decodes nothing.
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import structlog
from PIL import Image, UnidentifiedImageError

log = structlog.get_logger(__name__)

THUMBNAIL_SIZE = (320, 320)
#: The most pixels a thumbnail decodes: 16 M covers every phone screenshot and a 5K display's
#: (14.7 M), and any JPEG up to ~1 G pixels (``draft`` decodes it at 1/8 scale); a larger PNG, GIF or
#: WebP downloads without a thumbnail. Measured, one at the limit (RGBA PNG) costs ~80 MB of peak RSS
#: and 0.4 s of CPU, which the console's pod (deploy/k8s/base/console.yaml: 256 MiB, 0.5 CPU) holds
#: beside everything else it serves; 40 M would cost ~310 MB and could not.
MAX_PIXELS = 16_000_000
#: Thumbnails drawn at once: one, because memory, not CPU, is what each costs (see :data:`MAX_PIXELS`);
#: a photo's takes milliseconds, and drawn ones are cached, so the queue is short.
AT_ONCE = 1
#: Drawn thumbnails kept in memory (a 320 px PNG is typically 20-150 KB), and at most this many files
#: (refusals weigh nothing).
CACHE_BYTES = 16 * 1024 * 1024
CACHE_FILES = 4096


def thumbnail(data: bytes) -> bytes | None:
    """The image scaled down and re-encoded as PNG: pixels we wrote. None if it is no image Pillow reads
    or would decode to more than :data:`MAX_PIXELS` (checked on the header, before any pixel is read)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", THUMBNAIL_SIZE)  # decode at 1/2..1/8 scale, still >= the thumbnail
            width, height = image.size
            if width * height > MAX_PIXELS:
                log.info("media.no_thumbnail", reason="too_many_pixels", pixels=width * height)
                return None
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        log.info("media.no_thumbnail", reason="undecodable")
        return None


class Thumbnails:
    """Thumbnails by sha256: drawn :data:`AT_ONCE` at a time in worker threads, kept up to ``cache_bytes``."""

    def __init__(self, *, at_once: int = AT_ONCE, cache_bytes: int = CACHE_BYTES) -> None:
        self._turns = asyncio.Semaphore(at_once)
        self._kept: OrderedDict[str, bytes | None] = OrderedDict()
        self._kept_bytes = 0
        self._cache_bytes = cache_bytes

    async def get(self, sha256: str, read: Callable[[], Awaitable[bytes]]) -> bytes | None:
        """The thumbnail of the file ``read`` returns (None: none can be drawn); drawn once per file."""
        if sha256 in self._kept:
            self._kept.move_to_end(sha256)
            return self._kept[sha256]
        async with self._turns:
            if sha256 in self._kept:  # drawn while this one waited its turn
                return self._kept[sha256]
            png = await asyncio.to_thread(thumbnail, await read())
        self._keep(sha256, png)
        return png

    def forget(self, sha256: str) -> None:
        """Drop a file's thumbnail (it is no longer kept)."""
        self._kept_bytes -= len(self._kept.pop(sha256, None) or b"")

    def _keep(self, sha256: str, png: bytes | None) -> None:
        if len(png or b"") > self._cache_bytes:
            return
        self.forget(sha256)
        self._kept[sha256] = png
        self._kept_bytes += len(png or b"")
        while self._kept_bytes > self._cache_bytes or len(self._kept) > CACHE_FILES:
            _, dropped = self._kept.popitem(last=False)
            self._kept_bytes -= len(dropped or b"")
