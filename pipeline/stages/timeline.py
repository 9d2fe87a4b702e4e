"""Timeline stage: the events a committed batch publishes, keyed by contact id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import topics
from schemas.contact import Contact
from schemas.ids import event_id_for
from schemas.interaction import Interaction
from schemas.timeline import TimelineEvent, TimelineEventType


@dataclass(frozen=True)
class OutboxRecord:
    topic: str
    key: bytes | None
    value: bytes | None


def _event(kind: TimelineEventType, contact_id: uuid.UUID, *id_parts: str, **body: object) -> OutboxRecord:
    event = TimelineEvent(
        event_id=event_id_for(kind.value, *id_parts),
        type=kind,
        contact_id=contact_id,
        occurred_at=datetime.now(UTC),
        **body,  # interaction= / contact= only
    )
    return OutboxRecord(topics.TIMELINE, str(contact_id).encode(), event.model_dump_json().encode())


def build_events(
    *,
    added: list[tuple[uuid.UUID, Interaction]],
    updated: list[tuple[uuid.UUID, Interaction]],
    created: list[Contact],
    merged: list[tuple[uuid.UUID, uuid.UUID]],
    snapshots: list[Contact],
) -> list[OutboxRecord]:
    """contact.created before the interactions that reference the contact; snapshots last."""
    records = [_event(TimelineEventType.contact_created, c.contact_id, str(c.contact_id), contact=c) for c in created]
    records += [
        _event(TimelineEventType.contact_merged, survivor, str(survivor), str(loser), contact=None)
        for survivor, loser in merged
    ]
    records += [
        _event(TimelineEventType.interaction_added, cid, str(i.interaction_id), interaction=i) for cid, i in added
    ]
    records += [
        _event(TimelineEventType.interaction_updated, cid, str(u.interaction_id), interaction=u) for cid, u in updated
    ]
    records += [
        OutboxRecord(topics.CONTACTS, str(c.contact_id).encode(), c.model_dump_json().encode()) for c in snapshots
    ]
    # A merged-away contact is gone from the compacted topic: a tombstone.
    records += [OutboxRecord(topics.CONTACTS, str(loser).encode(), None) for _, loser in merged]
    return records
