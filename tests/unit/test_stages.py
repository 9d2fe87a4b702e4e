from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pipeline.stages.decode import decode
from pipeline.stages.dedupe import RecentIds, dedupe
from pipeline.stages.timeline import build_events
from schemas import topics
from schemas.contact import Contact
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import event_id_for
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks.kafka.records import RawRecord
from tests.helpers import sms_interaction


def test_dedupe_drops_copies_in_the_batch_and_recently_committed_ids() -> None:
    a, b = sms_interaction(1, "+351911111111"), sms_interaction(2, "+351922222222")
    recent = RecentIds(capacity=10)
    result = dedupe([a, b, a, a], recent)
    assert [i.external_id for i in result.unique] == [a.external_id, b.external_id]
    assert result.duplicates == 2
    recent.remember([a.interaction_id])
    assert [i.external_id for i in dedupe([a, b], recent).unique] == [b.external_id]


def test_recent_ids_stay_bounded() -> None:
    recent = RecentIds(capacity=3)
    recent.remember(uuid.uuid4() for _ in range(10))
    assert len(recent) == 3


def test_poison_records_become_dead_letters_with_partition_and_offset() -> None:
    good = sms_interaction(1, "+351911111111").model_dump_json().encode()
    decoded = decode(
        [
            RawRecord(good, "t", 0, 10),
            RawRecord(b"{not json", "t", 0, 11),
            RawRecord(b'{"interaction_id": "x"}', "t", 1, 12),
            RawRecord(None, "t", 1, 13),
        ]
    )
    assert len(decoded.interactions) == 1
    assert [(d.partition, d.offset) for d in decoded.dead_letters] == [(0, 11), (1, 12), (1, 13)]
    assert decoded.dead_letters[0].raw == b"{not json"
    assert "interaction_id" in decoded.dead_letters[1].reason


def test_interaction_events_are_what_the_event_model_would_write() -> None:
    """The spliced envelope must stay byte-compatible with ``TimelineEvent`` for every consumer."""
    first, second = uuid.uuid4(), uuid.uuid4()
    interaction = sms_interaction(1, "+351911111111", text='a "quoted" café\n')
    status = sms_interaction(2, "+351922222222")  # what an applied status update publishes
    encoded = (interaction, interaction.model_dump_json())
    records = build_events(
        added=[(first, encoded), (second, encoded)], updated=[(first, status)], created=[], snapshots=[]
    )
    assert [r.key for r in records] == [str(first).encode(), str(second).encode(), str(first).encode()]
    events = [TimelineEvent.model_validate_json(r.value or b"") for r in records]
    for record, event in zip(records, events, strict=True):
        assert record.value == event.model_dump_json().encode()  # field for field, byte for byte
    assert [e.type for e in events] == [
        TimelineEventType.interaction_added,
        TimelineEventType.interaction_added,
        TimelineEventType.interaction_updated,
    ]
    assert events[0].interaction == interaction
    assert events[2].interaction == status
    # The first contact keeps the event id a replay computes; the second's id names its contact.
    assert events[0].event_id == event_id_for("interaction.added", str(interaction.interaction_id))
    assert events[1].event_id == event_id_for("interaction.added", str(interaction.interaction_id), str(second))


def test_contact_events_are_what_the_models_would_write() -> None:
    """contact.created is spliced around the contact's JSON, which its snapshot on the contacts topic reuses."""
    now = datetime.now(UTC)
    phone = Identifier(kind=IdentifierKind.phone, value="+351911111111")
    born = Contact(
        contact_id=uuid.uuid4(), display_name='Ana "Nené"', identifiers=[phone], created_at=now, updated_at=now
    )
    other = Contact(contact_id=uuid.uuid4(), created_at=now, updated_at=now, attributes={"vip": True, "score": 1.5})
    records = build_events(added=[], updated=[], created=[born], snapshots=[born, other])
    assert [(r.topic, r.key) for r in records] == [
        (topics.TIMELINE, str(born.contact_id).encode()),
        (topics.CONTACTS, str(born.contact_id).encode()),
        (topics.CONTACTS, str(other.contact_id).encode()),
    ]
    event = TimelineEvent.model_validate_json(records[0].value or b"")
    assert records[0].value == event.model_dump_json().encode()  # field for field, byte for byte
    assert event.type is TimelineEventType.contact_created
    assert (event.contact_id, event.contact) == (born.contact_id, born)
    assert event.event_id == event_id_for("contact.created", str(born.contact_id))
    assert [r.value for r in records[1:]] == [born.model_dump_json().encode(), other.model_dump_json().encode()]
