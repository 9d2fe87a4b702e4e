"""Twilio message status and call status callbacks, normalized from Twilio's documented parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

import pytest

from connectors.twilio.status import normalize_message_status
from connectors.twilio.voice import normalize_call_status
from schemas.errors import InvalidPayload
from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Direction, InteractionKind
from tests.channel_payloads import OUR_NUMBER, call_status, message_status

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_message_status_targets_the_outbound_message_and_is_not_a_message() -> None:
    update = normalize_message_status(
        message_status("SMout1", "delivered", "912 345 678"), default_region="PT", received_at=NOW
    )
    assert update.kind is InteractionKind.status
    assert update.status is not None
    assert update.status.target_interaction_id == interaction_id_for("sms", OUR_NUMBER, "SMout1")
    assert update.status.status == "delivered"
    assert [i.key for i in update.customer_identifiers()] == ["phone:+351912345678"]
    assert update.direction is Direction.outbound


def test_whatsapp_status_targets_the_whatsapp_message_and_failures_carry_the_error_code() -> None:
    params = message_status("SMwa1", "failed", "+351912345678", whatsapp=True)
    update = normalize_message_status(params, default_region="PT", received_at=NOW)
    assert update.channel is Channel.whatsapp
    assert update.status is not None
    assert update.status.target_interaction_id == interaction_id_for("whatsapp", OUR_NUMBER, "SMwa1")
    assert update.status.error_code == "30003"


def test_each_state_of_a_message_is_its_own_update_and_a_retry_is_the_same_one() -> None:
    def update_id(status: str) -> object:
        return normalize_message_status(
            message_status("SMx", status, "+351912345678"), default_region="PT", received_at=NOW
        ).interaction_id

    assert update_id("sent") != update_id("delivered")
    assert update_id("sent") == update_id("sent")


def test_status_without_message_status_is_rejected() -> None:
    params = message_status("SMx", "sent", "+351912345678")
    del params["MessageStatus"], params["SmsStatus"]
    with pytest.raises(InvalidPayload, match="MessageStatus"):
        normalize_message_status(params, default_region="PT", received_at=NOW)


def test_every_call_callback_names_the_same_call_and_carries_its_state() -> None:
    ringing = normalize_call_status(call_status("CA1", "ringing", "+351912345678", sequence=0), **_ctx())
    completed = normalize_call_status(
        call_status("CA1", "completed", "+351912345678", sequence=2, duration=42), **_ctx()
    )
    assert ringing[0].interaction_id == completed[0].interaction_id == interaction_id_for("voice", OUR_NUMBER, "CA1")
    call, update = completed
    assert call.kind is InteractionKind.call
    assert call.direction is Direction.inbound
    assert [i.key for i in call.customer_identifiers()] == ["phone:+351912345678"]
    # The completed callback's Timestamp (09:00:12) less its 42 s: when the call began.
    assert call.occurred_at == datetime(2026, 11, 23, 8, 59, 30, tzinfo=UTC)
    assert ringing[0].occurred_at == datetime(2026, 11, 23, 9, 0, 10, tzinfo=UTC)
    assert update.kind is InteractionKind.status
    assert update.status is not None
    assert update.status.target_interaction_id == call.interaction_id
    assert update.call is not None
    assert (update.call.status, update.call.duration_seconds) == ("completed", 42)
    assert ringing[1].interaction_id != update.interaction_id


def test_outbound_call_has_the_callee_as_customer() -> None:
    params = call_status("CA2", "initiated", "+351912345678", sequence=0)
    params |= {"Direction": "outbound-api", "From": OUR_NUMBER, "To": "+351912345678"}
    call, _ = normalize_call_status(params, **_ctx())
    assert call.direction is Direction.outbound
    assert call.account == OUR_NUMBER
    assert [i.key for i in call.customer_identifiers()] == ["phone:+351912345678"]


def test_call_with_a_non_numeric_duration_is_rejected() -> None:
    params = call_status("CA3", "completed", "+351912345678", sequence=3, duration=5) | {"CallDuration": "5s"}
    with pytest.raises(InvalidPayload, match="CallDuration"):
        normalize_call_status(params, **_ctx())


class _Context(TypedDict):
    default_region: str
    received_at: datetime


def _ctx() -> _Context:
    return {"default_region": "PT", "received_at": NOW}
