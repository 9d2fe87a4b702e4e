"""How an erased person's phone and email are found in other customers' interactions: every common spelling of
the phone (national, spaced, dashed, ``00``-prefixed), never a part of another number; and every field of the
document but the structural ones."""

from __future__ import annotations

from typing import Any

import pytest

from sinks.redaction import MARK, redact, spellings

PHONE, EMAIL = "+351912345678", "alice.review@example.org"
PATTERN = spellings([("email", EMAIL), ("phone", PHONE)])


@pytest.mark.parametrize(
    "written",
    [
        "+351912345678",
        "351912345678",
        "00351912345678",
        "912345678",
        "912 345 678",
        "+351 912 345 678",
        "+351-912-345-678",
        "(+351) 912.345.678",
        "00 351 912 345 678",
        "Alice.Review@Example.org",
    ],
)
def test_every_common_spelling_is_erased_whole(written: str) -> None:
    assert PATTERN is not None
    assert PATTERN.sub(MARK, f"call me on {written}, thanks") == f"call me on {MARK}, thanks"


@pytest.mark.parametrize(
    "other",
    ["+351912345679", "1912345678", "9123456780", "912 345 6789", "order 4912345678"],
)
def test_other_numbers_and_longer_digit_runs_are_left_alone(other: str) -> None:
    assert PATTERN is not None
    assert PATTERN.sub(MARK, other) == other


def test_a_short_national_number_is_matched_only_with_its_country_code() -> None:
    niue = spellings([("phone", "+6834002")])  # 4 national digits: room numbers and prices look the same
    assert niue is not None
    assert niue.sub(MARK, "Room 4002 is free, $4002.00") == "Room 4002 is free, $4002.00"
    assert niue.sub(MARK, "call +683 4002") == f"call {MARK}"


def test_a_national_trunk_prefix_is_matched_too() -> None:
    london = spellings([("phone", "+442079460000")])
    assert london is not None
    for written in ("020 7946 0000", "+44 (0)20 7946 0000", "+44 20 7946 0000", "0044-20-7946-0000"):
        assert london.sub(MARK, written) == MARK, written


def test_every_field_but_the_structural_ones_is_scrubbed() -> None:
    document: dict[str, Any] = {
        "interaction_id": "00000000-0000-0000-0000-000000000001",
        "external_id": "<x@mail.example>",
        "sender": {
            "display_name": f"Bob (for {EMAIL})",
            "identifiers": [{"kind": "email", "value": "bob@example.org"}],
        },
        "recipients": [{"display_name": "Alice", "identifiers": [{"kind": "email", "value": EMAIL}]}],
        "attachments": [{"name": f"cv-{EMAIL}.pdf", "sha256": "ab912345678cd" + "e" * 51}],
        "contact_cards": [{"name": "Alice", "phones": ["+351 912 345 678"], "emails": [EMAIL]}],
        "location": {"latitude": 1.0, "longitude": 2.0, "address": f"ask {EMAIL}"},
        "thread_key": f"<{EMAIL}>",
        "quoted_text": "call me on 912345678",
        "metadata": {"reply_to": EMAIL},
    }
    out = redact(document, {f"email:{EMAIL}"}, PATTERN)
    assert "912" not in str({k: v for k, v in out.items() if k != "attachments"})
    assert EMAIL not in str(out).lower()
    assert out["contact_cards"] == [{"name": "Alice", "phones": [MARK], "emails": [MARK]}]
    assert out["attachments"] == [{"name": f"cv-{MARK}.pdf", "sha256": document["attachments"][0]["sha256"]}]
    assert out["recipients"] == [{"display_name": None, "identifiers": []}]
    assert out["sender"]["identifiers"] == document["sender"]["identifiers"]
    assert (out["interaction_id"], out["external_id"]) == (document["interaction_id"], document["external_id"])
