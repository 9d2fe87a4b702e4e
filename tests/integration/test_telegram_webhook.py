"""A Telegram conversation through ``omnitrail up``'s webhook: what the agent sees in the timeline."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from schemas.ids import interaction_id_for
from tests.contract import WebhookCall, send, stored
from tests.integration.stack import AGENT, eventually
from tests.telegram_updates import (
    BOT_ID,
    edited_update,
    encode,
    group_update,
    photo_update,
    text_update,
    user,
    webhook_headers,
)

pytestmark = pytest.mark.integration
PATH = "/webhooks/telegram/default"


def call(payload: dict[str, Any]) -> WebhookCall:
    return WebhookCall(PATH, encode(payload), webhook_headers())


async def test_messages_a_photo_and_an_edit_make_one_contacts_timeline(webhook_stack: Any) -> None:
    person = user(user_id=random.randint(600_000_000, 699_999_999), first="Ana", last="Silva", username="anasilva")
    update_ids = iter(range(random.randint(10**8, 2 * 10**8), 3 * 10**8))
    for payload in (
        text_update(next(update_ids), 1, person, text="Olá, a encomenda 123 não chegou"),
        photo_update(next(update_ids), 2, person, caption="A caixa chegou assim"),
        edited_update(next(update_ids), 1, "Olá, a encomenda 124 não chegou", person),
    ):
        response = await send(webhook_stack.url, call(payload))
        assert response.status_code == 200, response.text

    async with httpx.AsyncClient(base_url=webhook_stack.url, headers=AGENT, timeout=10) as api:

        async def timeline() -> list[dict[str, Any]] | None:
            found = (await api.get("/api/v1/contacts", params={"q": str(person["id"])})).json()["items"]
            if not found:
                return None
            page = await api.get(f"/api/v1/contacts/{found[0]['contact_id']}/timeline", params={"order": "asc"})
            items: list[dict[str, Any]] = page.json()["items"]
            edited = any(i["text"] == "Olá, a encomenda 124 não chegou" for i in items)
            return items if len(items) == 2 and edited else None

        items = await eventually(timeline, what="both messages, the first one edited, in the timeline")
        contact = (await api.get("/api/v1/contacts", params={"q": str(person["id"])})).json()["items"][0]
    # Both messages may carry the same second (Telegram dates have 1 s resolution): find them by id.
    by_id = {i["interaction_id"]: i for i in items}
    text = by_id[str(interaction_id_for("telegram", str(BOT_ID), f"{person['id']}:1"))]
    photo = by_id[str(interaction_id_for("telegram", str(BOT_ID), f"{person['id']}:2"))]
    assert contact["display_name"] == "Ana Silva"
    assert text["metadata"]["edited_at"]
    assert text["direction"] == "inbound"
    assert photo["text"] == "A caixa chegou assim"
    [attachment] = photo["attachments"]
    assert attachment["size"] == 88422
    assert attachment["location"].startswith(f"telegram:{BOT_ID}:AgAC")
    assert photo["metadata"]["files"][0]["width"] == 1280


async def test_unknown_bot_is_404_and_group_chats_are_acknowledged_not_stored(webhook_stack: Any, db: Any) -> None:
    person = user(user_id=random.randint(700_000_000, 799_999_999))
    update_id = random.randint(3 * 10**8, 4 * 10**8)
    wrong_bot = WebhookCall(
        "/webhooks/telegram/nosuchbot", encode(text_update(update_id, 1, person)), webhook_headers()
    )
    response = await send(webhook_stack.url, wrong_bot)
    assert response.status_code == 404
    assert (await send(webhook_stack.url, call(group_update(update_id + 1, 2, person)))).status_code == 200
    assert (await send(webhook_stack.url, call(text_update(update_id + 2, 3, person)))).status_code == 200
    ids = [interaction_id_for("telegram", str(BOT_ID), f"{person['id']}:{n}") for n in (1, 3)]
    group_id = interaction_id_for("telegram", str(BOT_ID), f"-1001234567890:{2}")

    async def last_one_stored() -> bool:
        return await stored(db, ids[1:]) == 1

    # Updates are handled in order per customer: once the last one is stored, the others would be too.
    await eventually(last_one_stored, what="the private message sent after the others")
    assert await stored(db, [ids[0], group_id, uuid.uuid4()]) == 0
