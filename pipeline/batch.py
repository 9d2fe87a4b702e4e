"""One batch through the pipeline: decode, dedupe, identity, timeline write, publish.

Independent of Kafka so it is driven the same way by the worker, the tests and the
benchmarks. A batch either commits whole (rows, contacts, links and its outbox events in
one PostgreSQL transaction) or is retried whole; the caller acknowledges the Kafka
records only after :meth:`BatchProcessor.process` returned.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import structlog
from psycopg_pool import AsyncConnectionPool

from pipeline import erasure_fence, metrics, resolver, retry, reviews
from pipeline.erasure_fence import Replays
from pipeline.erasure_guard import ErasureGuard
from pipeline.stages.decode import decode
from pipeline.stages.dedupe import RecentIds, dedupe
from pipeline.stages.identity import Person, claims_of
from pipeline.stages.policy import Policy
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.identifiers import unverified_in
from schemas.interaction import ROWLESS_KINDS, Channel, Direction, Interaction, InteractionKind
from sinks import contact_store, interaction_store, outbox, update_store
from sinks.connection import Conn
from sinks.kafka.records import Publish, RawRecord

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BatchResult:
    received: int
    inserted: int
    duplicates: int
    dead_lettered: int
    updated: int


class BatchProcessor:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        publish: Publish,
        *,
        recent: RecentIds | None = None,
        policy: Policy | None = None,
        guard: ErasureGuard | None = None,
    ) -> None:
        self.pool = pool
        self.policy = policy or Policy()
        self.publish = publish
        self.recent = recent or RecentIds()
        self.guard = guard
        self._draining = asyncio.Lock()

    async def process(self, records: list[RawRecord]) -> BatchResult:
        decoded = decode(records)
        if decoded.dead_letters:
            await retry.forever("dead-letter", lambda: self._dead_letter(decoded.dead_letters))
        deduped = dedupe(decoded.interactions, self.recent)
        inserted: set[uuid.UUID] = set()
        updated = 0
        erased: set[uuid.UUID] = set()
        if deduped.unique:
            inserted, updated, erased = await retry.forever("timeline write", lambda: self._write(deduped.unique))
            if erased:  # replays of erased people's past, dropped
                deduped.unique[:] = [i for i in deduped.unique if i.interaction_id not in erased]
                log.info("pipeline.erased_replay_dropped", count=len(erased))
        async with self._draining:  # one drainer per process: what it publishes goes out in commit order
            await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))
        self.recent.remember(i.interaction_id for i in deduped.unique)
        now = time.time()
        for interaction in deduped.unique:
            if interaction.interaction_id in inserted:
                metrics.END_TO_END.observe(max(0.0, now - interaction.received_at.timestamp()))
        metrics.count_batch(decoded.interactions, inserted, len(decoded.dead_letters), erased)
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

    async def _write(self, interactions: list[Interaction]) -> tuple[set[uuid.UUID], int, set[uuid.UUID]]:
        """Write the batch; (ids inserted, updates and notices applied, replays of erased people's past dropped).

        The guard finds the replays inside the write transaction (:mod:`pipeline.erasure_fence`): when it
        does, that transaction is rolled back and the rest of the batch written in a new one."""
        dropped: set[uuid.UUID] = set()
        while interactions:
            try:
                inserted, updated = await self._transaction(interactions)
            except Replays as replays:
                dropped |= replays.ids
                interactions = [i for i in interactions if i.interaction_id not in replays.ids]
            else:
                return inserted, updated, dropped
        return set(), 0, dropped

    async def _transaction(self, interactions: list[Interaction]) -> tuple[set[uuid.UUID], int]:
        # Identity notices (a number change) are resolved with the messages but add no row: their claims
        # come after the messages', so a claim's ref below len(messages) is a message.
        messages: list[Interaction] = []
        updates: list[Interaction] = []
        notices: list[Interaction] = []
        for i in interactions:  # one pass, one set lookup each (an enum member's hash is a Python call)
            kind = i.kind
            if kind not in ROWLESS_KINDS:
                messages.append(i)
            else:
                (notices if kind is InteractionKind.identity else updates).append(i)
        async with self.pool.connection() as conn, conn.transaction():
            claimed = messages + notices
            claims = claims_of(claimed, self.policy)

            def cause(person: Person) -> str:
                return f"interaction:{claimed[person.claims[0].ref].interaction_id}"

            found = await resolver.resolve(conn, claims, self.policy, source="interaction", cause=cause)
            await erasure_fence.check(conn, found, interactions, self.guard)  # before anything lands on a contact
            documents = [i.model_dump_json() for i in messages]  # encoded once: the row and its event
            rows = [(found.attached[n][0], i, documents[n]) for n, i in enumerate(messages)]
            inserted = await interaction_store.insert(conn, rows)
            # (n, message, its contacts) of the rows that are new: one id lookup per message, not one per use.
            landed = [(n, i, found.attached[n]) for n, i in enumerate(messages) if i.interaction_id in inserted]
            await interaction_store.attach(
                conn,
                [(i.interaction_id, c, i) for _, i, homes in landed for c in homes[1:]],  # [0]: the row's contact_id
            )
            emails = [
                (found.survivor(homes[0]), i.text)
                for _, i, homes in landed
                if i.text and i.channel is Channel.email and i.direction is Direction.inbound
            ]
            unverified = [
                (found.survivor(homes[0]), identifier)
                for _, i, homes in landed
                if i.metadata
                for identifier in unverified_in(i.metadata)
            ]
            await reviews.propose(conn, found, self.policy, emails=emails, unverified=unverified)
            # Parked updates whose target just landed are applied in this same transaction.
            applied = await update_store.apply(conn, updates, landed=inserted)
            snaps = {s.contact_id: s for s in await contact_store.snapshots(conn, found.changed)}
            added = []
            survivor = found.survivor
            for n, interaction, homes in landed:
                if len(homes) == 1:  # one customer: most interactions
                    added.append((survivor(homes[0]), (interaction, documents[n])))
                else:
                    live = dict.fromkeys(survivor(c) for c in homes)  # ordered, distinct
                    added += [(contact, (interaction, documents[n])) for contact in live]
            records = resolver.events(found, snaps, added=added, updated=applied.changed)
            await outbox.append(conn, records)
        return inserted, applied.from_batch + len(notices)
