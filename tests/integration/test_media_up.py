"""``omnitrail up`` runs the media stage: an MMS sent the way Twilio sends it ends with its photo kept,
on the timeline the API serves, and published as ``interaction.updated``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from schemas import topics
from tests.helpers import inbound_sms, signed
from tests.integration.stack import AGENT, Stack, StartStack, eventually, read_topic
from tests.media_providers import FILES, Providers, running_providers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def providers() -> AsyncIterator[Providers]:
    async with running_providers() as running:
        yield running


@pytest.fixture(scope="module")
def stack(private_broker, private_database_url, providers: Providers, start_stack: StartStack) -> Stack:
    return start_stack(
        bootstrap=private_broker.bootstrap,
        database_url=private_database_url,
        OMNITRAIL_MEDIA_ENABLED="true",
        OMNITRAIL_MEDIA_ALLOWED_HOSTS="127.0.0.1,127.0.0.2",
        OMNITRAIL_MEDIA_ALLOW_HTTP="true",
    )


def kept_bytes(stack: Stack, sha256: str) -> bytes:
    return (stack.log_path.parent / ".omnitrail" / "media" / "sha256" / sha256[:2] / sha256).read_bytes()


def log_text(stack: Stack) -> str:
    return stack.log_path.read_text()


async def test_an_mms_photo_is_fetched_kept_and_shown_on_the_timeline(
    stack: Stack, providers: Providers, private_broker: Any
) -> None:
    sid = "MM" + uuid.uuid4().hex
    phone = "+351912777" + str(uuid.uuid4().int % 1000).zfill(3)
    params = inbound_sms(
        sid,
        phone,
        "A caixa chegou partida",
        NumMedia="1",
        MediaUrl0=providers.twilio_url("photo", sid),
        MediaContentType0="image/jpeg",
    )
    url = f"{stack.url}/webhooks/twilio/messages"
    body, headers = signed(url, params)
    async with httpx.AsyncClient(base_url=stack.url, headers=AGENT, timeout=20) as api:
        assert (await api.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200

        async def kept() -> dict[str, Any] | None:
            found = (await api.get("/api/v1/contacts", params={"q": phone})).json()["items"]
            if not found:
                return None
            items = (await api.get(f"/api/v1/contacts/{found[0]['contact_id']}/timeline")).json()["items"]
            media = items[0]["attachments"][0].get("media") if items else None
            return media if media else None

        media = await eventually(kept, timeout=60, what="the photo kept")
    assert media["state"] == "stored"
    assert media["content_type"] == "image/png"  # what the bytes are, not Twilio's label
    assert media["size"] == len(FILES["photo"])
    assert kept_bytes(stack, media["sha256"]) == FILES["photo"]  # in the folder store under OMNITRAIL_DATA_DIR

    async def published() -> list[dict[str, Any]]:
        events = [orjson.loads(v or b"") for _, v in await read_topic(private_broker.bootstrap, topics.TIMELINE)]
        return [e for e in events if e["type"] == "interaction.updated" and e["interaction"]["external_id"] == sid]

    [event] = await eventually(published, timeout=30, what="interaction.updated")
    assert event["interaction"]["attachments"][0]["media"]["sha256"] == media["sha256"]
    assert "/Media/" not in log_text(stack)  # no media URL in the logs
