"""The page's session cookie, CSRF token and sign-in throttle, without services."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from console.auth import TokenAuth
from console.routes import page
from console.session import SessionCodec, fingerprint
from console.throttle import Throttle

SECRET = b"a-session-secret-of-32-bytes-or-more"


def test_cookie_names_a_fingerprint_and_rejects_tampering_expiry_and_other_keys() -> None:
    codec = SessionCodec(SECRET, lifetime_s=60)
    cookie, session = codec.issue(fingerprint("secret-token"), now=1000)
    assert "secret-token" not in cookie
    assert codec.read(cookie, now=1030) == session
    assert codec.read(cookie, now=1061) is None  # expired
    body, _, mac = cookie.rpartition(".")
    assert codec.read(body + "." + mac[::-1], now=1030) is None
    assert codec.read("x" + cookie, now=1030) is None
    assert SessionCodec(b"another-secret" * 3, lifetime_s=60).read(cookie, now=1030) is None  # secret changed


def test_a_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short", lifetime_s=60)


def test_csrf_token_is_bound_to_the_session() -> None:
    codec = SessionCodec(SECRET, lifetime_s=60)
    _, one = codec.issue("tok_a")
    _, two = codec.issue("tok_a")
    assert codec.csrf_ok(one, codec.csrf_token(one))
    assert not codec.csrf_ok(one, codec.csrf_token(two))
    assert not codec.csrf_ok(one, None)
    assert not codec.csrf_ok(one, "")
    assert not codec.csrf_ok(one, "é")  # refused, not a TypeError (a 500 on any API call)


def test_a_cookie_with_text_no_cookie_of_ours_holds_is_no_session() -> None:
    codec = SessionCodec(SECRET, lifetime_s=60)
    cookie, _ = codec.issue("tok_a", now=1000)
    for forged in ("a.é", cookie + "é", "é" + cookie, "\udc80.x"):
        assert codec.read(forged, now=1001) is None  # refused, not a TypeError (the sign-in page answered 500)


def _no_database() -> Any:
    raise AssertionError("a refused or throttled sign-in must not reach the session store")


@pytest.fixture
async def signin_client() -> httpx.AsyncClient:
    app = FastAPI()
    auth = TokenAuth({"agent-token": "agent"}, _no_database)
    app.include_router(page.router(auth, Throttle(limit=3, window_s=300), secure_cookie=True))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test")


async def test_failed_signins_are_throttled_even_for_the_right_token_then(signin_client: httpx.AsyncClient) -> None:
    async with signin_client as client:
        for _ in range(3):
            assert (await client.post("/signin", data={"token": "guess"})).status_code == 401
        throttled = await client.post("/signin", data={"token": "agent-token"})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in throttled.text
