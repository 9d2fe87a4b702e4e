"""JSON bodies that hold one item or an array of items, each normalized on its own.

Live-chat widgets and other systems batch events in one request; one bad item must be
dead-lettered alone with its own bytes while the rest are ingested (:class:`Normalized`).
Written once here for every JSON route that accepts batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from connectors import json_payload
from connectors.webhook import Normalized, Rejected
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction
from schemas.interaction_input import field_errors

ItemParser = Callable[[Any], Interaction]


def normalize_json_batch(body: bytes, parse_item: ItemParser, *, what: str) -> Normalized:
    """Parse ``body`` (an object or an array of them) with ``parse_item``; ``what`` names an item in reasons."""
    parsed = json_payload.parse(body)
    batched = isinstance(parsed, list)
    items = parsed if batched else [parsed]
    if not items:
        raise InvalidPayload(f"empty list of {what}s")
    good: list[Interaction] = []
    bad: list[Rejected] = []
    for n, item in enumerate(items):
        label = f"{what} {n}" if batched else what
        try:
            good.append(parse_item(item))
            continue
        except ValidationError as exc:
            reason = f"invalid {label}: {field_errors(exc)}"
        except InvalidPayload as exc:
            reason = f"invalid {label}: {exc.reason}"
        except Exception as exc:  # a shape no check foresaw, a bug: this item alone (not BaseException: cancellation)
            reason = f"invalid {label}: {json_payload.unexpected(exc)}"
        # A batched item is dead-lettered with its own bytes, so replaying it needs nothing else.
        bad.append(Rejected(reason, json.dumps(item, ensure_ascii=False).encode() if batched else body))
    return Normalized(good, bad)


def accepted(interactions: list[Interaction]) -> Response:
    """What JSON routes answer once everything is durable: the ids taken, so a sender can correlate."""
    return JSONResponse({"accepted": [str(i.interaction_id) for i in interactions]})
