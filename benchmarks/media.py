"""Media stage throughput and memory: attachments/s and peak RSS fetching and keeping mixed files.

A provider on loopback (a child process, so its memory is not ours) answers Twilio-style media URLs
with a redirect to its "CDN" and streams each file, generated on the fly: --files files (default
1,000) of mixed types (JPEG, PNG, OGG, MP4, PDF headers) whose sizes spread from 1 KiB up to
--max-mb MiB (default 50; log-uniform, one in ten at the top of the range). The real stage
fetches them (allow-list, redirect, size cap, sniffing, SHA-256), keeps them in the folder store
and records each on its interaction in PostgreSQL (a fresh database). Reports attachments/s,
MiB/s, and the process's peak RSS before and after, which must not grow with file size: files
stream through a 64 KiB buffer to a spool file, then to the store.

Usage: python benchmarks/media.py [--files 1000] [--max-mb 50] [--concurrency 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from omnitrail.local_stack import free_port
from pipeline.media.fetch import AllowList, Fetcher
from pipeline.media.sources import Credentials
from pipeline.media.stage import MediaStage, Policy
from pipeline.stages.timeline import build_events
from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Attachment, Channel, Direction, Interaction, Party, Provider
from sinks import contact_store, interaction_store
from sinks.kafka.records import RawRecord
from sinks.media.store import MediaStore
from sinks.scratch_database import async_scratch_database

ACCOUNT = "AC" + "b2" * 16
TOKEN = "bench-token"  # noqa: S105  # the loopback provider checks nothing
HEADS = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "audio/ogg": b"OggS\x00\x02" + b"\x00" * 22,
    "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    "application/pdf": b"%PDF-1.4\n",
}
CHUNK = 256 * 1024


def provider_app() -> Any:
    """The loopback provider (run in a child process): ``/media/{kind}/{size}/{n}`` -> 307 -> ``/cdn/...``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def body(kind: str, size: int, n: int) -> AsyncIterator[bytes]:
        head = HEADS[kind] + f"file {n} ".encode()  # distinct bytes per file: content-addressing keeps each
        block = (head + bytes(range(256)) * (CHUNK // 256))[:CHUNK]
        sent = 0
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            yield piece
            sent += len(piece)

    async def handle(request: Request) -> Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) < 4:
            return Response(status_code=404)
        if parts[0] == "2010-04-01":  # Twilio's media URL answers with a redirect to its CDN
            return Response(status_code=307, headers={"Location": "/cdn/" + "/".join(parts[-3:])})
        kind, size, n = parts[1].replace("_", "/"), int(parts[2]), int(parts[3])
        return StreamingResponse(body(kind, size, n), headers={"Content-Length": str(size)}, media_type=kind)

    return Starlette(routes=[Route("/{path:path}", handle)])


def sizes(files: int, max_bytes: int, rng: random.Random) -> list[int]:
    low = math.log(1024)
    top = math.log(max_bytes)
    return [max_bytes if rng.random() < 0.1 else int(math.exp(rng.uniform(low, top))) for _ in range(files)]


async def land(pool: AsyncConnectionPool[Any], base: str, plan: list[tuple[str, int]]) -> list[RawRecord]:
    now = datetime.now(UTC)
    records = []
    async with pool.connection() as conn, conn.transaction():
        for n, (kind, size) in enumerate(plan):
            url = f"{base}/2010-04-01/Accounts/{ACCOUNT}/Media/{kind.replace('/', '_')}/{size}/{n}"
            interaction = Interaction.build(
                channel=Channel.mms,
                provider=Provider.twilio,
                account="+351210000000",
                direction=Direction.inbound,
                occurred_at=now,
                received_at=now,
                external_id=f"bench-{uuid.uuid4().hex}",
                sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=f"+3519{n:08d}")]),
                attachments=[Attachment(content_type=kind, location=url)],
            )
            contact = uuid.uuid4()
            document = interaction.model_dump_json()
            await contact_store.create_contacts(conn, [(contact, None)])
            await interaction_store.insert(conn, [(contact, interaction, document)])
            event = build_events(added=[(contact, (interaction, document))], updated=[], created=[], snapshots=[])[0]
            records.append(RawRecord(event.value, topics.TIMELINE, 0, n, event.key))
    return records


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(20)
    max_bytes = int(args.max_mb * 1024 * 1024)
    plan = [(rng.choice(list(HEADS)), size) for size in sizes(args.files, max_bytes, rng)]
    port = free_port()
    command = [
        "-m",
        "uvicorn",
        "--factory",
        "benchmarks.media:provider_app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    server = await asyncio.create_subprocess_exec(sys.executable, *command)
    try:
        async with async_scratch_database("omnitrail_bench_media", admin=args.database_url) as url:
            with tempfile.TemporaryDirectory() as tmp:
                async with (
                    AsyncConnectionPool(
                        url, min_size=1, max_size=args.concurrency + 2, kwargs={"autocommit": True}
                    ) as pool,
                    httpx.AsyncClient(trust_env=False, timeout=60) as client,
                ):
                    for _ in range(100):
                        try:
                            await client.get(f"http://127.0.0.1:{port}/")
                            break
                        except httpx.HTTPError:
                            await asyncio.sleep(0.1)
                    records = await land(pool, f"http://127.0.0.1:{port}", plan)
                    fetcher = Fetcher(
                        client,
                        AllowList(("127.0.0.1",), allow_http=True),
                        max_bytes=max_bytes,
                        spool_dir=Path(tmp) / "spool",
                    )
                    published = 0

                    async def publish(batch: Any) -> None:
                        nonlocal published
                        published += len(batch)

                    stage = MediaStage(
                        pool,
                        publish,
                        MediaStore.folder(Path(tmp) / "media"),
                        fetcher,
                        Credentials(twilio_auth_token=TOKEN),
                        Policy(concurrency=args.concurrency),
                    )
                    before = peak_rss_mib()
                    started = time.perf_counter()
                    for at in range(0, len(records), 64):  # the consumer's batch size
                        await stage.handle_records(records[at : at + 64])
                    elapsed = time.perf_counter() - started
                    async with pool.connection() as db:
                        cur = await db.execute(
                            "SELECT count(*) FILTER (WHERE document #>> '{attachments,0,media,state}' = 'stored'),"
                            " count(*) FROM interactions"
                        )
                        stored, total = await cur.fetchone() or (0, 0)
    finally:
        server.terminate()
        await server.wait()
    mib = sum(size for _, size in plan) / 1024 / 1024
    print(f"files: {args.files}, largest {max(s for _, s in plan) / 1024 / 1024:.1f} MiB, total {mib:.0f} MiB")
    print(f"stored: {stored}/{total}, timeline events published: {published}")
    print(f"attachments/s: {args.files / elapsed:.1f}   MiB/s: {mib / elapsed:.1f}   ({elapsed:.1f} s)")
    print(f"peak RSS: {before:.0f} MiB before the stage ran, {peak_rss_mib():.0f} MiB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--max-mb", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
