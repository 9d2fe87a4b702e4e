from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from omnitrail import logs


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    logs.configure("info", "json")
    yield capsys
    logging.getLogger().handlers.clear()


def test_personal_data_never_reaches_the_log_output(captured: pytest.CaptureFixture[str]) -> None:
    log = structlog.get_logger("test")
    log.info(
        "ingested message from ana.silva@example.pt at +351 912 345 678",
        body="Olá, a minha morada é Rua X",
        frm="+351912345678",
        details={"email": "ana@x.pt", "note": "call 912345678"},
        interaction_id="5b60e643-3355-5053-9c25-086be04cafe3",
        count=20000,
    )
    logging.getLogger("thirdparty").warning("user bob@corp.com failed")
    err = captured.readouterr().err
    for secret in ("ana.silva@example.pt", "912 345 678", "912345678", "Rua X", "ana@x.pt", "bob@corp.com"):
        assert secret not in err
    # What operators need stays: ids, counts, event names.
    assert "5b60e643-3355-5053-9c25-086be04cafe3" in err
    assert "20000" in err
    assert "ingested message" in err


def test_scrub_keeps_timestamps_and_uuids() -> None:
    text = "at 2026-11-22T08:57:41Z id 5b60e643-3355-5053-9c25-086be04cafe3 partition 3 offset 1234"
    assert logs.scrub(text) == text


def test_scrub_masks_addresses_the_email_connector_keeps_one_label_domains_and_literals_included() -> None:
    text = 'from root@localhost, maria@empresa and ops@[10.0.0.1]; ana.silva@example.pt, "ana smith"@example.pt'
    scrubbed = logs.scrub(text)
    for address in ("root@localhost", "maria@empresa", "ops@[10.0.0.1]", "ana.silva@example.pt", "ana smith"):
        assert address not in scrubbed
    assert scrubbed.startswith("from ")
