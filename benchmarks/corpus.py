"""The benchmark corpus and the world it lands in: seeded interactions, a broker, a database.

Every pipeline in a run reads the same serialized records. ``received_at`` (the connector's
stamp) is written as a placeholder and replaced by the real time when the record is produced, so
"received_at -> stored_at" is the latency a connector would see, whatever pipeline consumes it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from sinks import migrate, scratch_database
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings

ACCOUNT = "+351210000000"
#: Serialized in place of received_at; replaced by the produce time (same length, so no re-encoding).
STAMP_PLACEHOLDER = "1999-01-01T00:00:00.000001Z"
WORDS = ["olá", "encomenda", "entrega", "fatura", "obrigado", "pedido", "ajuda", "reembolso", "morada", "cliente"]


@dataclass(frozen=True)
class Corpus:
    records: list[tuple[bytes, bytes]]  # (key, value with the placeholder stamp)
    unique: int
    known_phones: list[str]  # owned by pre-existing contacts
    avg_bytes: float


def build(n: int, seed: int, *, known_contacts: int = 10_000, known_share: float = 0.6) -> Corpus:
    """n records: 10% exact redeliveries; ``known_share`` of senders own a pre-existing contact."""
    rng = random.Random(seed)
    known = [f"+35191{k}" for k in rng.sample(range(10**6, 10**7), known_contacts)]
    new = [f"+35196{k}" for k in rng.sample(range(10**6, 10**7), known_contacts // 2)]
    channels = [Channel.sms, Channel.whatsapp, Channel.mms]
    placeholder = datetime(1999, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    unique = int(n * 0.9)
    items: list[tuple[bytes, bytes]] = []
    for k in range(unique):
        phone = rng.choice(known) if rng.random() < known_share else rng.choice(new)
        interaction = Interaction.build(
            channel=rng.choice(channels),
            provider=Provider.twilio,
            account=ACCOUNT,
            direction=Direction.inbound,
            occurred_at=datetime.fromtimestamp(1_790_000_000 + k, UTC),
            received_at=placeholder,
            external_id=f"SMB{seed}-{k:08d}",
            sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=phone)]),
            recipients=[Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=ACCOUNT)])],
            text=" ".join(rng.choice(WORDS) for _ in range(70)),
        )
        value = interaction.model_dump_json().encode()
        assert STAMP_PLACEHOLDER.encode() in value, "the placeholder must be serialized as expected"
        items.append((interaction.routing_key(), value))
    items += [rng.choice(items[:unique]) for _ in range(n - unique)]  # exact redeliveries
    rng.shuffle(items)
    avg = sum(len(v) for _, v in items) / len(items)
    return Corpus(items, unique, known, avg)


def stamp(value: bytes, now: float | None = None) -> bytes:
    """The record with received_at set to ``now`` (the connector's stamp at produce time)."""
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.replace(STAMP_PLACEHOLDER.encode(), at.encode(), 1)


async def produce(bootstrap: str, records: list[tuple[bytes, bytes]], *, topic: str = topics.INTERACTIONS) -> float:
    """Produce as fast as the broker acknowledges (acks=all, 5 ms linger); return records/s."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576)
    await producer.start()
    started = time.perf_counter()
    try:
        for key, value in records:
            await producer.send(topic, stamp(value), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records) / (time.perf_counter() - started)


async def produce_at_rate(bootstrap: str, records: list[tuple[bytes, bytes]], rate: float) -> float:
    """Offer ``rate`` records/s in 10 ms ticks, each stamped when sent; return the achieved rate."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=1_048_576)
    await producer.start()
    started = time.perf_counter()
    sent = 0
    try:
        while sent < len(records):
            due = min(len(records), int((time.perf_counter() - started) * rate) + 1)
            for key, value in records[sent:due]:
                await producer.send(topics.INTERACTIONS, stamp(value), key=key)
            sent = due
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records) / (time.perf_counter() - started)


def seed_contacts(url: str, phones: list[str]) -> None:
    """Pre-existing contacts, one per phone, as an import would have left them."""
    rows = [(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{p}"), p) for p in phones]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY contacts (contact_id, display_name) FROM STDIN") as copy:
            for cid, _ in rows:
                copy.write_row((cid, None))
        with cur.copy("COPY contact_identifiers (kind, value, contact_id, rule, source) FROM STDIN") as copy:
            for cid, phone in rows:
                copy.write_row(("phone", phone, cid, "exact", "import"))


class Databases:
    """A migrated, seeded template and cheap clones of it (CREATE DATABASE ... TEMPLATE), all dropped at the end."""

    def __init__(self, known_phones: list[str]) -> None:
        self.prefix = f"omnitrail_bench_{uuid.uuid4().hex[:8]}"
        self.template = self.prefix + "_t"
        self.created: list[str] = []
        template = scratch_database.create(self.template)
        self.created.append(self.template)
        asyncio.run(migrate.migrate(template))
        seed_contacts(template, known_phones)
        # Creating the ceiling's table in the template keeps its clone as cheap as the others.
        with psycopg.connect(template, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE ceiling_rows (interaction_id uuid, channel text, occurred_at timestamptz,"
                " received_at timestamptz, document jsonb, stored_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            # The timeline table's shape (its columns, the generated full-text column, the timeline and
            # search indexes), without its keys: a reference for what storing these rows costs there.
            conn.execute(
                "CREATE TABLE ceiling_timeline_rows (LIKE interactions INCLUDING DEFAULTS INCLUDING GENERATED)"
            )
            conn.execute("CREATE INDEX ON ceiling_timeline_rows (contact_id, occurred_at DESC, interaction_id DESC)")
            conn.execute("CREATE INDEX ON ceiling_timeline_rows USING gin (search)")

    def clone(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        url = scratch_database.create(name, template=self.template)
        self.created.append(name)
        return url

    def drop_all(self) -> None:
        for name in reversed(self.created):
            scratch_database.drop(name)


@contextmanager
def broker(partitions: int = 4) -> Iterator[str]:
    """A private in-memory tansu with the pipeline's topics; a fresh one per run keeps consumer groups apart."""
    embedded = EmbeddedBroker()
    embedded.start()
    try:
        asyncio.run(clients.create_topics(KafkaSettings(partitions=partitions), embedded.bootstrap))
        yield embedded.bootstrap
    finally:
        embedded.stop()


async def create_topic(bootstrap: str, name: str, partitions: int = 4) -> None:
    await clients.create_topics(KafkaSettings(), bootstrap, [NewTopic(name, partitions, 1)])
