"""A fresh Dovecot mailbox and email connectors configured against it, for the email integration tests."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from connectors.email import EmailConnector
from connectors.email.settings import ImapAccount, ImapSettings
from connectors.email.threads import ThreadIndex
from tests import email_corpus as corpus
from tests.integration.dovecot import PASSWORD, Dovecot


@dataclass
class Mailbox:
    dovecot: Dovecot
    folders: list[str] = field(default_factory=lambda: ["INBOX"])
    user: str = ""
    batch_size: int = 200
    poll_interval_s: float = 30.0
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    added: int = 0

    def __post_init__(self) -> None:
        self.user = self.user or self.dovecot.new_user()

    def account(self, user: str | None = None) -> ImapAccount:
        return ImapAccount(
            host="127.0.0.1",
            port=self.dovecot.port,
            username=user or self.user,
            password=PASSWORD,
            ssl=False,
            folders=self.folders,
            own_addresses=[corpus.SUPPORT, self.user],
        )

    def connector(self, *extra_users: str, thread_index: ThreadIndex | None = None) -> EmailConnector:
        settings = ImapSettings(
            accounts=[self.account(), *(self.account(u) for u in extra_users)],
            batch_size=self.batch_size,
            poll_interval_s=self.poll_interval_s,
        )
        return EmailConnector(settings, default_region="PT", thread_index=thread_index)

    async def add(self, count: int, folder: str = "INBOX") -> None:
        messages = [corpus.simple(self.tag, self.added + n) for n in range(count)]
        self.added += count
        await asyncio.to_thread(self.dovecot.append, self.user, folder, *messages)
