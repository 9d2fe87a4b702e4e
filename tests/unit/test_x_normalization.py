"""X Account Activity API: CRC answer, signature, direct messages in and out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors import signing
from connectors.webhook import Normalized, RawRequest
from connectors.x import XConnector, XSettings
from connectors.x.connector import CRC_TOKEN
from schemas.errors import InvalidSignature
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Direction
from tests.channel_payloads import X_ACCOUNT_ID, X_CONSUMER_SECRET, x_dm, x_payload, x_signed, x_user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONNECTOR = XConnector(XSettings(consumer_secret=SecretStr(X_CONSUMER_SECRET)), default_region="PT")
USERS = {
    "3001969357": x_user("3001969357", "FuriousCamper", "Jordan Brinks"),
    X_ACCOUNT_ID: x_user(X_ACCOUNT_ID, "OurShop", "Our Shop"),
}


def normalize(payload: dict[str, object]) -> Normalized:
    body, headers = x_signed(payload)
    request = RawRequest(body=body, headers=headers, public_url="http://x/webhooks/x", received_at=NOW)
    CONNECTOR.verify(request)
    return CONNECTOR.normalize(request)


def test_signature_is_checked_before_parsing() -> None:
    body, headers = x_signed(x_payload(users=USERS), secret="not-ours")
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify(RawRequest(body=body, headers=headers, public_url="u", received_at=NOW))


def test_crc_response_token_is_the_base64_hmac_of_the_token() -> None:
    expected = base64.b64encode(hmac.new(X_CONSUMER_SECRET.encode(), b"abc123", hashlib.sha256).digest()).decode()

    assert signing.sha256_base64(X_CONSUMER_SECRET, "abc123") == "sha256=" + expected


def test_incoming_dm_is_from_the_user_with_id_and_screen_name() -> None:
    [i] = normalize(x_payload(x_dm("954491830116155396", "3001969357", X_ACCOUNT_ID, "Olá!"), users=USERS)).interactions
    assert i.direction is Direction.inbound
    assert i.account == X_ACCOUNT_ID
    assert [x.key for x in i.customer_identifiers()] == ["x:3001969357", "x:@furiouscamper"]
    assert i.customer_display_name() == "Jordan Brinks"
    assert i.text == "Olá!"
    assert i.occurred_at == datetime.fromtimestamp(1763888400.557, UTC)


def test_dm_sent_by_the_account_is_outbound_to_the_user() -> None:
    [i] = normalize(x_payload(x_dm("9544918301", X_ACCOUNT_ID, "3001969357", "Já vemos"), users=USERS)).interactions
    assert i.direction is Direction.outbound
    assert [x.key for x in i.customer_identifiers()] == ["x:3001969357", "x:@furiouscamper"]


def test_other_activity_is_skipped_and_a_bad_event_is_rejected_alone() -> None:
    bad = x_dm("2", "3001969357", X_ACCOUNT_ID, "x")
    del bad["message_create"]["sender_id"]
    payload = x_payload(x_dm("1", "3001969357", X_ACCOUNT_ID, "ok"), bad, users=USERS)
    payload["direct_message_indicate_typing_events"] = [{"created_timestamp": "1", "sender_id": "3001969357"}]
    result = normalize(payload)
    assert [i.external_id for i in result.interactions] == ["1"]
    # Dead-lettered as a delivery holding only it and its two users: replay reads it like any delivery.
    alone = json.loads(result.rejected[0].raw)
    assert alone == {
        "for_user_id": X_ACCOUNT_ID,
        "direct_message_events": [bad],
        "users": {X_ACCOUNT_ID: USERS[X_ACCOUNT_ID]},
    }
    alone["direct_message_events"][0]["message_create"]["sender_id"] = "3001969357"  # as a fixed normalizer reads it
    alone["users"] = USERS
    replayed = CONNECTOR.normalize(RawRequest(json.dumps(alone).encode(), {}, "", NOW))
    assert [i.external_id for i in replayed.interactions] == ["2"]
    assert normalize({"for_user_id": X_ACCOUNT_ID, "favorite_events": []}).interactions == []


def test_screen_names_are_case_insensitive_and_ids_kept() -> None:
    assert Identifier.of(IdentifierKind.x, "@FuriousCamper").value == "@furiouscamper"
    assert Identifier.of(IdentifierKind.x, " 3001969357 ").value == "3001969357"


@given(st.from_regex(CRC_TOKEN, fullmatch=True))
def test_no_answerable_crc_token_is_an_event_body(token: str) -> None:
    """What the CRC endpoint answers can never be posted as a delivery: it is never a JSON object."""
    try:
        parsed = json.loads(token)
    except ValueError:
        return
    assert not isinstance(parsed, dict)
