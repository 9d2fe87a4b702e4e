from __future__ import annotations

from pathlib import Path

import pytest

from omnitrail.registry import SETTINGS_CLASSES
from omnitrail.settings import AppSettings
from schemas.config import load, reject_unknown_env
from schemas.errors import FatalError
from sinks.kafka.settings import KafkaSettings


def test_unknown_variable_is_rejected_by_name() -> None:
    with pytest.raises(FatalError, match="OMNITRAIL_KAFKA_BOOTSTRAPS"):
        reject_unknown_env(list(SETTINGS_CLASSES), {"OMNITRAIL_KAFKA_BOOTSTRAPS": "x", "PATH": "/bin"})
    reject_unknown_env(list(SETTINGS_CLASSES), {"OMNITRAIL_KAFKA_BOOTSTRAP": "x", "OMNITRAIL_TWILIO_AUTH_TOKEN": "t"})


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_HTTP_PORT", "eighty")
    with pytest.raises(FatalError, match="OMNITRAIL_HTTP_PORT"):
        load(AppSettings)


def test_api_tokens_parse_and_bad_roles_are_refused() -> None:
    assert AppSettings(api_tokens="a1:agent, b2:admin").tokens() == {"a1": "agent", "b2": "admin"}
    with pytest.raises(FatalError, match="OMNITRAIL_API_TOKENS"):
        AppSettings(api_tokens="a1:root").tokens()


def test_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_KAFKA_SASL_PASSWORD", "hunter2")
    assert "hunter2" not in repr(load(KafkaSettings))


def test_toml_file_supplies_settings_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text('http_port = 9000\ndefault_region = "br"\n[kafka]\npartitions = 6\n')
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    monkeypatch.setenv("OMNITRAIL_HTTP_PORT", "9100")
    app = load(AppSettings)
    assert (app.http_port, app.default_region) == (9100, "BR")
    assert load(KafkaSettings).partitions == 6


def test_gdpr_retention_parses_per_channel_and_names_bad_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from omnitrail.gdpr_settings import GdprSettings

    monkeypatch.setenv("OMNITRAIL_GDPR_RETENTION_DAYS", "sms=365, email=730")
    assert {c.value: d for c, d in load(GdprSettings).retention().items()} == {
        "sms": timedelta(days=365),
        "email": timedelta(days=730),
    }
    monkeypatch.setenv("OMNITRAIL_GDPR_RETENTION_DAYS", "sms=forever")
    with pytest.raises(FatalError, match="OMNITRAIL_GDPR_RETENTION_DAYS"):
        load(GdprSettings)
    monkeypatch.setenv("OMNITRAIL_GDPR_RETENTION_DAYS", "")
    monkeypatch.setenv("OMNITRAIL_GDPR_HASH_KEY", "short")
    with pytest.raises(FatalError, match="OMNITRAIL_GDPR_HASH_KEY"):
        load(GdprSettings)


def test_public_url_follows_the_http_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNITRAIL_PUBLIC_URL", raising=False)
    monkeypatch.setenv("OMNITRAIL_HTTP_PORT", "8090")
    assert load(AppSettings).public_url == "http://localhost:8090"
    monkeypatch.setenv("OMNITRAIL_PUBLIC_URL", "https://hooks.acme.example/")
    assert load(AppSettings).public_url == "https://hooks.acme.example"


def test_a_settings_error_never_quotes_the_values_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret given under a bad key id (or any invalid value) stays out of the error, however it is printed."""
    from pydantic import ValidationError

    from connectors.twilio.settings import TwilioSettings

    monkeypatch.setenv("OMNITRAIL_TWILIO_SHARED_KEYS", '{"bad key!": "supersecretvalue123"}')
    with pytest.raises(ValidationError) as refused:
        TwilioSettings()
    assert "supersecretvalue123" not in str(refused.value)
