"""Which interactions the erasure guard drops: replays of an erased person's past, not their future."""

from __future__ import annotations

from datetime import timedelta

from pipeline.stages.erasure import identifier_hashes, replayed_erased
from sinks.erasure import IdentifierHasher
from tests.helpers import sms_interaction


def test_drops_what_predates_the_erasure_or_was_erased_and_keeps_the_rest() -> None:
    hasher = IdentifierHasher(b"unit-test-key-0123456789")
    erased_phone, other_phone = "+351911111111", "+351922222222"
    old = sms_interaction(1, erased_phone)
    erased_at = old.occurred_at + timedelta(minutes=5)
    retried = sms_interaction(2, erased_phone).model_copy(update={"occurred_at": erased_at + timedelta(hours=1)})
    returning = sms_interaction(3, erased_phone).model_copy(update={"occurred_at": erased_at + timedelta(days=1)})
    stranger = sms_interaction(4, other_phone)
    batch = [old, retried, returning, stranger]
    hashes = identifier_hashes(batch, hasher)
    erased = {hasher(f"phone:{erased_phone}"): erased_at}
    dropped = replayed_erased(batch, hashes, erased, erased_rows={retried.interaction_id})
    assert dropped == {old.interaction_id, retried.interaction_id}


def test_hash_is_keyed() -> None:
    assert IdentifierHasher(b"a" * 16)("phone:+351911111111") != IdentifierHasher(b"b" * 16)("phone:+351911111111")
