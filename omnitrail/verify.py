"""``omnitrail verify --since --until``: reconcile what the connectors produced with the timeline.

Expected: every interaction on ``omnitrail.interactions.v1`` received in ``[since, until)`` that
makes a timeline row (messages, calls, notes; status callbacks and edits update a row instead).
Found: the ``interactions`` rows with those ids. Every expected id without a row is explained if
it can be (erased by a GDPR erasure, or dead-lettered by the pipeline with its partition/offset)
and is a **gap** otherwise. **Duplicates** are timeline rows for the same provider message (channel,
account, external id) under different ids: the deterministic id should make that impossible.
Redeliveries (the same id several times on the topic) are normal and only counted.
Prints ids and counts, never content.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.interaction import ROWLESS_KINDS, Interaction
from sinks.connection import Conn
from sinks.kafka import reader
from sinks.kafka.settings import KafkaSettings


@dataclass
class Report:
    produced_records: int = 0
    expected: int = 0
    stored: int = 0
    redelivered: int = 0
    undecodable: int = 0
    erased: int = 0
    dead_lettered: int = 0
    gaps: list[uuid.UUID] = field(default_factory=list)
    duplicates: list[tuple[str, str, str, int]] = field(default_factory=list)
    #: Timeline rows received in the range whose records the topic no longer holds: nothing to check them by.
    gone_from_topic: int = 0

    @property
    def ok(self) -> bool:
        return not self.gaps and not self.duplicates and not self.gone_from_topic

    def lines(self) -> list[str]:
        out = [
            f"produced records in range: {self.produced_records} ({self.redelivered} redeliveries, "
            f"{self.undecodable} undecodable: dead-lettered by the decode stage)",
            f"expected timeline rows: {self.expected}; stored: {self.stored}; "
            f"erased: {self.erased}; dead-lettered by a stage: {self.dead_lettered}",
            f"gaps: {len(self.gaps)}; duplicates: {len(self.duplicates)}",
        ]
        if self.gone_from_topic:
            out.append(
                f"cannot verify: {self.gone_from_topic} timeline row(s) received in this range are no longer on "
                f"{topics.INTERACTIONS} (the embedded broker keeps topics in memory and loses them when omnitrail up "
                "stops; Kafka deletes records older than the topic's retention)"
            )
        out += [f"gap: interaction {i}" for i in self.gaps[:100]]
        out += [f"duplicate: {c} {a} {e}: {n} rows" for c, a, e, n in self.duplicates[:100]]
        return out


async def verify(conn: Conn, settings: KafkaSettings, bootstrap: str, *, since: datetime, until: datetime) -> Report:
    report = Report()
    expected: dict[uuid.UUID, tuple[int, int]] = {}  # id -> (partition, offset) of its first copy
    seen: Counter[uuid.UUID] = Counter()
    # From the beginning, filtered by each interaction's own received_at: a spooled event is produced
    # after the range it belongs to, so the broker's timestamps cannot delimit it.
    async for m in reader.messages(settings, bootstrap, topics.INTERACTIONS):
        try:
            interaction = Interaction.model_validate_json(m.value or b"")
        except ValidationError:
            report.undecodable += 1
            continue
        if not since <= interaction.received_at < until:
            continue
        report.produced_records += 1
        seen[interaction.interaction_id] += 1
        if interaction.kind not in ROWLESS_KINDS:
            expected.setdefault(interaction.interaction_id, (m.partition, m.offset))
    report.redelivered = sum(n - 1 for n in seen.values())
    report.expected = len(expected)
    ids = list(expected)
    stored = await _ids(conn, "SELECT interaction_id FROM interactions WHERE interaction_id = ANY(%b)", ids)
    erased = await _ids(conn, "SELECT interaction_id FROM erased_interactions WHERE interaction_id = ANY(%b)", ids)
    report.stored, report.erased = len(stored), len(erased - stored)
    missing = {i: expected[i] for i in ids if i not in stored and i not in erased}
    if missing:
        lettered = await _dead_lettered_positions(settings, bootstrap)
        report.dead_lettered = sum(1 for pos in missing.values() if pos in lettered)
        report.gaps = sorted(i for i, pos in missing.items() if pos not in lettered)
    cur = await conn.execute(
        """
        SELECT channel, document->>'account', document->>'external_id', count(*)
          FROM interactions
         WHERE received_at >= %s AND received_at < %s
         GROUP BY 1, 2, 3 HAVING count(*) > 1
        """,
        (since, until),
    )
    report.duplicates = [(str(c), str(a), str(e), int(n)) for c, a, e, n in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT count(*) FROM interactions WHERE received_at >= %s AND received_at < %s", (since, until)
    )
    row = await cur.fetchone()
    report.gone_from_topic = max(0, int(row[0] if row else 0) - report.stored)
    return report


async def _ids(conn: Conn, sql: str, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    cur = await conn.execute(sql.encode(), (ids,))
    return {row[0] for row in await cur.fetchall()}


async def _dead_lettered_positions(settings: KafkaSettings, bootstrap: str) -> set[tuple[int, int]]:
    """(partition, offset) on the interactions topic of every record a pipeline stage dead-lettered."""
    positions: set[tuple[int, int]] = set()
    async for m in reader.messages(settings, bootstrap, topics.DEADLETTER):
        try:
            letter = DeadLetter.model_validate_json(m.value or b"")
        except ValidationError:
            continue
        if letter.topic == topics.INTERACTIONS and letter.partition is not None and letter.offset is not None:
            positions.add((letter.partition, letter.offset))
    return positions
