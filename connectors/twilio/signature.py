"""``X-Twilio-Signature`` verification: one HMAC for the usual request, the ``twilio`` package's RequestValidator
for everything else.

Twilio signs a form POST with an HMAC over the URL it called followed by every parameter's name and value,
sorted by name, base64-encoded; a JSON POST over the URL alone, which carries the body's SHA-256 as
``bodySHA256``. The key and hash are the account's Auth Token and SHA-1, or, when the request carries
``X-Twilio-Webhooks-Signature-Settings``, the secret of the SharedKey it names and the hash it names
(:mod:`connectors.twilio.signature_settings`; several keys may be configured at once, for a rotation).
RequestValidator computes that twice per request (the URL with and without its default port, both rebuilt
by ``urlparse``) and reads each parameter through two caught AttributeErrors (it looks for ``getall`` and
``getlist`` first): ~30 µs of a request's ~50 µs verification. The check here computes the same HMAC once,
over the configured URL as received; when that does not match (Twilio signed the other port spelling, a JSON
body, a forgery), RequestValidator decides, with the same key and hash. It accepts nothing RequestValidator
refuses: over a URL that ``urlparse`` rebuilds unchanged, the one HMAC is RequestValidator's own computation
for one of its two variants (tests/unit/test_twilio_signature.py compares the two on generated input).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator

from connectors import signing
from connectors.twilio.signature_settings import ALGORITHMS, HEADER, HMAC_SHA1, HMAC_SHA256, SignatureSettings
from connectors.webhook import RawRequest
from schemas.errors import InvalidSignature, UnknownSigningKey

_HASHES: dict[str, Callable[..., Any]] = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}


@functools.lru_cache(maxsize=256)  # the configured base URL with each route's path: a handful of values
def _rebuilt_unchanged(url: str) -> bool:
    """Whether ``urlparse`` gives ``url`` back as it was: then it is one of the URLs RequestValidator signs."""
    return urlparse(url).geturl() == url


def form_signature(key: bytes, url: str, params: Mapping[str, str], algorithm: str = HMAC_SHA1) -> str:
    """What RequestValidator.compute_signature(url, params, algorithm) computes for a dict of form parameters."""
    payload = url + "".join([name + params[name] for name in sorted(params)])
    return base64.b64encode(hmac.new(key, payload.encode(), _HASHES[algorithm]).digest()).decode()


@dataclass(frozen=True, slots=True)
class _Signer:
    """A secret Twilio signs with, the hash it signs with, and the words a mismatch is reported in."""

    key: bytes = field(repr=False)
    algorithm: str
    named: str
    validator: RequestValidator = field(repr=False, compare=False)

    @classmethod
    def of(cls, secret: str, algorithm: str, named: str) -> _Signer:
        return cls(secret.encode(), algorithm, named, RequestValidator(secret))


class TwilioSignature:
    """``shared_keys``: SharedKey secrets by key id (none: a request that names one is refused)."""

    def __init__(self, auth_token: str, shared_keys: Mapping[str, str] | None = None) -> None:
        self._auth_token = _Signer.of(auth_token, HMAC_SHA1, "X-Twilio-Signature")
        self._shared_keys = {
            (key_id, algorithm): _Signer.of(secret, algorithm, f"X-Twilio-Signature (shared key {key_id}, {algorithm})")
            for key_id, secret in (shared_keys or {}).items()
            for algorithm in ALGORITHMS
        }

    def verify(self, raw: RawRequest) -> None:
        signature = raw.headers.get("x-twilio-signature")
        if not signature:
            raise InvalidSignature("missing X-Twilio-Signature")
        # ``in``, not ``get``: starlette's Headers answers a missing name to ``get`` through a raised KeyError,
        # ~1 µs on every request Twilio signs with the Auth Token (``in``: ~0.4).
        signer = self._shared(raw.headers[HEADER]) if HEADER in raw.headers else self._auth_token
        is_form = (raw.content_type or "").startswith("application/x-www-form-urlencoded")
        if is_form:
            form = raw.form()
            if _rebuilt_unchanged(raw.public_url) and signing.equal(
                form_signature(signer.key, raw.public_url, form, signer.algorithm), signature
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
        if not signer.validator.validate(raw.public_url, params, signature, signer.algorithm):
            # Twilio signs the URL it called: say which one we checked, the usual cause is OMNITRAIL_PUBLIC_URL.
            raise InvalidSignature(
                f"{signer.named} does not match the request as signed for {raw.public_url} "
                "(OMNITRAIL_PUBLIC_URL must be the base URL Twilio calls)"
            )

    def _shared(self, header: str) -> _Signer:
        """The SharedKey and hash ``header`` names; refused, never checked with the Auth Token, when unusable
        (UnknownSigningKey when it names a key not configured here: 503, so Twilio retries)."""
        settings = SignatureSettings.parse(header)  # a malformed header is a bad signature, not a missing key
        if not self._shared_keys:
            raise UnknownSigningKey(
                "the request is signed with a Twilio shared key and none is configured (OMNITRAIL_TWILIO_SHARED_KEYS)"
            )
        signer = self._shared_keys.get((settings.key_id, settings.algorithm))
        if signer is None:
            raise UnknownSigningKey(
                f"the request is signed with shared key {settings.key_id}, "
                "which is not configured (OMNITRAIL_TWILIO_SHARED_KEYS)"
            )
        return signer
