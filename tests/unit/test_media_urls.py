"""Signed media URLs: valid on every console with the same secret, until they expire, for one file only."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from console.media_urls import MediaUrls
from console.session import SessionCodec
from tests.helpers import resigned

SHA = "ab" * 32
SECRET = b"the-deployment-secret-of-32-bytes-or-more"


def token_of(url: str) -> str:
    return url.removeprefix("/media/")


def test_a_url_names_one_file_and_expires() -> None:
    here, there = MediaUrls(SECRET, ttl_s=300), MediaUrls(SECRET, ttl_s=300)
    url = here.url(SHA, "thumbnail", "image/png", "foto.png", now=1000)
    grant = there.read(token_of(url), now=1299)  # another console process of the deployment
    assert grant is not None
    assert (grant.sha256, grant.variant, grant.content_type, grant.name) == (SHA, "thumbnail", "image/png", "foto.png")
    assert there.read(token_of(url), now=1301) is None  # expired


def test_a_changed_or_foreign_url_is_refused() -> None:
    urls = MediaUrls(SECRET, ttl_s=300)
    token = token_of(urls.url(SHA, "original", "application/pdf", "fatura.pdf", now=1000))
    mac = token.rpartition(".")[2]
    other = token_of(urls.url("cd" * 32, "original", "application/pdf", "fatura.pdf", now=1000))
    assert urls.read(f"{other.rpartition('.')[0]}.{mac}", now=1001) is None  # another file under this signature
    assert MediaUrls(b"another-secret" * 3, ttl_s=300).read(token, now=1001) is None  # secret changed
    assert urls.read("garbage", now=1001) is None
    assert urls.read("a.é", now=1001) is None  # refused, not a TypeError (a 500)


def test_neither_the_secret_nor_the_session_key_nor_the_old_token_derivation_signs_a_url() -> None:
    urls = MediaUrls(SECRET, ttl_s=300)
    token = token_of(urls.url(SHA, "original", "image/png", "x.png", now=1000))
    session_key = hmac.new(b"omnitrail-console-session-v2", SECRET, hashlib.sha256).digest()
    old = hmac.new(b"omnitrail-media-url-v1", b"admin-token\nagent-token", hashlib.sha256).digest()
    for key in (SECRET, session_key, old, hmac.new(b"omnitrail-media-url-v1", SECRET, hashlib.sha256).digest()):
        assert urls.read(resigned(token, key), now=1001) is None
    # and a session cookie (signed with the session key of the same secret) is no URL
    cookie, _ = SessionCodec(SECRET, lifetime_s=60).issue("tok_x", now=1000)
    assert urls.read(cookie, now=1001) is None


def test_a_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MediaUrls(b"short", ttl_s=300)
