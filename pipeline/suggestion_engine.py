"""The suggestions agent's work, independent of Kafka: timeline events in, suggestions out.

``handle`` takes a batch of timeline events: it records the interactions (reduced to what the
rules need), re-evaluates every contact the batch touched, and stores the resulting changes
with their ``omnitrail.suggestions.v1`` records in the transactional outbox, all in one
transaction; then it drains the outbox. ``tick`` is the periodic evaluation: contacts whose
scheduled check is due by the injected clock, contacts whose objection to profiling must close
profiling suggestions, and the open identity reviews. Replaying events or ticks is harmless:
evaluation reconciles to a desired state and suggestion ids are deterministic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import structlog
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from pipeline import retry
from pipeline.event_digest import EventDigest
from pipeline.stages.decode import dead_letter
from pipeline.stages.suggestion_changes import Review, desired_for_contact, desired_for_reviews, reconcile
from pipeline.stages.suggestion_rules import Activity, Policy, closing, evaluate
from schemas import topics
from schemas.interaction import Channel, Direction, InteractionKind
from schemas.interaction_input import validation_reason
from schemas.suggestion import Suggestion, SuggestionRule, SuggestionStatus
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import consent, outbox, person
from sinks import suggestion_store as store
from sinks.connection import Conn
from sinks.kafka.records import Publish, RawRecord

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
_RECORDED = (InteractionKind.message, InteractionKind.call)
_TIMELINE_RULES = [r.value for r in SuggestionRule if r is not SuggestionRule.merge_review]
_REEVALUATE = (
    TimelineEventType.interaction_added,
    TimelineEventType.contact_merged,
    TimelineEventType.contact_unmerged,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _activity(row: store.ActivityRow) -> Activity:
    return Activity(
        row.interaction_id,
        Channel(row.channel),
        Direction(row.direction),
        InteractionKind(row.kind),
        row.occurred_at,
        row.thread_hash,
    )


class SuggestionEngine:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        publish: Publish,
        policy: Policy,
        *,
        clock: Clock = _utc_now,
        history_limit: int = 1000,
        due_batch: int = 500,
    ) -> None:
        self.pool = pool
        self.publish = publish
        self.policy = policy
        self.clock = clock
        self.history_limit = history_limit
        self.due_batch = due_batch

    async def handle_records(self, records: Sequence[RawRecord]) -> list[Suggestion]:
        """Raw timeline records: the undecodable ones go to the dead-letter topic, the rest are handled."""
        events: list[EventDigest] = []
        refused = []
        now = datetime.now(UTC)
        for record in records:
            try:
                events.append(EventDigest.model_validate_json(record.value or b""))
            except ValidationError as exc:
                reason = validation_reason(exc, what="invalid timeline event")
                refused.append(dead_letter(record, reason, source="pipeline.suggestions", now=now))
                log.warning(
                    "suggestions.dead_lettered", reason=reason, partition=record.partition, offset=record.offset
                )
        if refused:
            dead = [(topics.DEADLETTER, None, d.model_dump_json().encode()) for d in refused]
            await retry.forever("dead-letter", lambda: self.publish(dead))
        return await self.handle(events)

    async def handle(self, events: Iterable[TimelineEvent | EventDigest]) -> list[Suggestion]:
        rows: list[store.ActivityRow] = []
        touched: set[uuid.UUID] = set()
        erased: set[uuid.UUID] = set()
        unmerged: set[uuid.UUID] = set()
        for event in events:
            if event.type is TimelineEventType.contact_erased:
                erased.add(event.contact_id)
            elif event.type in _REEVALUATE:
                touched.add(event.contact_id)
            if event.type is TimelineEventType.contact_unmerged:
                unmerged |= {event.contact_id, *([event.contact.contact_id] if event.contact else [])}
            i = event.interaction
            if (
                event.type is TimelineEventType.interaction_added
                and i is not None
                and i.kind in _RECORDED
                and not (i.direction is Direction.inbound and closing(i.text))  # a closing "thanks" asks for nothing
            ):
                rows.append(
                    store.ActivityRow(
                        i.interaction_id,
                        event.contact_id,
                        i.channel.value,
                        i.direction.value,
                        i.kind.value,
                        i.occurred_at,
                        store.thread_hash(i.thread_key),
                    )
                )

        async def apply() -> list[Suggestion]:
            async with self.pool.connection() as conn, conn.transaction():
                await store.record_activity(conn, rows)
                changes = await self._erase(conn, erased)
                # An unmerge gives interactions back to the restored contact: follow the timeline's
                # own record of who owns each one, and evaluate both sides.
                changes += await self._evaluate(conn, (touched | await self._unmerged(conn, unmerged)) - erased)
                await self._stage(conn, changes)
                return changes

        changes = await retry.forever("suggestions", apply)
        await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))
        return changes

    async def tick(self) -> list[Suggestion]:
        """Periodic evaluation: due contacts, objections to profiling, identity reviews."""

        async def apply() -> list[Suggestion]:
            async with self.pool.connection() as conn, conn.transaction():
                now = self.clock()
                due = set(await store.due(conn, now, limit=self.due_batch))
                profiled = await store.with_open_profiling(conn)
                due |= await consent.objecting(conn, profiled, consent.PROFILING)
                changes = await self._evaluate(conn, due)
                changes += await self._sync_reviews(conn, now)
                await self._stage(conn, changes)
                return changes

        changes = await retry.forever("suggestions tick", apply)
        await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))
        return changes

    async def _evaluate(self, conn: Conn, contact_ids: set[uuid.UUID]) -> list[Suggestion]:
        """Re-evaluate the survivors of these contacts: a fixed number of queries per batch.

        One reconciliation over all of them, so a suggestion that changes contact (merge,
        unmerge) is one move, not a close on one side and an open on the other."""
        if not contact_ids:
            return []
        now = self.clock()
        targets = sorted(set((await person.survivors(conn, contact_ids)).values()))
        await store.lock(conn, targets)
        member_of = await person.members(conn, targets)
        objecting = await consent.objecting(conn, targets, consent.PROFILING)
        objecting_members = {m for m, s in member_of.items() if s in objecting}
        histories = await store.history(conn, member_of, limit=self.history_limit)
        current = {s.suggestion_id: s for s in await store.open_suggestions(conn, member_of, rules=_TIMELINE_RULES)}
        desired = {}
        next_checks: dict[uuid.UUID, datetime | None] = {}
        for survivor in targets:
            activity = [_activity(r) for r in histories[survivor]]
            evaluation = evaluate(activity, now, self.policy, profiling_allowed=survivor not in objecting)
            desired.update(desired_for_contact(survivor, evaluation))
            next_checks[survivor] = evaluation.next_check
        changes = reconcile(current, desired, now, objecting=objecting_members)
        await store.save(conn, changes)
        await store.schedule(conn, next_checks, forget=[m for m, s in member_of.items() if m != s])
        return changes

    @staticmethod
    async def _unmerged(conn: Conn, contact_ids: set[uuid.UUID]) -> set[uuid.UUID]:
        """Both sides of an unmerge and whoever now owns the evidence of their open suggestions."""
        if not contact_ids:
            return set()
        involved = await person.members_of(conn, contact_ids)
        return involved | await store.follow_owners(conn, involved) | await store.evidence_owners(conn, involved)

    async def _sync_reviews(self, conn: Conn, now: datetime) -> list[Suggestion]:
        await store.lock_reviews(conn)
        reviews = [Review(*row) for row in await store.open_reviews(conn)]
        current = {s.suggestion_id: s for s in await store.open_by_rule(conn, SuggestionRule.merge_review.value)}
        changed = reconcile(current, desired_for_reviews(reviews), now)
        await store.save(conn, changed)
        return changed

    async def _erase(self, conn: Conn, contact_ids: set[uuid.UUID]) -> list[Suggestion]:
        """Close (publish) what was open for an erased contact, then keep nothing about it."""
        changes: list[Suggestion] = []
        now = self.clock()
        for contact_id in sorted(contact_ids):
            current = await store.open_suggestions(conn, [contact_id], rules=[r.value for r in SuggestionRule])
            changes += [
                s.model_copy(
                    update={"status": SuggestionStatus.closed, "closed_at": now, "close_reason": "contact erased"}
                )
                for s in current
            ]
            await store.forget(conn, contact_id)
        return changes

    @staticmethod
    async def _stage(conn: Conn, changes: list[Suggestion]) -> None:
        await outbox.append(
            conn,
            [(topics.SUGGESTIONS, str(s.contact_id).encode(), s.model_dump_json().encode()) for s in changes],
        )
        if changes:  # counts only: which contact and why stay out of the logs
            opened = sum(s.status is SuggestionStatus.open for s in changes)
            log.info("suggestions.changed", opened_or_moved=opened, closed=len(changes) - opened)
