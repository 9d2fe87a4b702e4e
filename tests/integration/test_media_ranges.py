"""Range requests on ``GET /media/{token}`` (RFC 9110), over real HTTP, from the folder store and S3 (moto's
server): each range form, 416, If-Range, and a range of a large file that reads only its own bytes; ``HEAD``
answers ``GET``'s status and headers and reads none of the file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from console.audit import Audit
from console.auth import TokenAuth
from console.media_urls import MediaUrls
from console.routes import attachments
from console.signing import DeploymentSecret
from omnitrail.local_stack import free_port
from sinks.connection import Conn
from sinks.media.store import MediaStore
from tests.integration.stack import eventually
from tests.integration.test_media_stage import s3_store
from tests.media_providers import png

pytestmark = pytest.mark.integration
SECRET = b"range-requests-test-secret-0123456789"
DATA = bytes(range(256)) * 4  # 1024 bytes
SHA = hashlib.sha256(DATA).hexdigest()
TAG = f'"{SHA}"'
MiB = 1024 * 1024


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "folder":
        return MediaStore.folder(tmp_path / "media")
    return s3_store(request.getfixturevalue("s3_server"))


@asynccontextmanager
async def console_media(store: MediaStore, database_url: str, *files: str) -> AsyncIterator[httpx.AsyncClient]:
    """The console's attachment routes on loopback over ``store``, each of ``files`` referenced by an interaction
    as the media stage leaves a kept file (``/media`` serves no file that nothing references)."""
    async with AsyncConnectionPool[Conn](database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        async with pool.connection() as conn:
            for sha256 in files:
                await conn.execute(
                    "INSERT INTO media_references (sha256, interaction_id) VALUES (%s, %s)", (sha256, uuid.uuid4())
                )
        audit = Audit(pool.connection, TokenAuth({}, pool.connection))
        app = FastAPI()
        app.include_router(
            attachments.router(pool.connection, audit, store, DeploymentSecret(SECRET, pool.connection), ttl_s=60)
        )
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
        task = asyncio.create_task(server.serve())

        async def started() -> bool:
            return server.started

        await eventually(started, timeout=10, what="console listening")
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as client:
                yield client
        finally:
            server.should_exit = True
            await task


def url(sha256: str = SHA, content_type: str = "audio/ogg") -> str:
    return MediaUrls(SECRET, ttl_s=60).url(sha256, "original", content_type, "voice.ogg")


async def test_each_range_form_is_answered_206_with_only_its_bytes(store: MediaStore, database_url: str) -> None:
    await store.put_bytes(SHA, DATA)
    async with console_media(store, database_url, SHA) as http:
        whole = await http.get(url())
        assert whole.status_code == 200
        assert (whole.content, whole.headers["accept-ranges"], whole.headers["etag"]) == (DATA, "bytes", TAG)
        assert "content-range" not in whole.headers
        cases = {
            "bytes=10-19": (10, 20),
            "bytes=0-0": (0, 1),
            "bytes=1000-": (1000, 1024),
            "bytes=-25": (999, 1024),
            "bytes=1020-99999": (1020, 1024),  # past the end: up to the end
            "bytes=-5000": (0, 1024),  # a suffix longer than the file: all of it
            "BYTES = 5-6": (5, 7),  # the unit is case-insensitive, whitespace allowed around "="
        }
        for header, (start, end) in cases.items():
            answer = await http.get(url(), headers={"Range": header})
            assert answer.status_code == 206, header
            assert answer.content == DATA[start:end], header
            assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/1024", header
            assert answer.headers["content-length"] == str(end - start), header
            assert answer.headers["content-type"] == "audio/ogg"
            assert (answer.headers["etag"], answer.headers["x-content-type-options"]) == (TAG, "nosniff")
            assert answer.headers["content-security-policy"].startswith("sandbox")
        # Several ranges, another unit, nonsense, last before first: the whole file (a server may ignore Range).
        for header in ("bytes=0-1,5-6", "items=0-5", "bytes=abc", "bytes=9-3", "bytes=-"):
            answer = await http.get(url(), headers={"Range": header})
            assert (answer.status_code, answer.content, answer.headers.get("content-range")) == (200, DATA, None)


async def test_a_range_outside_the_file_is_416_with_its_size(store: MediaStore, database_url: str) -> None:
    await store.put_bytes(SHA, DATA)
    async with console_media(store, database_url, SHA) as http:
        for header in ("bytes=1024-", "bytes=5000-6000", "bytes=-0"):
            answer = await http.get(url(), headers={"Range": header})
            assert answer.status_code == 416, header
            assert answer.headers["content-range"] == "bytes */1024"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.content == b""


async def test_if_range_serves_the_range_only_while_the_etag_is_the_same(store: MediaStore, database_url: str) -> None:
    await store.put_bytes(SHA, DATA)
    async with console_media(store, database_url, SHA) as http:
        same = await http.get(url(), headers={"Range": "bytes=100-199", "If-Range": TAG})
        assert (same.status_code, same.content) == (206, DATA[100:200])
        # Another tag, a weak tag (never equal in a strong comparison), a date (the file has no Last-Modified).
        for validator in ('"0123"', f"W/{TAG}", "Sun, 06 Dec 2026 03:00:00 GMT"):
            other = await http.get(url(), headers={"Range": "bytes=100-199", "If-Range": validator})
            assert (other.status_code, other.content, other.headers["etag"]) == (200, DATA, TAG)


async def test_ranges_keep_the_signed_url_check_and_an_erased_file_gone(store: MediaStore, database_url: str) -> None:
    await store.put_bytes(SHA, DATA)
    async with console_media(store, database_url, SHA) as http:
        token = url().removeprefix("/media/")
        forged = await http.get(
            f"/media/{token[:-1]}{'0' if token[-1] != '0' else '1'}", headers={"Range": "bytes=0-9"}
        )
        expired = MediaUrls(SECRET, ttl_s=60).url(SHA, "original", "audio/ogg", "v.ogg", now=1.0)
        assert forged.status_code == 403
        assert (await http.get(expired, headers={"Range": "bytes=0-9"})).status_code == 403
        await store.delete([SHA])  # what the erasure sweep does
        assert (await http.get(url(), headers={"Range": "bytes=0-9"})).status_code == 404


def io_bytes() -> int:
    """Bytes this process moved with read() and write() calls: the folder store reading its files."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


