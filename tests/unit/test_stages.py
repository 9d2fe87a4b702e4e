from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pipeline.stages.decode import RawRecord, decode
from pipeline.stages.dedupe import RecentIds, dedupe
from pipeline.stages.identity import Owner, decide, group_by_person
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import contact_id_for
from schemas.interaction import Party
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


def test_interactions_sharing_an_identifier_in_one_batch_are_one_person() -> None:
    sms = sms_interaction(1, "+351911111111")
    email_and_phone = sms_interaction(2, "+351911111111").model_copy(
        update={
            "sender": Party(
                identifiers=[
                    Identifier(kind=IdentifierKind.email, value="ana@x.pt"),
                    Identifier(kind=IdentifierKind.phone, value="+351911111111"),
                ]
            )
        }
    )
    email_only = sms_interaction(3, "+351933333333").model_copy(
        update={"sender": Party(identifiers=[Identifier(kind=IdentifierKind.email, value="ana@x.pt")])}
    )
    other = sms_interaction(4, "+351944444444")
    people = group_by_person([sms, email_only, other, email_and_phone])
    assert sorted(len(p.interactions) for p in people) == [1, 3]


def test_new_person_gets_a_deterministic_contact_and_oldest_existing_contact_survives() -> None:
    [person] = group_by_person([sms_interaction(1, "+351911111111")])
    [fresh] = decide([person], {})
    assert fresh.is_new
    assert fresh.contact_id == contact_id_for("phone:+351911111111")

    both = sms_interaction(2, "+351911111111").model_copy(
        update={
            "sender": Party(
                identifiers=[
                    Identifier(kind=IdentifierKind.phone, value="+351911111111"),
                    Identifier(kind=IdentifierKind.email, value="ana@x.pt"),
                    Identifier(kind=IdentifierKind.telegram, value="4242"),
                ]
            )
        }
    )
    old, young = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    owners = {"phone:+351911111111": Owner(young, t0 + timedelta(days=1)), "email:ana@x.pt": Owner(old, t0)}
    [decision] = decide(group_by_person([both]), owners)
    assert decision.contact_id == old
    assert not decision.is_new
    assert decision.merge_from == [young]
    assert [i.key for i in decision.new_links] == ["telegram:4242"]


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
