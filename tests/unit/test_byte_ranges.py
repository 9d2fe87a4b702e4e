"""Range headers a client could send: what is out of reason is ignored (the whole file), never an error."""

from __future__ import annotations

from console.byte_ranges import ByteRange, etag, requested

TAG = etag("ab" * 32)


def test_positions_longer_than_any_file_are_no_range() -> None:
    huge = "9" * 5000  # int() refuses strings of over 4,300 digits: this was a 500
    for header in (f"bytes=0-{huge}", f"bytes={huge}-", f"bytes=-{huge}"):
        assert requested(header, None, TAG, 1024) is None


def test_an_ordinary_range_is_still_served() -> None:
    assert requested("bytes=10-19", None, TAG, 1024) == ByteRange(10, 20, 1024)
    assert requested("bytes=-24", None, TAG, 1024) == ByteRange(1000, 1024, 1024)
    assert requested("bytes=1000-999999999999999999", None, TAG, 1024) == ByteRange(1000, 1024, 1024)
