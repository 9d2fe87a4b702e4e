"""The IMAP connector passes the pull contract every pull connector passes, against a real Dovecot."""

from __future__ import annotations

import pytest

from tests.contract import PullContract, PullSource
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox


class TestEmailPullContract(PullContract):
    @pytest.fixture(autouse=True)
    def _server(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot

    async def source(self) -> PullSource:
        return Mailbox(self.dovecot)
