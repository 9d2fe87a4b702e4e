"""Thumbnails are drawn only when decoding is cheap: a tiny file of too many pixels gets none, read from its
header alone; a normal image, a JPEG photo larger than the limit included, gets its PNG."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

from PIL import Image

from console.thumbnails import MAX_PIXELS, THUMBNAIL_SIZE, Thumbnails, thumbnail
from tests.image_bombs import blank_png

#: Just over the limit: what the old code decoded in full (a 13000x13000 one took 1.36 GB).
BOMB = blank_png(4100, MAX_PIXELS // 4100 + 1)


def encoded(size: tuple[int, int], kind: str = "PNG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "green").save(out, kind)
    return out.getvalue()


def test_a_tiny_file_of_too_many_pixels_gets_no_thumbnail() -> None:
    assert len(BOMB) < 64 * 1024
    with Image.open(io.BytesIO(BOMB)) as image:
        assert image.size[0] * image.size[1] > MAX_PIXELS  # a valid image, that Pillow would decode
    assert thumbnail(BOMB) is None


def test_an_image_at_the_limit_and_a_normal_photo_get_a_png_no_larger_than_the_thumbnail() -> None:
    for data in (blank_png(4000, MAX_PIXELS // 4000), encoded((640, 480), "PNG", "RGBA"), encoded((64, 48))):
        drawn = thumbnail(data)
        assert drawn is not None
        with Image.open(io.BytesIO(drawn)) as image:
            assert image.format == "PNG"
            assert max(image.size) <= max(THUMBNAIL_SIZE)


def test_a_jpeg_over_the_limit_is_drawn_from_its_reduced_decode() -> None:
    photo = encoded((5000, 4000), "JPEG")  # 20 M pixels, decoded at 1/8 scale
    drawn = thumbnail(photo)
    assert drawn is not None
    assert Image.open(io.BytesIO(drawn)).size == (320, 256)


def test_what_is_no_image_gets_no_thumbnail() -> None:
    assert thumbnail(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


async def test_each_file_is_read_and_drawn_once_and_a_refusal_is_remembered() -> None:
    thumbnails, reads = Thumbnails(), list[str]()
    files = {"photo": encoded((64, 48)), "bomb": BOMB}

    def reader(name: str) -> Callable[[], Awaitable[bytes]]:
        async def read() -> bytes:
            reads.append(name)
            return files[name]

        return read

    first = await thumbnails.get("photo", reader("photo"))
    assert first is not None
    assert await thumbnails.get("photo", reader("photo")) == first
    assert await thumbnails.get("bomb", reader("bomb")) is None
    assert await thumbnails.get("bomb", reader("bomb")) is None
    assert reads == ["photo", "bomb"]
    thumbnails.forget("photo")
    assert await thumbnails.get("photo", reader("photo")) == first
    assert reads == ["photo", "bomb", "photo"]


async def test_the_cache_keeps_no_more_than_its_bytes() -> None:
    photo = encoded((64, 48))
    drawn = thumbnail(photo)
    assert drawn is not None
    thumbnails, reads = Thumbnails(cache_bytes=len(drawn) * 2), list[int]()

    async def read() -> bytes:
        reads.append(1)
        return photo

    for key in ("a", "b", "c", "a"):
        await thumbnails.get(key, read)
    assert len(reads) == 4  # "a" was dropped to keep "b" and "c"
