"""Signed media URLs: valid on every console with the same tokens, until they expire, for one file only."""

from __future__ import annotations

from console.media_urls import MediaUrls

SHA = "ab" * 32


def token_of(url: str) -> str:
    return url.removeprefix("/media/")


def test_a_url_names_one_file_and_expires() -> None:
    here, there = (
        MediaUrls(["agent-token", "admin-token"], ttl_s=300),
        MediaUrls(["admin-token", "agent-token"], ttl_s=300),
    )
    url = here.url(SHA, "thumbnail", "image/png", "foto.png", now=1000)
    grant = there.read(token_of(url), now=1299)  # another console process with the same configuration
    assert grant is not None
    assert (grant.sha256, grant.variant, grant.content_type, grant.name) == (SHA, "thumbnail", "image/png", "foto.png")
    assert there.read(token_of(url), now=1301) is None  # expired


def test_a_changed_or_foreign_url_is_refused() -> None:
    urls = MediaUrls(["agent-token"], ttl_s=300)
    token = token_of(urls.url(SHA, "original", "application/pdf", "fatura.pdf", now=1000))
    mac = token.rpartition(".")[2]
    other = token_of(urls.url("cd" * 32, "original", "application/pdf", "fatura.pdf", now=1000))
    assert urls.read(f"{other.rpartition('.')[0]}.{mac}", now=1001) is None  # another file under this signature
    assert MediaUrls(["rotated-token"], ttl_s=300).read(token, now=1001) is None  # tokens rotated: key rotated
    assert urls.read("garbage", now=1001) is None


def test_without_api_tokens_the_key_is_the_process_own() -> None:
    url = MediaUrls([], ttl_s=300).url(SHA, "original", "image/png", "x.png")
    assert MediaUrls([], ttl_s=300).read(token_of(url)) is None  # not derivable from an empty configuration
