"""Timeline stage: the events a committed batch publishes, keyed by contact id.

``interaction.added`` and ``interaction.updated`` carry the interaction whole, and the batch has
already encoded it once for its timeline row; the event is that JSON spliced into the event's
envelope (byte for byte what ``TimelineEvent.model_dump_json`` writes, checked by
tests/unit/test_stages.py) instead of a second model and a second encoding of the same
interaction, which cost ~10% of the worker's CPU (benchmarks/README.md). ``contact.created`` is
spliced the same way around the contact's JSON, encoded once for the event and its snapshot on
the contacts topic (a model and two encodings per new contact were ~2% of the worker's CPU).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from pydantic import TypeAdapter

from schemas import topics
from schemas.contact import Contact
from schemas.ids import event_id_text_for
from schemas.interaction import SCHEMA_VERSION, Interaction
from schemas.timeline import TimelineEventType

_TIMESTAMP = TypeAdapter(datetime)
#: An interaction with its JSON as ``Interaction.model_dump_json`` wrote it.
Encoded = tuple[Interaction, str]


class OutboxRecord(NamedTuple):  # a tuple, so a :data:`sinks.kafka.records.Record` as it is: one per event
    topic: str
    key: bytes | None
    value: bytes | None


#: The envelope's text on either side of the encoded model, by the field that carries it (``TimelineEvent``'s
#: order: the interaction, then the contact, then the merge fields).
_AROUND: dict[Literal["interaction", "contact"], tuple[str, str]] = {
    "interaction": (',"interaction":', ',"contact":null,"merge_id":null,"related_contact_id":null}'),
    "contact": (',"interaction":null,"contact":', ',"merge_id":null,"related_contact_id":null}'),
}


def _spliced(
    kind: TimelineEventType,
    body: Literal["interaction", "contact"],
    items: list[tuple[uuid.UUID, str, tuple[str, ...]]],
) -> list[OutboxRecord]:
    """Events of one type around JSON already encoded (the ``body`` field: an interaction or a contact),
    given as (contact id, that JSON, event id parts); one clock read."""
    at = _TIMESTAMP.dump_json(datetime.now(UTC)).decode()
    name = kind.value
    middle = f'","schema_version":{SCHEMA_VERSION},"type":"{name}","contact_id":"'
    before, tail = _AROUND[body]
    after = f'","occurred_at":{at}{before}'
    return [
        OutboxRecord(
            topics.TIMELINE,
            (contact := str(cid)).encode(),
            f'{{"event_id":"{event_id_text_for(name, *parts)}{middle}{contact}{after}{document}{tail}'.encode(),
        )
        for cid, document, parts in items
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
    # A created contact is usually also a snapshot: encoded once (the later object), for event and snapshot.
    latest = {c.contact_id: c for c in (*created, *snapshots)}
    contacts = {cid: c.model_dump_json() for cid, c in latest.items()}
    records = _spliced(
        TimelineEventType.contact_created,
        "contact",
        [(c.contact_id, contacts[c.contact_id], (str(c.contact_id),)) for c in created],
    )
    first: set[uuid.UUID] = set()
    items: list[tuple[uuid.UUID, str, tuple[str, ...]]] = []
    for cid, (interaction, document) in added:
        iid = interaction.interaction_id
        items.append((cid, document, (str(iid),) if iid not in first else (str(iid), str(cid))))
        first.add(iid)
    records += _spliced(TimelineEventType.interaction_added, "interaction", items)
    records += _spliced(
        TimelineEventType.interaction_updated,
        "interaction",
        [(cid, u.model_dump_json(), (str(u.interaction_id),)) for cid, u in updated],
    )
    records += [
        OutboxRecord(topics.CONTACTS, str(c.contact_id).encode(), contacts[c.contact_id].encode()) for c in snapshots
    ]
    return records
