"""IMAP backfill throughput: messages/s for a fresh mailbox, and where the time goes.

fetch:   IMAP UID FETCH round trips (imapclient in a worker thread)
parse:   MIME parsing + normalization to an Interaction
thread:  the threading stage against the PostgreSQL thread index
produce: KafkaEmitter.emit_many until the broker acknowledged (acks=all)
other:   SEARCH/SELECT, checkpoint saves, scheduling

Usage: python benchmarks/imap_backfill.py [--messages 5000] [--batch-size 200]
Needs Dovecot (dovecot-imapd) and PostgreSQL on 127.0.0.1:5432 (user postgres, trust); starts its
own Dovecot, broker and a throw-away database. The mailbox is written as Maildir files (delivery is
not what is measured), in the corpus shapes of tests/email_corpus.py, so reply chains thread.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from psycopg_pool import AsyncConnectionPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.email import mime  # after the path fix above
from connectors.email.threads import ThreadEntry
from connectors.emitter import KafkaEmitter
from omnitrail.local_stack import EmbeddedBroker
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.scratch_database import async_scratch_database
from sinks.thread_index import PostgresThreadIndex
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox

SHAPES = [
    corpus.complaint,
    corpus.outlook_reply,
    corpus.reply_with_attachment,
    corpus.html_only,
    corpus.without_message_id,
    corpus.forwarded,
    corpus.malformed,
]
T = TypeVar("T")
spent: dict[str, float] = defaultdict(float)
#: Calls seen per hook ("owner.attribute"): a hook whose function the connector no longer calls fails the run.
calls: dict[str, int] = {}


def timed(name: str, hook: str, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start
            calls[hook] += 1

    return wrapper


def timed_sync(name: str, hook: str, fn: Callable[..., T]) -> Callable[..., T]:
    def wrapper(*args: Any, **kwargs: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start
            calls[hook] += 1

    return wrapper


def hook(stage: str, owner: object, attribute: str) -> None:
    """Count the time of every call of ``owner.attribute`` in ``stage``; a name that moved fails here, loudly."""
    label = f"{getattr(owner, '__name__', type(owner).__name__)}.{attribute}"
    original = getattr(owner, attribute)  # AttributeError: the connector changed, follow it
    if not callable(original):
        raise TypeError(f"{label} is not a function")
    calls[label] = 0
    wrapped = timed if inspect.iscoroutinefunction(original) else timed_sync
    setattr(owner, attribute, wrapped(stage, label, original))


def fill_maildir(dovecot: Dovecot, user: str, count: int) -> int:
    """Write ``count`` messages straight into the user's Maildir (Dovecot assigns UIDs at the next SELECT)."""
    client = dovecot.client(user)
    client.select_folder("INBOX")  # creates the Maildir with the right owner
    client.logout()
    new = dovecot.root / "mail" / user / "new"
    owner = new.stat()
    size = 0
    for n in range(count):
        raw = SHAPES[n % len(SHAPES)](f"b{n // len(SHAPES)}")
        path = new / f"{1700000000 + n}.M{n}P1.bench"
        path.write_bytes(raw)
        os.chown(path, owner.st_uid, owner.st_gid)
        size += len(raw)
    return size


async def run(messages: int, batch_size: int) -> int:
    dovecot, broker = Dovecot.start(), EmbeddedBroker()  # first: without Dovecot, nothing is left behind
    try:
        async with async_scratch_database("omnitrail_bench") as url:
            broker.start()
            await clients.create_topics(KafkaSettings(partitions=4), broker.bootstrap)
            box = Mailbox(dovecot, batch_size=batch_size)
            size = fill_maildir(dovecot, box.user, messages)
            producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
            await producer.start()
            async with AsyncConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True}) as pool:
                connector = box.connector(thread_index=PostgresThreadIndex(pool, ThreadEntry))
                emitter = KafkaEmitter(producer)
                hook("fetch", connector.sessions[box.user], "fetch")
                # Parsing runs in a worker thread (connector._parse_all calls mime.parse per message);
                # normalizing (to_interaction, then fit) is EmailConnector._interaction, per message.
                hook("parse", mime, "parse")
                hook("parse", connector, "_interaction")
                hook("thread", connector.threader, "place_many")
                hook("produce", emitter, "emit_many")
                start = time.perf_counter()
                emitted = await connector.poll(emitter, PostgresCheckpoints(pool))
                wall = time.perf_counter() - start
                await connector.close()
            await producer.stop()
    finally:
        broker.stop()
        dovecot.stop()
    detached = [label for label, count in calls.items() if count == 0]
    if detached:  # a stage timed as 0 s would be a lie: the connector no longer calls these
        print(f"timing hooks never called: {', '.join(detached)}", file=sys.stderr)
        return 1
    other = wall - sum(spent.values())
    print(f"mailbox    : {messages} messages, {size / messages / 1024:.1f} KB avg, batches of {batch_size}")
    print(f"backfill   : {emitted} interactions in {wall:.1f}s = {emitted / wall:.0f} messages/s")
    for part in ("fetch", "parse", "thread", "produce"):
        print(f"  {part:<8} : {spent[part]:6.1f}s  {100 * spent[part] / wall:4.0f}%")
    print(f"  {'other':<8} : {other:6.1f}s  {100 * other / wall:4.0f}%  (select/search, checkpoints, scheduling)")
    print(f"peak RSS   : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0 if emitted == messages else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.messages, args.batch_size)))


if __name__ == "__main__":
    main()
