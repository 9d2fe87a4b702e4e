"""Integration fixtures shared by the channel tests: one ``omnitrail up`` with every channel configured
(``tests/channel_env.py``), started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.dovecot import Dovecot
from tests.integration.stack import Stack, start_up


@pytest.fixture(scope="session")
def webhook_stack(broker, database_url, tmp_path_factory) -> Iterator[Stack]:
    running = start_up(tmp_path_factory.mktemp("channels"), bootstrap=broker.bootstrap, database_url=database_url)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the email tests; each test takes a fresh mailbox with ``new_user()``."""
    server = Dovecot.start()
    yield server
    server.stop()