@asynccontextmanager
async def metered(upstream: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP relay to ``upstream`` (``http://host:port``) and the count of bytes that came back through it."""
    host, port = upstream.removeprefix("http://").split(":")
    received, handlers = [0], set[asyncio.Task[None]]()

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool) -> None:
        while data := await source.read(64 * 1024):
            received[0] += len(data) if count else 0
            sink.write(data)
            await sink.drain()
        sink.close()

    async def relay(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        upstream_in, upstream_out = await asyncio.open_connection(host, int(port))
        try:
            await asyncio.gather(pipe(client_in, upstream_out, count=False), pipe(upstream_in, client_out, count=True))
        finally:
            client_out.close()
            upstream_out.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


@asynccontextmanager
async def store_and_meter(
    kind: str, tmp_path: Path, s3_server: str
) -> AsyncIterator[tuple[MediaStore, Callable[[], int]]]:
    """A store and what measures the bytes it delivers: the process's I/O for the folder, the wire for S3."""
    if kind == "folder":
        yield MediaStore.folder(tmp_path / "media"), io_bytes
        return
    async with metered(s3_server) as (endpoint, received):
        # boto3 (which makes the bucket) blocks: in a thread, so the relay on this loop answers it.
        yield await asyncio.to_thread(s3_store, endpoint), lambda: received[0]


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_a_range_of_a_large_recording_reads_only_that_range(
    kind: str, tmp_path: Path, s3_server: str, database_url: str
) -> None:
    size = 24 * MiB
    recording = tmp_path / "call.wav"
    data = os.urandom(size)
    recording.write_bytes(data)
    sha256, expected = hashlib.sha256(data).hexdigest(), data[12 * MiB : 12 * MiB + 256 * 1024]
    del data
    async with (
        store_and_meter(kind, tmp_path, s3_server) as (store, delivered),
        console_media(store, database_url, sha256) as http,
    ):
        await store.put(sha256, recording)
        link = url(sha256, "audio/wav")
        before = delivered()
        answer = await http.get(link, headers={"Range": f"bytes={12 * MiB}-{12 * MiB + 256 * 1024 - 1}"})
        ranged = delivered() - before
        assert (answer.status_code, answer.content) == (206, expected)
        # The whole file, streamed and dropped, for scale: what a read of all of it costs.
        before = delivered()
        async with http.stream("GET", link) as whole:
            received = sum([len(chunk) async for chunk in whole.aiter_bytes()])
        full = delivered() - before
    assert received == size
    assert full >= size
    assert ranged < 2 * MiB, f"a 256 KiB range moved {ranged} bytes"


def answered(response: httpx.Response) -> tuple[int, dict[str, str]]:
    """Status and headers, but the date (the two answers may straddle a second)."""
    return response.status_code, {k: v for k, v in response.headers.items() if k != "date"}


async def test_head_answers_the_status_and_headers_get_would_with_no_body(store: MediaStore, database_url: str) -> None:
    await store.put_bytes(SHA, DATA)
    async with console_media(store, database_url, SHA) as http:
        whole = await http.head(url())
        assert (whole.status_code, whole.content) == (200, b"")
        assert [whole.headers[h] for h in ("content-length", "content-type", "accept-ranges", "etag")] == [
            "1024",
            "audio/ogg",
            "bytes",
            TAG,
        ]
        requests = [
            {},
            {"Range": "bytes=10-19"},
            {"Range": "bytes=-25"},
            {"Range": "bytes=0-1,5-6"},  # several: the whole file
            {"Range": "bytes=5000-"},  # 416
            {"Range": "bytes=100-199", "If-Range": TAG},
            {"Range": "bytes=100-199", "If-Range": '"0123"'},
        ]
        for headers in requests:
            head, get = await http.head(url(), headers=headers), await http.get(url(), headers=headers)
            assert answered(head) == answered(get), headers
            assert head.content == b""
        ranged = await http.head(url(), headers={"Range": "bytes=10-19"})
        assert (ranged.status_code, ranged.headers["content-range"], ranged.headers["content-length"]) == (
            206,
            "bytes 10-19/1024",
            "10",
        )
        outside = await http.head(url(), headers={"Range": "bytes=5000-"})
        assert (outside.status_code, outside.headers["content-range"]) == (416, "bytes */1024")

        token = url().removeprefix("/media/")
        forged = f"/media/{token[:-1]}{'0' if token[-1] != '0' else '1'}"
        assert (await http.head(forged)).status_code == 403
        await store.delete([SHA])
        assert answered(await http.head(url())) == answered(await http.get(url()))
        assert (await http.head(url())).status_code == 404


async def test_head_of_a_thumbnail_says_png_without_drawing_it(store: MediaStore, database_url: str) -> None:
    photo = png("green", (640, 480))
    digest = hashlib.sha256(photo).hexdigest()
    await store.put_bytes(digest, photo)
    links = MediaUrls(SECRET, ttl_s=60)
    async with console_media(store, database_url, digest) as http:
        link = links.url(digest, "thumbnail", "image/png", "photo.png")
        head, get = await http.head(link), await http.get(link)
        assert (head.status_code, head.content, head.headers["content-type"]) == (200, b"", "image/png")
        assert "content-length" not in head.headers  # known only once drawn: omitted, never a false 0
        status, headers = answered(get)
        assert answered(head) == (status, {k: v for k, v in headers.items() if k != "content-length"})
        none = links.url(digest, "thumbnail", "audio/ogg", "voice.ogg")
        assert (await http.head(none)).status_code == (await http.get(none)).status_code == 404


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_head_of_a_large_recording_reads_none_of_it(
    kind: str, tmp_path: Path, s3_server: str, database_url: str
) -> None:
    size = 16 * MiB
    recording = tmp_path / "call.wav"
    data = os.urandom(size)
    recording.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    del data
    async with (
        store_and_meter(kind, tmp_path, s3_server) as (store, delivered),
        console_media(store, database_url, sha256) as http,
    ):
        await store.put(sha256, recording)
        link = url(sha256, "audio/wav")
        before = delivered()
        whole = await http.head(link)
        ranged = await http.head(link, headers={"Range": f"bytes={MiB}-"})
        moved = delivered() - before
    assert (whole.status_code, whole.headers["content-length"]) == (200, str(size))
    assert (ranged.status_code, ranged.headers["content-length"]) == (206, str(size - MiB))
    assert moved < 256 * 1024, f"two HEADs of a {size}-byte file moved {moved} bytes"
