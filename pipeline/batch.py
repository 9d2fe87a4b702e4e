"""One batch through the pipeline: decode, dedupe, identity, timeline write, publish.

Independent of faust so it is driven the same way by the worker, the tests and the
benchmarks. A batch either commits whole (rows, contacts, links and its outbox events in
one PostgreSQL transaction) or is retried whole; the caller acknowledges the Kafka
records only after :meth:`BatchProcessor.process` returned.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pipeline import metrics, retry
from pipeline.stages.decode import RawRecord, decode
from pipeline.stages.dedupe import RecentIds, dedupe
from pipeline.stages.identity import Owner, decide, group_by_person
from pipeline.stages.timeline import build_events
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.interaction import Interaction, InteractionKind
from sinks import contact_store, interaction_store, outbox, update_store

log = structlog.get_logger(__name__)
Conn = AsyncConnection[tuple[Any, ...]]
Publish = Callable[[Sequence[tuple[str, bytes | None, bytes | None]]], Awaitable[None]]
_UPDATES = (InteractionKind.status, InteractionKind.edit)


@dataclass(frozen=True)
class BatchResult:
    received: int
    inserted: int
    duplicates: int
    dead_lettered: int
    updated: int


class BatchProcessor:
    def __init__(self, pool: AsyncConnectionPool[Conn], publish: Publish, *, recent: RecentIds | None = None) -> None:
        self.pool = pool
        self.publish = publish
        self.recent = recent or RecentIds()

    async def process(self, records: list[RawRecord]) -> BatchResult:
        decoded = decode(records)
        if decoded.dead_letters:
            await retry.forever("dead-letter", lambda: self._dead_letter(decoded.dead_letters))
        deduped = dedupe(decoded.interactions, self.recent)
        inserted: set[uuid.UUID] = set()
        updated = 0
        if deduped.unique:
            inserted, updated = await retry.forever("timeline write", lambda: self._write(deduped.unique))
        await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))
        self.recent.remember(i.interaction_id for i in deduped.unique)
        now = time.time()
        for interaction in deduped.unique:
            if interaction.interaction_id in inserted:
                metrics.END_TO_END.observe(max(0.0, now - interaction.received_at.timestamp()))
        metrics.PROCESSED.labels("inserted").inc(len(inserted))
        metrics.PROCESSED.labels("duplicate").inc(len(decoded.interactions) - len(inserted) - updated)
        metrics.PROCESSED.labels("dead_lettered").inc(len(decoded.dead_letters))
        return BatchResult(
            received=len(records),
            inserted=len(inserted),
            duplicates=len(decoded.interactions) - len(inserted) - updated,
            dead_lettered=len(decoded.dead_letters),
            updated=updated,
        )

    async def _dead_letter(self, records: list[DeadLetter]) -> None:
        await self.publish([(topics.DEADLETTER, None, r.model_dump_json().encode()) for r in records])
        for record in records:
            log.warning(
                "pipeline.dead_lettered", reason=record.reason, partition=record.partition, offset=record.offset
            )

    async def _write(self, interactions: list[Interaction]) -> tuple[set[uuid.UUID], int]:
        messages = [i for i in interactions if i.kind not in _UPDATES]
        updates = [i for i in interactions if i.kind in _UPDATES]
        async with self.pool.connection() as conn, conn.transaction():
            people = group_by_person(messages)
            keys = {k for p in people for k in p.identifiers}
            owners = await self._owners(conn, keys)
            decisions = decide(people, owners)
            created = await contact_store.create_contacts(
                conn, [(d.contact_id, d.person.display_name) for d in decisions if d.is_new]
            )
            await contact_store.link(
                conn, [(i, d.contact_id) for d in decisions for i in d.new_links], rule="exact", source="interaction"
            )
            # Another worker may have linked some of these identifiers at the same moment:
            # re-read the owners (READ COMMITTED sees its commit) and merge where a person spans two.
            decisions = decide(people, await self._owners(conn, keys))
            merged: list[tuple[uuid.UUID, uuid.UUID]] = []
            for d in decisions:
                if d.merge_from:
                    cause = f"interaction:{d.person.interactions[0].interaction_id}"
                    losers = await contact_store.merge(conn, d.contact_id, d.merge_from, cause=cause)
                    merged += [(d.contact_id, loser) for loser in losers]
            await contact_store.name_if_unnamed(
                conn, {d.contact_id: d.person.display_name for d in decisions if d.person.display_name}
            )
            rows = [(d.contact_id, i, i.model_dump_json()) for d in decisions for i in d.person.interactions]
            inserted = await interaction_store.insert(conn, rows)
            applied = await update_store.apply(conn, updates)
            touched = created | {s for s, _ in merged} | {d.contact_id for d in decisions if d.new_links}
            snaps = await contact_store.snapshots(conn, touched)
            contact_of = {i.interaction_id: d.contact_id for d in decisions for i in d.person.interactions}
            events = build_events(
                added=[(contact_of[i.interaction_id], i) for i in messages if i.interaction_id in inserted],
                updated=applied,
                created=[s for s in snaps if s.contact_id in created],
                merged=merged,
                snapshots=snaps,
            )
            await outbox.append(conn, [(e.topic, e.key, e.value) for e in events])
        return inserted, len(applied)

    @staticmethod
    async def _owners(conn: Conn, keys: set[str]) -> dict[str, Owner]:
        return {o.key: Owner(o.contact_id, o.created_at) for o in await contact_store.owners(conn, keys)}
