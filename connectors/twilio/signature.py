"""``X-Twilio-Signature`` verification: one HMAC for the usual request, the ``twilio`` package's RequestValidator
for everything else.

Twilio signs a form POST with HMAC-SHA1 (the account's Auth Token as key) over the URL it called followed by
every parameter's name and value, sorted by name, base64-encoded; a JSON POST over the URL alone, which carries
the body's SHA-256 as ``bodySHA256``. RequestValidator computes that twice per request (the URL with and without
its default port, both rebuilt by ``urlparse``) and reads each parameter through two caught AttributeErrors
(it looks for ``getall`` and ``getlist`` first): ~30 µs of a request's ~50 µs verification. The check here
computes the same HMAC once, over the configured URL as received; when that does not match (Twilio signed
the other port spelling, a JSON body, a forgery), RequestValidator decides. It accepts nothing RequestValidator
refuses: over a URL that ``urlparse`` rebuilds unchanged, the one HMAC is RequestValidator's own computation
for one of its two variants (tests/unit/test_twilio_signature.py compares the two on generated input).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator

from connectors import signing
from connectors.webhook import RawRequest
from schemas.errors import InvalidSignature


@functools.lru_cache(maxsize=256)  # the configured base URL with each route's path: a handful of values
def _rebuilt_unchanged(url: str) -> bool:
    """Whether ``urlparse`` gives ``url`` back as it was: then it is one of the URLs RequestValidator signs."""
    return urlparse(url).geturl() == url


def form_signature(key: bytes, url: str, params: Mapping[str, str]) -> str:
    """What RequestValidator.compute_signature(url, params) computes for a dict of form parameters."""
    payload = url + "".join([name + params[name] for name in sorted(params)])
    return base64.b64encode(hmac.new(key, payload.encode(), hashlib.sha1).digest()).decode()


class TwilioSignature:
    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._key = auth_token.encode()

    def verify(self, raw: RawRequest) -> None:
        signature = raw.headers.get("x-twilio-signature")
        if not signature:
            raise InvalidSignature("missing X-Twilio-Signature")
        is_form = (raw.content_type or "").startswith("application/x-www-form-urlencoded")
        if is_form:
            form = raw.form()
            if _rebuilt_unchanged(raw.public_url) and signing.equal(
                form_signature(self._key, raw.public_url, form), signature
            ):
                return
            params: dict[str, str] | str = form
        # The same test RequestValidator makes (parse_qs drops blank values): a lookalike such as
        # ``?xbodySHA256=1`` or ``?bodySHA256=`` is no body hash, and must not reach it with a str.
        elif "bodySHA256" not in parse_qs(urlparse(raw.public_url).query):
            # Twilio signs any other body through a bodySHA256 query parameter; without it the body
            # would be unsigned (and RequestValidator would fail on it with a TypeError: a 500).
            raise InvalidSignature("a body that is not a form must be signed through bodySHA256")
        else:
            params = raw.body.decode("utf-8", errors="replace")
        if not self._validator.validate(raw.public_url, params, signature):
            # Twilio signs the URL it called: say which one we checked, the usual cause is OMNITRAIL_PUBLIC_URL.
            raise InvalidSignature(
                f"X-Twilio-Signature does not match the request as signed for {raw.public_url} "
                "(OMNITRAIL_PUBLIC_URL must be the base URL Twilio calls)"
            )
