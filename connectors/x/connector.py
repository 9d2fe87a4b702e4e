"""The X push connector: ``/webhooks/x`` for the Account Activity API (direct messages).

GET answers the CRC challenge: ``{"response_token": "sha256=" + base64(HMAC-SHA256(crc_token,
consumer secret))}``, which X sends when the webhook is registered and then periodically. POST
deliveries are checked against ``x-twitter-webhooks-signature`` (the same HMAC over the raw body)
before parsing, then go through the webhook request path like every other webhook. A bad event
of a batch is dead-lettered as a delivery holding only it (and its two users), which replay reads
like any other.

The CRC answer is the very HMAC a POST body needs, so answering it for any text would be a
signing oracle: ask for the CRC of a forged event body, then post that body with the answer as
its signature. Only tokens shaped like X's (:data:`CRC_TOKEN`: 8 to 256 base64/token characters,
never a quote, brace or space, so never a JSON document) are answered; anything else gets 400
and no HMAC.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from connectors import json_payload as jp
from connectors import signing
from connectors.base import Connector
from connectors.webhook import Answer, Normalized, RawRequest, Rejected, Route
from connectors.x import direct_messages
from connectors.x.settings import XSettings
from schemas.errors import FatalError
from schemas.interaction import Interaction

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
CRC_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,256}")
"""What a CRC token may be: X's are random base64/base64url strings. No character of a JSON
object (``{``, ``"``, ``:`` or white space) is allowed, so no event body can be signed through it."""


def _alone(payload: dict[str, Any], event: Any) -> bytes:
    """A delivery X could have sent holding only ``event`` (and only its two users): what a bad event of
    a batch is dead-lettered as, so replay reads it as it reads any delivery."""
    create = _object(event, "message_create")
    ids = {create.get("sender_id"), _object(create, "target").get("recipient_id")}
    users = _object(payload, "users")
    alone = {"for_user_id": payload.get("for_user_id"), "direct_message_events": [event]}
    return orjson.dumps(alone | {"users": {k: v for k, v in users.items() if k in ids}})


def _object(parent: Any, key: str) -> dict[str, Any]:
    found = parent.get(key) if isinstance(parent, dict) else None
    return found if isinstance(found, dict) else {}


class XConnector(Connector[XSettings]):
    name: ClassVar[str] = "x"
    enabled_by: ClassVar[tuple[str, ...]] = ("consumer_secret",)

    def __init__(self, settings: XSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        if settings.consumer_secret is None:
            raise FatalError("OMNITRAIL_X_CONSUMER_SECRET is required for the x connector")
        self._secret = settings.consumer_secret.get_secret_value()

    def verify(self, raw: RawRequest) -> None:
        expected = signing.sha256_base64(self._secret, raw.body)
        signing.require(SIGNATURE_HEADER, raw.headers.get(SIGNATURE_HEADER), expected)

    @staticmethod
    def normalize(raw: RawRequest) -> Normalized:
        payload = jp.parse_object(raw.body)
        result = direct_messages.normalize(payload, received_at=raw.received_at)
        rejected = [Rejected(r.reason, _alone(payload, orjson.loads(r.raw))) for r in result.rejected]
        return jp.whole_if_nothing_good(Normalized(result.interactions, rejected))

    @staticmethod
    def _ok(_: list[Interaction]) -> Response:
        return Response(status_code=200)

    def crc(self, request: Request) -> Response:
        token = request.query_params.get("crc_token")
        if not token:
            return JSONResponse({"error": "invalid_payload", "reason": "missing crc_token"}, status_code=400)
        if CRC_TOKEN.fullmatch(token) is None:
            return JSONResponse(
                {"error": "invalid_payload", "reason": "crc_token is not shaped like X's (8-256 token characters)"},
                status_code=400,
            )
        return JSONResponse({"response_token": signing.sha256_base64(self._secret, token)})

    def routes(self) -> list[Route]:
        summary = "X Account Activity API events (direct messages)"
        return [Route("/webhooks/x", "x", summary, self.verify, self.normalize, self._ok)]

    def answers(self) -> list[Answer]:
        return [Answer("GET", "/webhooks/x", "X Account Activity API CRC challenge", self.crc)]
