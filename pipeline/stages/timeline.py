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
    snapshots: list[Contact],
) -> list[OutboxRecord]:
    """contact.created first (merge events go right after them, see :mod:`sinks.merges`), then the
    interactions that reference the contacts; snapshots last.

    An interaction with several customers is added to each one's timeline; the first keeps the
    event id it always had, the others' ids also name their contact.
    """
    records = [_event(TimelineEventType.contact_created, c.contact_id, str(c.contact_id), contact=c) for c in created]
    first: set[uuid.UUID] = set()
    for cid, i in added:
        parts = (str(i.interaction_id),) if i.interaction_id not in first else (str(i.interaction_id), str(cid))
        first.add(i.interaction_id)
        records.append(_event(TimelineEventType.interaction_added, cid, *parts, interaction=i))
    records += [
        _event(TimelineEventType.interaction_updated, cid, str(u.interaction_id), interaction=u) for cid, u in updated
    ]
    records += [
        OutboxRecord(topics.CONTACTS, str(c.contact_id).encode(), c.model_dump_json().encode()) for c in snapshots
    ]
    return records
