"""``X-Twilio-Signature`` verification with the ``twilio`` package's RequestValidator."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from connectors.webhook import RawRequest
from schemas.errors import InvalidSignature


class TwilioSignature:
    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def verify(self, raw: RawRequest) -> None:
        signature = raw.headers.get("x-twilio-signature")
        if not signature:
            raise InvalidSignature("missing X-Twilio-Signature")
        # Form posts are signed over URL + sorted parameters; JSON posts over the URL
        # with a bodySHA256 query parameter. RequestValidator handles both, compares in
        # constant time, and tries the URL with and without the default port.
        is_form = (raw.content_type or "").startswith("application/x-www-form-urlencoded")
        params: dict[str, str] | str = raw.form() if is_form else raw.body.decode("utf-8", errors="replace")
        if not self._validator.validate(raw.public_url, params, signature):
            raise InvalidSignature("X-Twilio-Signature does not match")
