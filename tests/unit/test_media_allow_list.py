"""The media allow-list: only the providers' hosts, over HTTPS, without credentials in the URL."""

from __future__ import annotations

import pytest

from pipeline.media.fetch import AllowList, Refused, sniff
from sinks.media.settings import PROVIDER_HOSTS, MediaSettings

PRODUCTION = AllowList(MediaSettings().hosts())


@pytest.mark.parametrize(
    "url",
    [
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://mms.twiliocdn.com/AC1/abc",
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/1.jpg?oe=66A0B1C2",
        "https://api.telegram.org/file/bot1:x/photos/file_1.jpg",
    ],
)
def test_the_providers_media_hosts_are_allowed_by_default(url: str) -> None:
    PRODUCTION.check(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://api.twilio.com/2010-04-01/x", "not fetched: scheme http is not allowed"),
        ("https://169.254.169.254/latest/meta-data/", "not fetched: the host is not an allowed media host"),
        ("https://localhost/admin", "not fetched: the host is not an allowed media host"),
        ("https://eviltwiliocdn.com/x", "not fetched: the host is not an allowed media host"),
        ("https://api.twilio.com.evil.example/x", "not fetched: the host is not an allowed media host"),
        ("https://user:secret@api.twilio.com/x", "not fetched: credentials in the URL"),
        ("file:///etc/passwd", "not fetched: scheme file is not allowed"),
        ("ftp://api.twilio.com/x", "not fetched: scheme ftp is not allowed"),
    ],
)
def test_anything_else_is_refused_with_a_reason_that_names_no_url(url: str, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        PRODUCTION.check(url)
    assert str(refused.value) == reason


def test_the_defaults_are_the_documented_provider_hosts() -> None:
    assert MediaSettings().hosts() == PROVIDER_HOSTS


def test_the_type_comes_from_the_bytes() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "image/png"
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'><script>x()</script></svg>") == "application/octet-stream"
    assert sniff(b"<!doctype html><html><script>x()</script>") == "application/octet-stream"
