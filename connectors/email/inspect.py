"""``omnitrail email inspect FILE...``: mail files through the IMAP connector's own ingest path, offline.

Each file is a single message (``.eml``) or an mbox (first line ``From ``). Every message goes
through :meth:`EmailConnector.ingest` exactly as fetched IMAP messages do (parse, thread,
normalize, dead-letter), with CRLF line ends as an IMAP server delivers them, and comes back as
one result: the interaction, or the dead-letter record saying why. Nothing is sent anywhere: no
broker, no database, no IMAP server. Messages are read in order, so replies thread onto the
messages before them as they would in one mailbox.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.email.connector import EmailConnector
from connectors.email.session import Fetched
from connectors.email.settings import ImapAccount, ImapSettings
from connectors.testing import InMemoryEmitter
from schemas.deadletter import DeadLetter
from schemas.interaction import Interaction

_LINE_END = re.compile(rb"\r?\n")
DEFAULT_ACCOUNT = "support@inspect.invalid"


def crlf(raw: bytes) -> bytes:
    """Line ends as IMAP delivers them (files on disk usually have bare LF)."""
    return _LINE_END.sub(b"\r\n", raw)


def messages(path: Path) -> Iterator[bytes]:
    """The raw messages in a file: an mbox's messages (without their ``From `` lines), else the file."""
    with path.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if not is_mbox:
        yield crlf(path.read_bytes())
        return
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield crlf(box.get_bytes(key))
    finally:
        box.close()


@dataclass(frozen=True)
class Result:
    """What the connector made of one message: exactly one of the two is set."""

    interaction: Interaction | None
    dead_letter: DeadLetter | None

    def as_json(self) -> dict[str, Any]:
        if self.interaction is not None:
            return {"interaction": self.interaction.model_dump(mode="json")}
        assert self.dead_letter is not None
        return {"dead_letter": {"reason": self.dead_letter.reason, "error_type": self.dead_letter.error_type}}


class Inspector:
    """One offline connector for a run: thread memory is kept from one message to the next."""

    def __init__(self, account: str = DEFAULT_ACCOUNT, own_addresses: list[str] | None = None) -> None:
        self.account = ImapAccount(
            host="inspect.invalid", username=account, password=SecretStr("-"), own_addresses=own_addresses or []
        )
        self.connector = EmailConnector(ImapSettings(accounts=[self.account]), default_region="PT")  # no phones in mail
        self.uid = 0

    async def inspect(self, raw: bytes) -> Result:
        self.uid += 1
        out = InMemoryEmitter()
        await self.connector.ingest(self.account, [Fetched(self.uid, raw, None)], out)
        if out.interactions:
            return Result(out.interactions[0], None)
        return Result(None, out.dead_letters[0])
