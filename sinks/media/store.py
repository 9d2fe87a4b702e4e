"""The object store attachment content is kept in: one small interface over obstore.

Content-addressed: a file's key is its SHA-256 (``sha256/ab/abcd...``), so the same bytes are kept
once whoever sent them, and a key never changes meaning. The embedded default is a folder under
``OMNITRAIL_DATA_DIR``; production is any S3-compatible store.

Why obstore: one maintained, typed client (Rust ``object_store``, the Apache Arrow project's) for
both the folder and S3, async, streaming in both directions (a file goes up as a multipart upload
from disk, comes down as chunks), with no botocore: aioboto3 would bring boto3's whole stack and
patched pins of it for one put, one get and one delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from schemas.errors import FatalError
from sinks.media.settings import MediaSettings

if TYPE_CHECKING:
    from obstore import GetOptions

#: What a stored file is streamed back in.
CHUNK = 256 * 1024
#: A file goes up in parts of this size (S3's least), one at a time: what a put holds in memory stays
#: bounded (obstore's defaults, 5 MiB parts x 12 in flight, held ~30 MiB per file being kept).
PART = 5 * 1024 * 1024


def _move(file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    file.replace(target)


def key_of(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256}"


class MediaStore:
    def __init__(self, store: LocalStore | S3Store, *, folder: Path | None = None) -> None:
        self._store = store
        #: The folder store's directory: a spool file on its file system is moved in, not copied.
        self._folder = folder

    @classmethod
    def configured(cls, settings: MediaSettings, data_dir: Path) -> MediaStore:
        if settings.store == "folder":
            return cls.folder(settings.folder(data_dir))
        if not settings.s3_bucket:
            raise FatalError("OMNITRAIL_MEDIA_S3_BUCKET is required with OMNITRAIL_MEDIA_STORE=s3")
        config: dict[str, str] = {"region": settings.s3_region}
        if settings.s3_endpoint:
            config["endpoint"] = settings.s3_endpoint
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
        if settings.s3_secret_access_key:
            config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        http = bool(settings.s3_endpoint and settings.s3_endpoint.startswith("http://"))
        return cls(S3Store(settings.s3_bucket, config=config, client_options={"allow_http": http}))  # type: ignore[arg-type]

    @classmethod
    def folder(cls, path: Path) -> MediaStore:
        path.mkdir(parents=True, exist_ok=True)
        return cls(LocalStore(path.resolve(), mkdir=True), folder=path.resolve())

    async def has(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self._store, key_of(sha256))
        except (FileNotFoundError, NotFoundError):
            return False
        return True

    async def put(self, sha256: str, file: Path) -> None:
        """Keep ``file`` (whose bytes hash to ``sha256``) unless it is already kept; streamed from disk.

        The folder store moves the file in (``file`` is gone afterwards): no copy, and atomic, so a
        reader never sees half a file."""
        if await self.has(sha256):
            return
        if self._folder is not None:
            target = self._folder / key_of(sha256)
            try:
                await asyncio.to_thread(_move, file, target)
                return
            except OSError:  # another file system: copy it in below
                pass
        await obstore.put_async(self._store, key_of(sha256), file, chunk_size=PART, max_concurrency=1)

    async def put_bytes(self, sha256: str, data: bytes) -> None:
        """Keep ``data`` (an email attachment, already in memory) under its SHA-256 unless already kept."""
        if not await self.has(sha256):
            await obstore.put_async(self._store, key_of(sha256), data)

    async def head(self, sha256: str, size: int) -> bytes:
        """The first ``size`` bytes (to sniff a file's type)."""
        return bytes(await obstore.get_range_async(self._store, key_of(sha256), start=0, length=size))

    async def size(self, sha256: str) -> int:
        return (await obstore.head_async(self._store, key_of(sha256)))["size"]

    async def read(self, sha256: str, span: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
        """The file in chunks, or only its bytes ``span`` = (start, end exclusive, not empty): a ranged get, so
        the store reads and sends no others (a seek in a recording costs the bytes played, not the file).
        FileNotFoundError if it is not kept."""
        options: GetOptions = {} if span is None else {"range": span}
        try:
            result = await obstore.get_async(self._store, key_of(sha256), options=options)
        except NotFoundError as exc:
            raise FileNotFoundError(sha256) from exc
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    async def delete(self, digests: Iterable[str]) -> None:
        """Remove these files (those not kept are ignored)."""
        for sha256 in digests:
            try:
                await obstore.delete_async(self._store, key_of(sha256))
            except (FileNotFoundError, NotFoundError):
                continue
