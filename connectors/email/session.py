"""One logged-in IMAP connection, made async: every imapclient call runs in a worker thread.

``imapclient`` is synchronous (it wraps ``imaplib``); each call here goes through
``asyncio.to_thread`` so the event loop (webhooks, other pull loops) never blocks on the network.
A session is used by one task at a time. Failures that mean "reconnect" (server BYE, a dropped
socket, a timeout) surface as ``imaplib.IMAP4.abort`` / ``OSError``, after which the connector closes
the session and retries that account alone; bad credentials are an
:class:`~connectors.email.tokens.AuthFailure`. A login the server cannot complete *now* (RFC 5530
``[UNAVAILABLE]``, ``[INUSE]``, ``[LIMIT]``, ``[SERVERBUG]``: its authentication backend is down, the
provider throttles) is a :class:`LoginUnavailable`, one of
those reconnect errors: the password may be right. Every reconnect error that comes from the server
is remembered in :attr:`ImapSession.fault`, so the connector can tell one mailbox's outage from the
broker's or the database's.

An ``auth = "oauth2"`` account logs in with SASL XOAUTH2 or OAUTHBEARER and the access token of its
:class:`~connectors.email.tokens.TokenSource`; a refused token is replaced once (it may have been
revoked or expired early) before the login counts as refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from connectors.email.settings import ImapAccount
from connectors.email.tokens import AuthFailure, TokenSource

#: What means "drop the connection and try again": server BYE, EOF, socket errors, timeouts, and
#: NO/BAD answers (``[UNAVAILABLE]``, ``[INUSE]`` ...), which the backoff sits out. Refused logins
#: are an AuthFailure instead: retrying cannot fix a password.
RECONNECT_ERRORS: tuple[type[BaseException], ...] = (imaplib.IMAP4.error, OSError, EOFError, TimeoutError)
_FETCH_ITEMS = ["BODY.PEEK[]", "INTERNALDATE"]
#: RFC 5530 response codes that say a login failed for now, not for good. Any other answer, with
#: ``[AUTHENTICATIONFAILED]``, ``[AUTHORIZATIONFAILED]``, ``[EXPIRED]``... or no code at all (a BAD
#: included: the server refused the command itself), is a refused login.
_TEMPORARY_LOGIN = re.compile(r"\[(UNAVAILABLE|INUSE|LIMIT|SERVERBUG)\b")


class LoginUnavailable(imaplib.IMAP4.error):
    """The server could not log the account in now (its code, e.g. ``UNAVAILABLE``, is the message)."""


def _raise_if_temporary(exc: LoginError) -> None:
    """A login that failed for now becomes :class:`LoginUnavailable` (only the code is kept: no server text)."""
    found = _TEMPORARY_LOGIN.search(str(exc))
    if found is not None:
        raise LoginUnavailable(f"IMAP login temporarily unavailable ([{found.group(1)}])") from exc


#: IDLE is checked in slices this long, so another task can end it promptly.
IDLE_SLICE_S = 1.0


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    exists: int


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None


class ImapSession:
    def __init__(self, account: ImapAccount, *, timeout: float = 60.0) -> None:
        self.account = account
        self.timeout = timeout
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self.stop_idle = threading.Event()
        self.tokens = TokenSource(account.username, account) if account.auth == "oauth2" else None
        #: The last reconnect error the server (or the way to it) raised; None again after :meth:`close`.
        self.fault: BaseException | None = None

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except LoginError:
            raise  # _connect decides: refused (AuthFailure) or unavailable (remembered there)
        except RECONNECT_ERRORS as exc:
            self.fault = exc
            raise

    def _connect_sync(self, token: str | None) -> IMAPClient:
        """Connect and log in: with the password, or with ``token`` (SASL); LoginError when refused."""
        acct = self.account
        client = IMAPClient(acct.host, port=acct.effective_port, ssl=acct.ssl, timeout=self.timeout)
        try:
            if acct.starttls:
                client.starttls(ssl.create_default_context())
            if token is None:
                assert acct.password is not None  # the settings require it with auth = "password"
                client.login(acct.username, acct.password.get_secret_value())
            elif acct.oauth_mechanism == "OAUTHBEARER":
                client.oauthbearer_login(acct.username, token)
            else:
                client.oauth2_login(acct.username, token)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    async def _connect(self) -> IMAPClient:
        try:
            return await self._login()
        except LoginUnavailable as exc:
            self.fault = exc
            raise

    async def _login(self) -> IMAPClient:
        if self.tokens is None:
            try:
                return await self._call(self._connect_sync, None)
            except LoginError as exc:
                _raise_if_temporary(exc)
                raise AuthFailure("IMAP login refused: check the username and password") from exc
        try:
            return await self._call(self._connect_sync, await self.tokens.access_token())
        except LoginError as exc:
            _raise_if_temporary(exc)
            self.tokens.invalidate()  # revoked or expired early: one new token before giving up
        try:
            return await self._call(self._connect_sync, await self.tokens.access_token())
        except LoginError as exc:
            _raise_if_temporary(exc)
            raise AuthFailure(
                "IMAP login refused a fresh OAuth token: check the username and the mailbox's IMAP permission"
            ) from exc

    async def client(self) -> IMAPClient:
        if self._client is None:
            self._client = await self._connect()
            self._selected = None
        return self._client

    async def folders(self) -> set[str]:
        client = await self.client()
        listed = await self._call(client.list_folders)
        return {str(name) for _flags, _delim, name in listed}

    async def select(self, folder: str) -> FolderState:
        client = await self.client()
        info = await self._call(client.select_folder, folder, readonly=True)
        self._selected = folder
        return FolderState(int(info[b"UIDVALIDITY"]), int(info.get(b"EXISTS", 0)))

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` in the selected folder, ascending (``N:*`` also matches the highest UID)."""
        client = await self.client()
        found = await self._call(client.search, ["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in found if int(u) > last_uid)

    async def uids_since(self, since: date) -> list[int]:
        client = await self.client()
        return sorted(int(u) for u in await self._call(client.search, ["SINCE", since]))

    async def fetch(self, uids: list[int]) -> list[Fetched]:
        client = await self.client()
        response = await self._call(client.fetch, uids, _FETCH_ITEMS)
        result = []
        for uid in uids:
            item = response.get(uid)
            if item is None:  # expunged between SEARCH and FETCH: nothing to take
                continue
            body = item.get(b"BODY[]")
            if body is None:  # the server answered without the body (a transient server fault): fetch again
                self.fault = imaplib.IMAP4.abort("FETCH response without BODY[]")
                raise self.fault
            internal = item.get(b"INTERNALDATE")
            if isinstance(internal, datetime) and internal.tzinfo is None:
                internal = internal.astimezone(UTC)  # imapclient returns local time without tz by default
            result.append(Fetched(uid, bytes(body), internal))
        return result

    async def supports_idle(self) -> bool:
        client = await self.client()
        return bool(await self._call(client.has_capability, "IDLE"))

    def _idle_sync(self, client: IMAPClient, timeout: float) -> bool:
        client.idle()
        try:
            deadline = time.monotonic() + timeout
            while not self.stop_idle.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=min(IDLE_SLICE_S, max(0.0, deadline - time.monotonic())))
                if responses:
                    return True
            return False
        finally:
            client.idle_done()

    async def idle(self, folder: str, seconds: float) -> bool:
        """IDLE on ``folder`` until the server reports a change, ``seconds`` pass or ``stop_idle`` is set
        (the caller clears it before starting); True on change."""
        if self._selected != folder:
            await self.select(folder)
        if self.stop_idle.is_set():  # another account already saw new mail while this one selected
            return False
        return bool(await self._call(self._idle_sync, await self.client(), seconds))

    async def close(self) -> None:
        client, self._client, self._selected = self._client, None, None
        self.fault = None
        if client is not None:
            with contextlib.suppress(Exception):  # the connection may already be gone; closing must not fail
                await self._call(client.logout)
            with contextlib.suppress(Exception):
                await self._call(client.shutdown)
