"""``omnitrail connector NAME --backfill-since DATE``: accepted only where a connector can backfill."""

from __future__ import annotations

from click.testing import CliRunner

from omnitrail.cli import main
from omnitrail.registry import CONNECTORS


def test_backfill_is_refused_for_channels_that_cannot_backfill() -> None:
    result = CliRunner().invoke(main, ["connector", "twilio", "--backfill-since", "2026-01-01"])
    assert result.exit_code == 2
    assert "--backfill-since does not apply to the twilio connector" in result.output


def test_backfill_date_must_be_a_date() -> None:
    result = CliRunner().invoke(main, ["connector", "email", "--backfill-since", "last tuesday"])
    assert result.exit_code == 2
    assert "YYYY" in result.output or "%Y-%m-%d" in result.output


def test_email_is_registered_and_can_backfill() -> None:
    assert CONNECTORS["email"].supports_backfill
