"""Timeline stage: the events a committed batch publishes, keyed by contact id.

``interaction.added`` and ``interaction.updated`` carry the interaction whole, and the batch has
already encoded it once for its timeline row; the event is that JSON spliced into the event's
envelope (byte for byte what ``TimelineEvent.model_dump_json`` writes, checked by
tests/unit/test_stages.py) instead of a second model and a second encoding of the same
interaction, which cost ~10% of the worker's CPU (benchmarks/README.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter

from schemas import topics
from schemas.contact import Contact
from schemas.ids import event_id_for, event_id_text_for
from schemas.interaction import SCHEMA_VERSION, Interaction
from schemas.timeline import TimelineEvent, TimelineEventType

_TIMESTAMP = TypeAdapter(datetime)
#: An interaction with its JSON as ``Interaction.model_dump_json`` wrote it.
Encoded = tuple[Interaction, str]


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


def _interaction_events(
    kind: TimelineEventType, items: list[tuple[uuid.UUID, Encoded, tuple[str, ...]]]
) -> list[OutboxRecord]:
    """The envelope's fields in the model's order around the encoded interaction (one clock read)."""
    at = _TIMESTAMP.dump_json(datetime.now(UTC)).decode()
    middle = f'","schema_version":{SCHEMA_VERSION},"type":"{kind.value}","contact_id":"'
    after = f'","occurred_at":{at},"interaction":'
    tail = ',"contact":null,"merge_id":null,"related_contact_id":null}'
    return [
        OutboxRecord(
            topics.TIMELINE,
            (contact := str(cid)).encode(),
            f'{{"event_id":"{event_id_text_for(kind.value, *parts)}{middle}{contact}{after}{document}{tail}'.encode(),
        )
        for cid, (_, document), parts in items
    ]


def build_events(
    *,
    added: list[tuple[uuid.UUID, Encoded]],
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
    items: list[tuple[uuid.UUID, Encoded, tuple[str, ...]]] = []
    for cid, encoded in added:
        iid = encoded[0].interaction_id
        items.append((cid, encoded, (str(iid),) if iid not in first else (str(iid), str(cid))))
        first.add(iid)
    records += _interaction_events(TimelineEventType.interaction_added, items)
    records += _interaction_events(
        TimelineEventType.interaction_updated,
        [(cid, (u, u.model_dump_json()), (str(u.interaction_id),)) for cid, u in updated],
    )
    records += [
        OutboxRecord(topics.CONTACTS, str(c.contact_id).encode(), c.model_dump_json().encode()) for c in snapshots
    ]
    return records
