"""The Slack-style signature shared by live chat and events (and Chatwoot's variant): window, tampering, format."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from connectors.livechat.chatwoot import CHATWOOT_SCHEME
from connectors.timestamped_signature import TimestampedSignature
from connectors.webhook import RawRequest
from schemas.errors import InvalidSignature

SECRET = "s3cret"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
BODY = b'{"id":"e1","type":"message"}'


def request(body: bytes, headers: dict[str, str]) -> RawRequest:
    # Starlette's headers are case-insensitive and lower-case; so are these.
    return RawRequest(body, {k.lower(): v for k, v in headers.items()}, "http://x/webhooks/livechat", datetime.now(UTC))


def checker(now: float = NOW) -> TimestampedSignature:
    return TimestampedSignature(SECRET, clock=lambda: now)


def test_a_signature_computed_as_documented_verifies() -> None:
    digest = hmac.new(SECRET.encode(), f"v1:{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    headers = {"X-Omnitrail-Timestamp": str(NOW), "X-Omnitrail-Signature": f"v1={digest}"}
    checker().verify(request(BODY, headers))
    assert checker().sign(BODY, NOW) == headers


@pytest.mark.parametrize("skew", [-300, 300, 0])
def test_timestamps_at_the_window_edges_are_accepted(skew: int) -> None:
    checker(NOW + skew).verify(request(BODY, checker().sign(BODY, NOW)))


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_a_replay_outside_the_window_is_refused_in_either_direction(skew: int) -> None:
    with pytest.raises(InvalidSignature, match="window"):
        checker(NOW + skew).verify(request(BODY, checker().sign(BODY, NOW)))


def test_a_tampered_body_or_timestamp_is_refused() -> None:
    headers = checker().sign(BODY, NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        checker().verify(request(BODY.replace(b"e1", b"e2"), headers))
    with pytest.raises(InvalidSignature, match="does not match"):
        checker().verify(request(BODY, {**headers, "X-Omnitrail-Timestamp": str(NOW + 1)}))


def test_a_wrong_secret_missing_headers_or_a_non_numeric_timestamp_are_refused() -> None:
    forged = TimestampedSignature("other", clock=lambda: NOW).sign(BODY, NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        checker().verify(request(BODY, forged))
    with pytest.raises(InvalidSignature, match="missing"):
        checker().verify(request(BODY, {"X-Omnitrail-Timestamp": str(NOW)}))
    with pytest.raises(InvalidSignature, match="Unix seconds"):
        checker().verify(request(BODY, {**checker().sign(BODY, NOW), "X-Omnitrail-Timestamp": "2026-01-01"}))


def test_chatwoots_scheme_signs_timestamp_dot_body_with_a_sha256_prefix() -> None:
    digest = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    headers = {"X-Chatwoot-Timestamp": str(NOW), "X-Chatwoot-Signature": f"sha256={digest}"}
    TimestampedSignature(SECRET, CHATWOOT_SCHEME, clock=lambda: NOW).verify(request(BODY, headers))
    with pytest.raises(InvalidSignature):
        checker().verify(request(BODY, headers))  # not interchangeable with ours
