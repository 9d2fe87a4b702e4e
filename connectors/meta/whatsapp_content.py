"""What a WhatsApp Cloud API message says: its readable text and the structured part metadata keeps.

One function, :func:`content`, per message ``type`` (the body Meta sends under the key named by the type):

- ``text``: ``text.body``;
- media (``image``, ``video``, ``audio``, ``document``, ``sticker``): the caption (the attachment itself is
  mapped by the connector);
- ``button`` (a template's quick-reply button): ``button.text``; ``metadata.button`` keeps ``payload``;
- ``interactive``: ``button_reply`` / ``list_reply``: the chosen title, ``metadata.reply`` the reply as sent
  (``id``, ``title``, ``description``); ``nfm_reply`` (a WhatsApp Flows response, or an address message):
  ``body`` then one ``field: value`` line per answer of ``response_json`` (the ``flow_token`` is ours, not
  the customer's), ``metadata.flow`` the ``name`` and the ``response`` (parsed when it is JSON, else the
  string as sent); any other interactive type: ``metadata.interactive`` the object as sent;
- ``order`` (a cart sent from a catalog, single- or multi-product message): the customer's note
  (``order.text``) then one ``2 x SKU (9.99 EUR)`` line per product; ``metadata.order`` keeps
  ``catalog_id`` and ``product_items`` as sent;
- any type this module does not know (and that the connector maps no other way): no text,
  ``metadata[type]`` the sub-object as sent, so nothing the customer sent is dropped.

Whatever the type, a message that came from an ad (``referral``: Click-to-WhatsApp) or asks about a product
(``context.referred_product``) keeps that in ``metadata.referral`` / ``metadata.referred_product``.

A sub-object kept as sent is bounded by :data:`MAX_KEPT_BYTES` (serialized): past it, metadata says how
big it was (``{"omitted_bytes": n}``) instead, so one record stays far below Kafka's default 1 MB limit
whatever the configured body limit.
"""

from __future__ import annotations

from typing import Any

import orjson

from connectors import json_payload as jp
from schemas.errors import InvalidPayload

MEDIA = ("image", "video", "audio", "document", "sticker")
#: Types the connector maps to fields of their own (a location, contact cards, a reaction, a system notice,
#: the "content not supported" mark): their sub-object is not copied to metadata.
MAPPED_ELSEWHERE = frozenset({"location", "contacts", "reaction", "system", "unsupported", "unknown"})
#: Largest sub-object (serialized bytes) metadata keeps as sent; see the module doc.
MAX_KEPT_BYTES = 65_536
#: A Flows response field that is the business's own token, not something the customer entered.
_NOT_AN_ANSWER = "flow_token"

Content = tuple[str | None, jp.Json]


def content(message: jp.Json, kind: str) -> Content:
    """The message's text and the metadata its type adds (see the module doc)."""
    text, metadata = _by_type(message, kind)
    if (referral := message.get("referral")) is not None:
        metadata["referral"] = kept(referral)
    context = message.get("context")
    if isinstance(context, dict) and (product := context.get("referred_product")) is not None:
        metadata["referred_product"] = kept(product)
    return text, metadata


def _by_type(message: jp.Json, kind: str) -> Content:
    body = message.get(kind)
    if kind == "text":
        return jp.text(jp.obj(message, "text", "messages[]."), "body", "messages[].text."), {}
    if kind in MEDIA:
        return string(body, "caption"), {}
    if kind == "button":
        payload = string(body, "payload")
        return string(body, "text"), {"button": {"payload": payload}} if payload else {}
    if kind == "interactive":
        return _interactive(body)
    if kind == "order":
        return _order(body)
    if kind in MAPPED_ELSEWHERE or body is None:
        return None, {}
    return None, {kind: kept(body)}


def _interactive(interactive: Any) -> Content:
    if not isinstance(interactive, dict):
        return None, {}
    kind = interactive.get("type")
    for reply_kind in ("button_reply", "list_reply"):
        reply = interactive.get(reply_kind)
        if isinstance(reply, dict):
            return string(reply, "title"), {"interactive_type": reply_kind, "reply": kept(reply)}
    if isinstance(flow := interactive.get("nfm_reply"), dict):
        return _flow(flow)
    return None, {"interactive_type": kind if isinstance(kind, str) else None, "interactive": kept(interactive)}


def _flow(flow: jp.Json) -> Content:
    """A Flows (or address message) response: what the customer entered is ``response_json``."""
    raw = flow.get("response_json")
    response: Any = raw
    if isinstance(raw, str):
        try:
            response = jp.parse(raw.encode("utf-8", "surrogatepass"))
        except InvalidPayload:
            response = raw  # not JSON (or absurdly deep): kept as the string it is
    answers = list(_answers(response)) if isinstance(response, dict) else []
    lines = [line for line in (string(flow, "body"), *answers) if line]
    metadata = {"interactive_type": "nfm_reply", "flow": {"name": string(flow, "name"), "response": kept(response)}}
    return "\n".join(lines) or None, metadata


def _answers(response: jp.Json, prefix: str = "") -> list[str]:
    """``field: value`` per answer (nested objects as ``outer.inner``; lists of values joined by commas)."""
    lines: list[str] = []
    for key, value in response.items():
        if not prefix and key == _NOT_AN_ANSWER:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines.extend(_answers(value, name + "."))
        elif isinstance(value, list):
            shown = ", ".join(_shown(v) for v in value if not isinstance(v, dict | list))
            if shown:
                lines.append(f"{name}: {shown}")
        elif value is not None and _shown(value):
            lines.append(f"{name}: {_shown(value)}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def _order(order: Any) -> Content:
    if not isinstance(order, dict):
        return None, {}
    items = [item for item in jp.optional_list(order, "product_items") if isinstance(item, dict)]
    lines = [string(order, "text"), *(_item(item) for item in items)]
    metadata = {
        "order": {"catalog_id": string(order, "catalog_id"), "product_items": kept(order.get("product_items") or [])}
    }
    return "\n".join(line for line in lines if line) or None, metadata


def _item(item: jp.Json) -> str | None:
    """``2 x SKU123 (12.5 EUR)``: quantity, the retailer's product id, and the unit price when given."""
    product = string(item, "product_retailer_id")
    if product is None:
        return None
    quantity = item.get("quantity")
    line = f"{_shown(quantity)} x {product}" if isinstance(quantity, int | float | str) else product
    price, currency = item.get("item_price"), string(item, "currency")
    if isinstance(price, int | float | str) and not isinstance(price, bool):
        line += f" ({_shown(price)}{' ' + currency if currency else ''})"
    return line


def kept(value: Any) -> Any:
    """``value`` as sent, unless its serialized form passes :data:`MAX_KEPT_BYTES` (then only its size)."""
    try:
        size = len(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):
        return None
    return value if size <= MAX_KEPT_BYTES else {"omitted_bytes": size}


def string(obj: Any, key: str) -> str | None:
    """``obj[key]`` stripped (a number as its digits), or None if absent, empty or not text."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value.strip() or None if isinstance(value, str) else None
