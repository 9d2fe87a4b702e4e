"""WhatsApp Cloud API message types whose content is not plain text: nothing the customer sent is dropped.

Payloads are shaped as Meta's webhook references show them (Flows "Response Message Webhook", "Order
messages webhook reference", "Interactive messages webhook reference").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.meta.whatsapp_content import MAX_KEPT_BYTES
from connectors.webhook import RawRequest
from schemas.interaction import Interaction
from tests.channel_payloads import (
    meta_connector,
    meta_signed,
    wa_message,
    whatsapp_payload,
    whatsapp_value,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONNECTOR = meta_connector()


def ingested(message: dict[str, Any]) -> Interaction:
    body, headers = meta_signed(whatsapp_payload(whatsapp_value(messages=[message])))
    request = RawRequest(body=body, headers=headers, public_url="http://x/webhooks/meta", received_at=NOW)
    CONNECTOR.verify(request)
    result = CONNECTOR.normalize(request)
    assert result.rejected == []
    [interaction] = result.interactions
    return interaction


def flow_response(response: dict[str, Any]) -> dict[str, Any]:
    return wa_message(
        "wamid.FLOW1",
        "351912345678",
        "interactive",
        context={"from": "16315558151", "id": "gBGGEiRVVgBPAgm7FUgc73noXjo"},
        interactive={
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(response)},
        },
    )


def test_a_flow_response_keeps_what_the_customer_entered() -> None:
    message = flow_response({"flow_token": "tok-123", "appointment_date": "2026-12-01", "party_size": 4})
    interaction = ingested(message)
    assert interaction.text == "Sent\nappointment_date: 2026-12-01\nparty_size: 4"
    assert interaction.metadata["flow"] == {
        "name": "flow",
        "response": {"flow_token": "tok-123", "appointment_date": "2026-12-01", "party_size": 4},
    }
    assert interaction.metadata["interactive_type"] == "nfm_reply"


def test_a_flow_response_that_is_not_json_is_kept_as_sent() -> None:
    message = flow_response({})
    message["interactive"]["nfm_reply"]["response_json"] = "not json, but typed by someone"
    interaction = ingested(message)
    assert interaction.text == "Sent"
    assert interaction.metadata["flow"]["response"] == "not json, but typed by someone"


def test_an_order_is_the_customers_note_and_one_line_per_product() -> None:
    order = {
        "catalog_id": "194836987003835",
        "text": "Please gift-wrap the mug",
        "product_items": [
            {"product_retailer_id": "SKU-MUG-01", "quantity": 2, "item_price": 12.5, "currency": "EUR"},
            {"product_retailer_id": "SKU-TEA-07", "quantity": 1, "item_price": 4, "currency": "EUR"},
        ],
    }
    interaction = ingested(wa_message("wamid.ORDER1", "351912345678", "order", order=order))
    assert interaction.text == "Please gift-wrap the mug\n2 x SKU-MUG-01 (12.5 EUR)\n1 x SKU-TEA-07 (4 EUR)"
    assert interaction.metadata["order"] == {
        "catalog_id": "194836987003835",
        "product_items": order["product_items"],
    }


def test_an_order_without_a_note_still_lists_its_products() -> None:
    order = {"catalog_id": "1", "product_items": [{"product_retailer_id": "SKU9", "quantity": 3}]}
    assert ingested(wa_message("wamid.ORDER2", "351912345678", "order", order=order)).text == "3 x SKU9"


def test_list_and_button_replies_keep_the_chosen_option_id() -> None:
    list_reply = {"id": "ship-express", "title": "Express", "description": "Next working day"}
    message = wa_message(
        "wamid.LIST1",
        "351912345678",
        "interactive",
        context={"from": "351210000001", "id": "wamid.ASKED"},
        interactive={"type": "list_reply", "list_reply": list_reply},
    )
    interaction = ingested(message)
    assert interaction.text == "Express"
    assert interaction.metadata["reply"] == list_reply
    button = wa_message(
        "wamid.BTN1", "351912345678", "button", button={"payload": "STOP_PROMOS", "text": "Stop promotions"}
    )
    interaction = ingested(button)
    assert (interaction.text, interaction.metadata["button"]) == ("Stop promotions", {"payload": "STOP_PROMOS"})


def test_a_type_the_connector_does_not_know_keeps_its_body() -> None:
    body = {"poll_id": "p1", "selected": ["Tuesday"]}
    interaction = ingested(wa_message("wamid.NEW1", "351912345678", "poll_vote", poll_vote=body))
    assert interaction.metadata["poll_vote"] == body
    huge = {"blob": "x" * (MAX_KEPT_BYTES + 1)}
    interaction = ingested(wa_message("wamid.NEW2", "351912345678", "poll_vote", poll_vote=huge))
    assert interaction.metadata["poll_vote"] == {"omitted_bytes": len(json.dumps(huge, separators=(",", ":")))}


def test_a_message_from_an_ad_or_about_a_product_keeps_where_it_came_from() -> None:
    referral = {
        "source_url": "https://fb.me/ad",
        "source_id": "120",
        "source_type": "ad",
        "headline": "Winter sale",
        "body": "Up to 50% off",
        "media_type": "image",
        "image_url": "https://example.com/i.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
    }
    product = {"catalog_id": "194836987003835", "product_retailer_id": "SKU-MUG-01"}
    message = wa_message(
        "wamid.AD1",
        "351912345678",
        "text",
        text={"body": "Is this in stock?"},
        referral=referral,
        context={"from": "351210000001", "id": "wamid.PRODUCT", "referred_product": product},
    )
    interaction = ingested(message)
    assert interaction.text == "Is this in stock?"
    assert (interaction.metadata["referral"], interaction.metadata["referred_product"]) == (referral, product)
