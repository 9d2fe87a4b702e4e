"""Webhook subscriber configuration, filtering and the documented signature scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from schemas.config import load
from schemas.errors import FatalError
from sinks.subscriptions import signature
from sinks.subscriptions.settings import Subscriber, SubscriptionSettings

SECRET = "0123456789abcdef-secret"


def test_subscribers_from_environment_json(monkeypatch: pytest.MonkeyPatch) -> None:
    subscribers = [{"name": "crm", "url": "https://crm.example/hook", "secret": SECRET, "channels": ["sms"]}]
    monkeypatch.setenv("OMNITRAIL_WEBHOOKS_SUBSCRIBERS", json.dumps(subscribers))
    settings = load(SubscriptionSettings)
    assert [s.name for s in settings.subscribers] == ["crm"]
    assert SECRET not in repr(settings)


def test_subscribers_from_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(
        '[webhooks]\nmax_attempts = 4\n[[webhooks.subscribers]]\nname = "bi"\nurl = "http://bi.internal/in"\n'
        f'secret = "{SECRET}"\nevent_types = ["contact.merged"]\n'
    )
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    settings = load(SubscriptionSettings)
    assert settings.max_attempts == 4
    assert settings.subscribers[0].wants("contact.merged", None)
    assert not settings.subscribers[0].wants("interaction.added", "sms")


@pytest.mark.parametrize(
    ("subscriber", "message"),
    [
        ({"name": "crm", "url": "https://crm.example/hook", "secret": "short"}, "16 characters"),
        ({"name": "CRM!", "url": "https://crm.example/hook", "secret": SECRET}, "OMNITRAIL_WEBHOOKS_SUBSCRIBERS"),
        ({"name": "crm", "url": "ftp://crm.example", "secret": SECRET}, "OMNITRAIL_WEBHOOKS_SUBSCRIBERS"),
        ({"name": "crm", "url": "https://x.example", "secret": SECRET, "channels": ["fax"]}, "SUBSCRIBERS_0_CHANNELS"),
    ],
)
def test_bad_subscriber_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, subscriber: dict[str, object], message: str
) -> None:
    monkeypatch.setenv("OMNITRAIL_WEBHOOKS_SUBSCRIBERS", json.dumps([subscriber]))
    with pytest.raises(FatalError, match=message):
        load(SubscriptionSettings)


def test_channel_filter_keeps_only_interaction_events_of_those_channels() -> None:
    sub = Subscriber(name="wa", url="https://x.example", secret=SECRET, channels=["whatsapp"])
    assert sub.wants("interaction.added", "whatsapp")
    assert not sub.wants("interaction.added", "sms")
    assert not sub.wants("contact.created", None)
    assert Subscriber(name="all", url="https://x.example", secret=SECRET).wants("contact.created", None)


def test_signature_verifies_and_rejects_tampering_and_replays() -> None:
    body = b'{"event_id": "e1", "type": "interaction.added"}'
    headers = signature.headers(SECRET, 1_700_000_000, body, event_id="e1", event_type="interaction.added")
    assert signature.verify(SECRET, headers, body, now=1_700_000_010)
    assert not signature.verify(SECRET, headers, body + b" ", now=1_700_000_010)
    assert not signature.verify("another-secret-of-16", headers, body, now=1_700_000_010)
    assert not signature.verify(SECRET, headers, body, now=1_700_000_000 + 301)  # too old: a replay
    # The documented construction, independently: HMAC-SHA256 hex over "<timestamp>.<body>".
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["Omnitrail-Signature"] == f"v1={expected}"


def test_the_receiver_example_in_the_operations_guide_verifies_our_signatures() -> None:
    """The snippet downstream teams copy from docs/operations.md accepts what the sink sends."""
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    snippet = guide.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(snippet), namespace)  # noqa: S102  # our own documentation, under test
    body = b'{"event_id": "e1"}'
    headers = signature.headers(SECRET, int(time.time()), body, event_id="e1", event_type="interaction.added")
    assert namespace["verify"](SECRET.encode(), headers, body)
    assert not namespace["verify"](SECRET.encode(), headers, body.replace(b"e1", b"e2"))
