"""``X-Twilio-Signature`` verification with the ``twilio`` package's RequestValidator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator

from connectors import signing
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
        # The same test RequestValidator makes (parse_qs drops blank values): a lookalike such as
        # ``?xbodySHA256=1`` or ``?bodySHA256=`` is no body hash, and must not reach it with a str.
        if not is_form and "bodySHA256" not in parse_qs(urlparse(raw.public_url).query):
            # Twilio signs any other body through a bodySHA256 query parameter; without it the body
            # would be unsigned (and RequestValidator would fail on it with a TypeError: a 500).
            raise InvalidSignature("a body that is not a form must be signed through bodySHA256")
        params: dict[str, str] | str = raw.form() if is_form else raw.body.decode("utf-8", errors="replace")
        if (
            is_form
            and urlparse(raw.public_url).geturl() == raw.public_url
            and signing.equal(self._validator.compute_signature(raw.public_url, params), signature)
        ):
            # Fast path, one HMAC: ``validate`` always computes two (the URL with and without its port,
            # both rebuilt by urlparse) and accepts either. A URL that urlparse rebuilds unchanged is one
            # of those two, so this accepts nothing validate would refuse; anything else goes through it.
            return
        if not self._validator.validate(raw.public_url, params, signature):
            # Twilio signs the URL it called: say which one we checked, the usual cause is OMNITRAIL_PUBLIC_URL.
            raise InvalidSignature(
                f"X-Twilio-Signature does not match the request as signed for {raw.public_url} "
                "(OMNITRAIL_PUBLIC_URL must be the base URL Twilio calls)"
            )
