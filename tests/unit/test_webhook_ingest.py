"""The shared webhook path with the Twilio connector, through real HTTP requests (ASGI), in-memory broker."""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import SecretStr

from connectors.meta.connector import BODY_BYTES
from connectors.testing import InMemoryEmitter, webhook_app
from connectors.twilio import TwilioConnector, TwilioSettings
from tests.channel_payloads import (
    meta_connector,
    meta_signed,
    wa_text,
    whatsapp_payload,
    whatsapp_value,
)
from tests.helpers import AUTH_TOKEN, inbound_sms, signed

PUBLIC = "https://hooks.example.com"
URL = PUBLIC + "/webhooks/twilio/messages"


@pytest.fixture
def emitter() -> InMemoryEmitter:
    return InMemoryEmitter()


@pytest.fixture
def client(emitter: InMemoryEmitter) -> httpx.AsyncClient:
    connector = TwilioConnector(TwilioSettings(auth_token=SecretStr(AUTH_TOKEN)), default_region="PT")
    app = webhook_app(connector, emitter, public_url=PUBLIC, max_body_bytes=4096)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal")


async def test_signed_sms_is_acknowledged_with_empty_twiml_after_the_broker_took_it(
    client: httpx.AsyncClient, emitter: InMemoryEmitter
) -> None:
    body, headers = signed(URL, inbound_sms("SMu1", "912 345 678"))
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response" in response.text
    assert [i.external_id for i in emitter.interactions] == ["SMu1"]


async def test_signature_covers_the_public_url_including_query_string(
    client: httpx.AsyncClient, emitter: InMemoryEmitter
) -> None:
    params = inbound_sms("SMu2", "912 345 678")
    body, headers = signed(URL + "?tenant=7", params)
    assert (await client.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 403
    ok = await client.post("/webhooks/twilio/messages?tenant=7", content=body, headers=headers)
    assert ok.status_code == 200


@pytest.mark.parametrize("signature", [None, "", "AAAA", "wrong-signature"])
async def test_bad_or_missing_signature_is_403_and_nothing_is_ingested(
    client: httpx.AsyncClient, emitter: InMemoryEmitter, signature: str | None
) -> None:
    body, headers = signed(URL, inbound_sms("SMu3", "912 345 678"), token="some-other-token")
    if signature is None:
        del headers["X-Twilio-Signature"]
    else:
        headers["X-Twilio-Signature"] = signature or headers["X-Twilio-Signature"]
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 403
    assert emitter.interactions == []
    assert emitter.dead_letters == []


async def test_tampered_body_fails_the_signature(client: httpx.AsyncClient, emitter: InMemoryEmitter) -> None:
    body, headers = signed(URL, inbound_sms("SMu4", "912 345 678"))
    tampered = body.replace(b"ajuda", b"AJUDA")
    assert (await client.post("/webhooks/twilio/messages", content=tampered, headers=headers)).status_code == 403


async def test_signed_but_invalid_payload_is_400_and_dead_lettered_with_raw_bytes(
    client: httpx.AsyncClient, emitter: InMemoryEmitter
) -> None:
    body, headers = signed(URL, inbound_sms("SMu5", "this is not a phone"))
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 400
    assert "phone" in response.json()["reason"]
    assert emitter.interactions == []
    [dead] = emitter.dead_letters
    assert base64.b64decode(dead.raw_base64) == body
    assert dead.source == "twilio.messages"
    assert "phone" in dead.reason


async def test_broker_down_answers_503_so_twilio_retries(client: httpx.AsyncClient, emitter: InMemoryEmitter) -> None:
    emitter.fail = True
    body, headers = signed(URL, inbound_sms("SMu6", "912 345 678"))
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_oversized_body_is_refused_before_being_read(client: httpx.AsyncClient, emitter: InMemoryEmitter) -> None:
    body, headers = signed(URL, inbound_sms("SMu7", "912 345 678", body="x" * 10_000))
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 413
    assert emitter.interactions == []


async def test_a_meta_batch_as_large_as_meta_documents_is_taken_above_the_configured_limit(
    emitter: InMemoryEmitter,
) -> None:
    app = webhook_app(meta_connector(), emitter, max_body_bytes=1_048_576)
    # 600 customer messages of ~4,000 characters: ~2.5 MB, one delivery Meta may make ("up to 3MB").
    texts = [wa_text(f"wamid.big{n}", f"35191{n:07d}", "x" * 4000) for n in range(600)]
    body, headers = meta_signed(whatsapp_payload(whatsapp_value(messages=texts)))
    assert 2_000_000 < len(body) <= BODY_BYTES
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        response = await client.post("/webhooks/meta", content=body, headers=headers)
        assert response.status_code == 200  # was 413: Meta retries, then drops all 600
        assert len(emitter.interactions) == 600
        too_big = b"{" + b" " * BODY_BYTES + b"}"
        refused = await client.post("/webhooks/meta", content=too_big, headers=headers)
        assert refused.status_code == 413  # above what Meta documents, the limit still holds
