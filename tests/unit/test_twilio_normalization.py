from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.twilio.messages import normalize_inbound_message
from schemas.errors import InvalidPayload
from schemas.interaction import Channel, Direction
from tests.helpers import inbound_sms

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_inbound_sms_becomes_an_inbound_interaction_of_the_sender() -> None:
    i = normalize_inbound_message(inbound_sms("SMa1", "912 345 678"), default_region="PT", received_at=NOW)
    assert i.channel is Channel.sms
    assert i.direction is Direction.inbound
    assert i.account == "+351210000000"
    assert [x.key for x in i.customer_identifiers()] == ["phone:+351912345678"]
    assert i.text == "Olá, preciso de ajuda com a encomenda"
    assert i.external_id == "SMa1"
    again = normalize_inbound_message(inbound_sms("SMa1", "+351912345678"), default_region="PT", received_at=NOW)
    assert again.interaction_id == i.interaction_id  # a Twilio retry maps to the same id


def test_mms_media_become_attachment_metadata() -> None:
    form = inbound_sms(
        "MMa2",
        "+351912345678",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
        MediaContentType1="application/pdf",
    )
    i = normalize_inbound_message(form, default_region="PT", received_at=NOW)
    assert i.channel is Channel.mms
    assert [(a.name, a.content_type) for a in i.attachments] == [("ME1", "image/jpeg"), ("ME2", "application/pdf")]


def test_whatsapp_via_twilio_lands_on_the_same_phone_identifier() -> None:
    form = inbound_sms(
        "SMw1", "whatsapp:+351912345678", To="whatsapp:+351210000000", ProfileName="Ana", WaId="351912345678"
    )
    i = normalize_inbound_message(form, default_region="PT", received_at=NOW)
    assert i.channel is Channel.whatsapp
    assert i.customer_identifiers()[0].key == "phone:+351912345678"
    assert i.customer_display_name() == "Ana"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"From": "not-a-number"}, "phone"),
        ({"NumMedia": "x"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
        ({"AccountSid": ""}, "AccountSid"),
    ],
)
def test_invalid_payloads_say_why(change: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        normalize_inbound_message(
            {**inbound_sms("SMx", "+351912345678"), **change}, default_region="PT", received_at=NOW
        )
