"""The IMAP pull connector: every message of every configured folder, by UID, exactly once.

Per (account, folder) the checkpoint is ``{"uidvalidity", "last_uid"}``. A poll selects the folder
read-only, fetches the UIDs above ``last_uid`` in batches of ``batch_size`` (a 10,000-message
mailbox is never held in memory at once), parses and threads each message, emits the batch and
only then saves ``last_uid``: a crash or a dropped connection re-reads at most one batch, and the
deterministic interaction ids make the re-read harmless. A UIDVALIDITY change re-reads the whole
folder for the same reason. ``wait_for_more`` IDLEs on each account's first folder (new mail in
seconds) or sleeps ``poll_interval_s`` on servers without IDLE. Blocking imapclient calls run in
worker threads (:mod:`connectors.email.session`).

Accounts fail one by one: an account that cannot authenticate (refused password, revoked OAuth
grant, rejected client secret) stops while the others go on, and one whose server cannot be read
now (unreachable, TLS or DNS failure, BYE, a NO to SELECT or FETCH, a login answered ``[UNAVAILABLE]``)
or whose token endpoint is down sits out a backoff of its own, its checkpoints waiting. A configured
folder the server does not have is skipped and named in the account's state for as long as it is
missing. :meth:`EmailConnector.account_states` tells ``/readyz`` which and why. Only when every
account has stopped does the connector stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import ClassVar

import structlog
from prometheus_client import Counter, Gauge

from connectors.base import Connector, Replayer
from connectors.checkpoints import CheckpointStore
from connectors.email import attachment_bytes, mime
from connectors.email.mime import ParsedEmail
from connectors.email.normalize import MAX_INTERACTION_BYTES, encoded_size, facts, fit, to_interaction
from connectors.email.session import RECONNECT_ERRORS, Fetched, ImapSession, LoginUnavailable
from connectors.email.settings import ImapAccount, ImapSettings, ours
from connectors.email.threads import InMemoryThreadIndex, Placement, Threader, ThreadIndex
from connectors.email.tokens import AuthFailure, TokenEndpointDown
from connectors.emitter import Emitter, send_dead_letter
from connectors.webhook import RawRequest
from schemas.deadletter import DeadLetter
from schemas.errors import FatalError, InvalidPayload, RecordTooLarge
from schemas.identifiers import normalize_email
from schemas.interaction import Interaction
from sinks.kafka.backoff import Backoff

log = structlog.get_logger(__name__)
#: Messages on the server not yet ingested, per folder. Folder names (INBOX, Sent) are not personal
#: data; mailbox addresses are, so they are never a label.
GAP = Gauge("omnitrail_imap_gap_messages", "Messages in a folder not yet ingested", ["connector", "folder"])
ACCOUNT_FAULTS = Counter(
    "omnitrail_imap_account_faults_total", "Mailbox faults one account sat out with a backoff of its own", ["connector"]
)
SOURCE = "email.imap"
MISSING = "missing folders: "


def _parse_all(fetched: list[Fetched]) -> list[ParsedEmail | Exception]:
    results: list[ParsedEmail | Exception] = []
    for item in fetched:
        try:
            results.append(mime.parse(item.raw))
        except Exception as exc:  # returned, not raised: the caller dead-letters this message alone
            results.append(exc)
    return results


class EmailConnector(Connector[ImapSettings]):
    """Addresses need no region: the default region is not used."""

    name: ClassVar[str] = "email"
    #: ``host`` needs ``username`` and a login (the settings refuse it alone): one account either way.
    enabled_by: ClassVar[tuple[str, ...]] = ("host", "accounts")
    retriable: ClassVar[tuple[type[BaseException], ...]] = RECONNECT_ERRORS
    supports_backfill: ClassVar[bool] = True

    def __init__(self, settings: ImapSettings, *, default_region: str, thread_index: ThreadIndex | None = None) -> None:
        super().__init__(settings, default_region=default_region)
        self.accounts = settings.all_accounts()
        if not self.accounts:
            raise FatalError("OMNITRAIL_IMAP_HOST (or [[imap.accounts]] in the config file) is required for email")
        self.sessions = {a.username: ImapSession(a) for a in self.accounts}
        #: Every mailbox's addresses: a colleague's mailbox is never a customer (whichever copy is read first).
        self.ours = ours(self.accounts)
        self.threader = Threader(thread_index or InMemoryThreadIndex())
        self.backfill_since: date | None = None
        #: Accounts whose backfill has not run yet (one waiting out its token endpoint keeps its turn).
        self._backfill_pending: set[str] = set()
        self._missing_reported: set[tuple[str, str]] = set()
        #: Per account, the configured folders the server has (IDLE watches the first of them).
        self._present: dict[str, list[str]] = {}
        #: Per account: "ok", "starting", "missing folders: ..." (the others are read), "retrying: ..."
        #: (server or token endpoint unreachable) or "cannot authenticate: ...".
        self._states: dict[str, str] = {a.username: "starting" for a in self.accounts}
        self._backoff = {a.username: Backoff(1.0, 300.0) for a in self.accounts}
        self._retry_at: dict[str, float] = {}
        #: Where attachment bytes are written before producing (None: only their metadata is kept).
        self._keep: attachment_bytes.Keep | None = None

    def use_thread_index(self, index: ThreadIndex) -> None:
        """Where thread memory lives (``omnitrail`` wires the PostgreSQL one)."""
        self.threader = Threader(index)

    def keep_attachments(self, keep: attachment_bytes.Keep) -> None:
        """Write attachment bytes there before producing (``omnitrail`` wires the media object store)."""
        self._keep = keep

    def backfill(self, since: date) -> None:
        """On the next poll, re-read every message since ``since`` (ids are deterministic: no duplicates)."""
        self.backfill_since = since
        self._backfill_pending = {a.username for a in self.accounts}

    @property
    def pulls(self) -> bool:
        return True

    def account_states(self) -> dict[str, str]:
        """Per mailbox, whether it is read ("ok") or why not; no secret is ever part of a state."""
        return dict(self._states)

    async def poll(self, emitter: Emitter, checkpoints: CheckpointStore) -> int:
        emitted = 0
        for index, account in enumerate(self.accounts):
            user = account.username
            if self._states[user].startswith("cannot authenticate") or self._retry_at.get(user, 0) > time.monotonic():
                continue
            session = self.sessions[user]
            if session.tokens is not None:
                session.tokens.store = checkpoints
            try:
                emitted += await self._poll_account(session, account, emitter, checkpoints)
            except AuthFailure as exc:  # this account stops; the others go on
                self._states[user] = f"cannot authenticate: {exc}"
                log.error("imap.account_stopped", account_index=index, error=str(exc))
                await session.close()
            except TokenEndpointDown as exc:  # nothing was fetched: the checkpoints wait, no mail is lost
                self._retry_later(user, f"retrying: {exc}", "imap.token_endpoint_down", index)
            except RECONNECT_ERRORS as exc:
                if session.fault is not exc:
                    raise  # not this mailbox's server (the broker, the database): the pull loop sits it out
                # Checkpoints moved only after acknowledged batches: the retry re-reads at most one batch.
                await session.close()
                why = str(exc) if isinstance(exc, LoginUnavailable) else type(exc).__name__
                self._retry_later(user, f"retrying: {why}", "imap.account_unreachable", index)
            else:
                missing = [f for f in account.folders if f not in self._present[user]]
                self._states[user] = f"{MISSING}{', '.join(missing)}" if missing else "ok"
                self._backoff[user].reset()
                self._backfill_pending.discard(user)
        if not self._backfill_pending:
            self.backfill_since = None
        stopped = [s for s in self._states.values() if s.startswith("cannot authenticate: ")]
        if len(stopped) == len(self.accounts):
            raise FatalError("; ".join(sorted({s.removeprefix("cannot authenticate: ") for s in stopped})))
        return emitted

    def _retry_later(self, user: str, state: str, event: str, index: int) -> None:
        """This account alone waits out its backoff; the others are polled meanwhile."""
        delay = self._backoff[user].next()
        self._retry_at[user] = time.monotonic() + delay
        self._states[user] = state
        ACCOUNT_FAULTS.labels(self.name).inc()
        log.warning(event, account_index=index, error=state.removeprefix("retrying: "), delay=round(delay, 2))

    def _reading(self, user: str) -> bool:
        """Whether the last poll read this account (all its folders, or those the server has)."""
        return self._states[user] == "ok" or self._states[user].startswith(MISSING)

    async def _poll_account(
        self, session: ImapSession, account: ImapAccount, emitter: Emitter, checkpoints: CheckpointStore
    ) -> int:
        emitted = 0
        existing = await session.folders()
        self._present[account.username] = [f for f in account.folders if f in existing]
        for folder in account.folders:
            if folder not in existing:
                self._report_missing(account, folder)
                continue
            self._missing_reported.discard((account.username, folder))  # back: warn again if it goes
            if self.backfill_since is not None and account.username in self._backfill_pending:
                emitted += await self._backfill(session, account, folder, emitter, checkpoints)
            emitted += await self._poll_folder(session, account, folder, emitter, checkpoints)
        return emitted

    def _report_missing(self, account: ImapAccount, folder: str) -> None:
        if (account.username, folder) not in self._missing_reported:
            self._missing_reported.add((account.username, folder))
            log.warning("imap.folder_missing", folder=folder)

    async def _poll_folder(
        self, session: ImapSession, account: ImapAccount, folder: str, emitter: Emitter, checkpoints: CheckpointStore
    ) -> int:
        state = await session.select(folder)
        saved = await checkpoints.load(self.name, account.username, folder)
        last_uid = 0
        if saved is not None and saved.get("uidvalidity") == state.uidvalidity:
            last_uid = int(saved.get("last_uid", 0))
        elif saved is not None:
            log.warning("imap.uidvalidity_changed", folder=folder, resync=True)
        uids = await session.uids_after(last_uid)
        GAP.labels(self.name, folder).set(len(uids))  # stays up if ingesting fails: alert on it
        if uids:
            log.info("imap.fetching", folder=folder, server_messages=state.exists, pending=len(uids))
        emitted = 0
        for start in range(0, len(uids), self.settings.batch_size):
            batch = uids[start : start + self.settings.batch_size]
            emitted += await self._ingest(session, account, batch, emitter)
            # Every message up to max(batch) is on the broker (or dead-lettered): only now move on.
            await checkpoints.save(
                self.name, account.username, folder, {"uidvalidity": state.uidvalidity, "last_uid": batch[-1]}
            )
            GAP.labels(self.name, folder).set(len(uids) - start - len(batch))
        return emitted

    async def _backfill(
        self, session: ImapSession, account: ImapAccount, folder: str, emitter: Emitter, checkpoints: CheckpointStore
    ) -> int:
        assert self.backfill_since is not None
        await session.select(folder)
        uids = await session.uids_since(self.backfill_since)
        emitted = 0
        for start in range(0, len(uids), self.settings.batch_size):
            emitted += await self._ingest(session, account, uids[start : start + self.settings.batch_size], emitter)
        saved = await checkpoints.load(self.name, account.username, folder)
        log.info(
            "imap.backfill_done",
            folder=folder,
            since=self.backfill_since.isoformat(),
            server_messages=len(uids),
            ingested=emitted,
            gap=len(uids) - emitted,
            checkpoint_uid=(saved or {}).get("last_uid"),
        )
        return emitted

    async def _ingest(self, session: ImapSession, account: ImapAccount, uids: list[int], emitter: Emitter) -> int:
        return await self.ingest(account, await session.fetch(uids), emitter)

    async def ingest(self, account: ImapAccount, fetched: list[Fetched], emitter: Emitter) -> int:
        """Parse, thread and emit fetched messages; unreadable ones are dead-lettered with their bytes.

        So is one too large for the broker even trimmed (:func:`~connectors.email.normalize.fit`), alone: the rest
        of the batch is emitted and the checkpoint moves on. Its bytes may be over the broker's limit as well; an
        emitter with ``bodies`` (as ``omnitrail`` wires it) keeps them in a file then.

        Also ``omnitrail email inspect``'s path for files (:mod:`connectors.email.inspect`).
        """
        own = self.ours
        received_at = datetime.now(UTC)
        # The stdlib's modern header parser costs milliseconds a message: parse off the event loop.
        results = await asyncio.to_thread(_parse_all, fetched)
        parsed: list[tuple[Fetched, ParsedEmail, datetime]] = []
        for item, result in zip(fetched, results, strict=True):
            if isinstance(result, Exception):  # parse() is built not to raise; if it ever does, keep the bytes
                await self._dead_letter(emitter, item, result)
                continue
            parsed.append((item, result, result.date or item.internal_date or received_at))
        placements = await self.threader.place_many([facts(m, own, at) for _, m, at in parsed])
        ready: list[tuple[Fetched, Interaction]] = []
        for (item, message, occurred_at), placement in zip(parsed, placements, strict=True):
            try:
                ready.append((item, self._interaction(message, account, own, occurred_at, received_at, placement)))
            except Exception as exc:  # any message that cannot become an interaction is dead-lettered, not lost
                await self._dead_letter(emitter, item, exc)
                continue
            if message.attachments and self._keep is not None:
                await self._keep_bytes(item.raw, {a.sha256 for a in message.attachments})
        if not ready:
            return 0
        try:
            await emitter.emit_many([interaction for _, interaction in ready])
        except RecordTooLarge:  # a broker with a lower limit than ours: find which, and dead-letter only those
            return await self._emit_one_by_one(ready, emitter)
        return len(ready)

    async def _emit_one_by_one(self, ready: list[tuple[Fetched, Interaction]], emitter: Emitter) -> int:
        emitted = 0
        for item, interaction in ready:
            try:
                await emitter.emit(interaction)
            except RecordTooLarge as exc:
                await self._dead_letter(emitter, item, exc)
            else:
                emitted += 1
        return emitted

    @staticmethod
    def _interaction(
        message: ParsedEmail,
        account: ImapAccount,
        own: frozenset[str],
        occurred_at: datetime,
        received_at: datetime,
        placement: Placement,
    ) -> Interaction:
        interaction = fit(
            to_interaction(
                message,
                account=account.username,
                own=own,
                occurred_at=occurred_at,
                received_at=received_at,
                placement=placement,
            )
        )
        if encoded_size(interaction) > MAX_INTERACTION_BYTES:  # what cannot be cut (recipients, attachments, ...)
            raise RecordTooLarge("message too large for the broker even without its HTML, quoted history and text")
        if not interaction.names_a_customer():
            # Internal mail among our own addresses: no customer's timeline to put it on. (Without a
            # usable From, the sender is unknown and the message goes to a contact of its conversation.)
            raise InvalidPayload("message names no customer address (only our own addresses)")
        return interaction

    async def _keep_bytes(self, raw: bytes, wanted: set[str]) -> None:
        """Before the interaction is produced: a retry of this batch writes the same keys again, harmlessly."""
        assert self._keep is not None
        found = await asyncio.to_thread(lambda: list(attachment_bytes.payloads(raw, wanted)))
        for digest, data in found:
            await self._keep(digest, data)

    @staticmethod
    async def _dead_letter(emitter: Emitter, item: Fetched, exc: Exception) -> None:
        reason = (
            exc.reason if isinstance(exc, InvalidPayload) else f"message cannot be normalized: {type(exc).__name__}"
        )
        letter = DeadLetter.of(
            item.raw, reason, source=SOURCE, content_type="message/rfc822", error_type=type(exc).__name__
        )
        await send_dead_letter(emitter, letter)

    def replayers(self) -> Mapping[str, Replayer]:
        return {SOURCE: self._replay}

    async def _replay(self, raw: RawRequest) -> list[Interaction]:
        """A dead-lettered message read again, threaded like a new one, as the mailbox it belongs to."""
        message = mime.parse(raw.body)
        account = self._mailbox_of(message)
        occurred_at = message.date or raw.received_at
        own = self.ours
        [placement] = await self.threader.place_many([facts(message, own, occurred_at)])
        return [self._interaction(message, account, own, occurred_at, raw.received_at, placement)]

    def _mailbox_of(self, message: ParsedEmail) -> ImapAccount:
        """The one configured mailbox, or the one whose own addresses the message names (the letter does not say)."""
        if len(self.accounts) == 1:
            return self.accounts[0]
        named = set()
        for box in [*([message.sender] if message.sender else []), *message.to, *message.cc]:
            with contextlib.suppress(InvalidPayload):
                named.add(normalize_email(box.address))
        owners = [account for account in self.accounts if account.own() & named]
        if len(owners) != 1:
            raise InvalidPayload("the message names the addresses of no single configured mailbox")
        return owners[0]

    async def wait_for_more(self) -> None:
        timeout = self.settings.poll_interval_s
        if self._retry_at:  # an account waiting out its token endpoint is polled again when its backoff ends
            timeout = max(0.0, min(timeout, min(self._retry_at.values()) - time.monotonic()))
            self._retry_at = {u: t for u, t in self._retry_at.items() if t > time.monotonic()}
        watchers = []
        for account in self.accounts:
            session = self.sessions[account.username]
            present = self._present.get(account.username)
            if present and self._reading(account.username) and await session.supports_idle():
                session.stop_idle.clear()
                watchers.append((session, asyncio.create_task(session.idle(present[0], timeout))))
        if not watchers:
            await asyncio.sleep(timeout)
            return
        try:
            await asyncio.wait([task for _, task in watchers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for session, _ in watchers:
                session.stop_idle.set()  # the other IDLEs end within a slice; their sessions are reused next poll
            results = await asyncio.gather(*(task for _, task in watchers), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def close(self) -> None:
        for session in self.sessions.values():
            await session.close()
