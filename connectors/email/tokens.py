"""OAuth 2.0 access tokens for IMAP (SASL XOAUTH2 / OAUTHBEARER), one :class:`TokenSource` per account.

The token endpoint is spoken to with Authlib's OAuth 2.0 client (``authlib.integrations.requests_client``,
run in a worker thread like imapclient): the refresh-token grant (Google, Microsoft delegated access)
and the client-credentials grant (Microsoft 365 app-only access to a shared mailbox). The access
token is kept in memory and replaced shortly before it expires, and once more when the IMAP server
refuses it (:meth:`TokenSource.invalidate`). A refresh token the provider rotates is saved at once
(``oauth_refresh_tokens`` in PostgreSQL, next to the checkpoints), so a restart needs no new consent.

What goes wrong is sorted for the operator (``/readyz``), never with a secret in it:
:class:`AuthFailure` (the grant expired or was revoked, the client secret is wrong: retrying cannot
help, the account stops) and :class:`TokenEndpointDown` (unreachable, 5xx: the account retries with
a backoff and its checkpoints wait, so no mail is lost).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import structlog
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from connectors.email.settings import ImapLogin
from schemas.errors import FatalError, RetriableError

log = structlog.get_logger(__name__)
CONNECTOR = "email"
HTTP_TIMEOUT_S = 15.0
#: A token is renewed when less than this share of its lifetime is left (and at most a minute before).
RENEW_SHARE = 0.25
RENEW_AT_MOST_S = 60.0


@dataclass(frozen=True)
class Endpoints:
    token_url: str
    device_url: str | None
    scopes: tuple[str, ...]


def _microsoft(login: ImapLogin) -> Endpoints:
    base = f"https://login.microsoftonline.com/{login.oauth_tenant}/oauth2/v2.0"
    if login.oauth_grant == "client_credentials":  # app-only: the permissions granted to the app, as a whole
        scopes: tuple[str, ...] = ("https://outlook.office365.com/.default",)
    else:
        scopes = ("https://outlook.office365.com/IMAP.AccessAsUser.All", "offline_access")
    return Endpoints(f"{base}/token", f"{base}/devicecode", scopes)


#: Google: the full-mail scope is the only one IMAP accepts.
GOOGLE = Endpoints(
    "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code", ("https://mail.google.com/",)
)


class AuthFailure(FatalError):
    """This account cannot log in and retrying will not change it; the text says why and what to do."""


class TokenEndpointDown(RetriableError):
    """The token endpoint did not answer usefully (network, 5xx, temporarily_unavailable): try again later."""


class RefreshTokenStore(Protocol):
    async def load_refresh_token(self, connector: str, account: str) -> str | None: ...

    async def save_refresh_token(self, connector: str, account: str, token: str) -> None: ...


def session(login: ImapLogin, scopes: tuple[str, ...]) -> OAuth2Session:
    secret = login.oauth_client_secret.get_secret_value() if login.oauth_client_secret else None
    return OAuth2Session(
        client_id=login.oauth_client_id,
        client_secret=secret,
        scope=" ".join(scopes),
        # Google and Microsoft take the secret in the body; a public client (device flow) has none.
        token_endpoint_auth_method="client_secret_post" if secret else "none",
    )


#: Error codes (RFC 6749 section 5.2 and extensions) that mean "the provider is struggling, ask again later".
_TRANSIENT = frozenset({"temporarily_unavailable", "server_error"})


def explain(exc: BaseException) -> AuthFailure | TokenEndpointDown:
    """The operator's reading of a token-endpoint failure (error codes only: descriptions may echo input)."""
    if isinstance(exc, OAuthError):
        code = exc.error or "error"
        if code in _TRANSIENT:
            return TokenEndpointDown(f"token endpoint answered {code}")
        if code == "invalid_grant":
            return AuthFailure(
                "the grant expired or was revoked (invalid_grant): run `omnitrail connector email authorize`"
            )
        if code in ("invalid_client", "unauthorized_client"):
            return AuthFailure(f"the token endpoint rejected the client ({code}): check oauth_client_id and the secret")
        return AuthFailure(f"the token endpoint refused the request ({code}): check oauth_scopes and oauth_grant")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return TokenEndpointDown(f"token endpoint answered HTTP {exc.response.status_code}")
    if isinstance(exc, ValueError):  # a proxy's error page, a wrong URL: not an OAuth 2.0 answer
        return TokenEndpointDown("token endpoint answered something other than OAuth 2.0 JSON: check its URL")
    return TokenEndpointDown(f"token endpoint unreachable ({type(exc).__name__})")


async def resolve(login: ImapLogin) -> Endpoints:
    """Where the tokens come from: the preset, OpenID Connect discovery of ``oauth_issuer``, or the URLs given."""
    if login.oauth_provider == "google":
        preset = GOOGLE
    elif login.oauth_provider == "microsoft":
        preset = _microsoft(login)
    elif login.oauth_issuer is not None and login.oauth_token_url is None:
        preset = await asyncio.to_thread(_discover, login.oauth_issuer)
    else:
        preset = Endpoints(login.oauth_token_url or "", login.oauth_device_url, ())
    return Endpoints(
        login.oauth_token_url or preset.token_url,
        login.oauth_device_url or preset.device_url,
        tuple(login.oauth_scopes) or preset.scopes,
    )


def _discover(issuer: str) -> Endpoints:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise explain(exc) from exc
    if "token_endpoint" not in document:
        raise AuthFailure("the issuer's discovery document names no token_endpoint: check oauth_issuer")
    return Endpoints(str(document["token_endpoint"]), document.get("device_authorization_endpoint"), ())


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float


class TokenSource:
    """The current access token of one account; ``store`` is set by the connector before the first login."""

    def __init__(self, account: str, login: ImapLogin, store: RefreshTokenStore | None = None) -> None:
        self.account = account
        self.login = login
        self.store = store
        self._token: _Token | None = None
        self._endpoints: Endpoints | None = None
        self._lock = asyncio.Lock()
        #: The newest refresh token, once known: it wins over the store, which may not have it yet.
        self._refresh: str | None = None
        self._unsaved = False
        #: How many tokens the endpoint issued to this source (the tests count refreshes with it).
        self.issued = 0

    def invalidate(self) -> None:
        """The server refused the token: the next :meth:`access_token` fetches a new one."""
        self._token = None

    async def access_token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._token.renew_at:
                self._token = await self._fetch()
            await self._save()
            return self._token.value

    async def _save(self) -> None:
        """Make a rotated refresh token durable; while the database is away it waits in memory (the old one is
        spent), and every later token request tries again."""
        if not self._unsaved or self._refresh is None or self.store is None:
            return
        try:
            await self.store.save_refresh_token(CONNECTOR, self.account, self._refresh)
        except Exception as exc:  # any store failure: keep it in memory, say so, try again next time
            log.warning("imap.refresh_token_unsaved", error=type(exc).__name__)
            return
        self._unsaved = False

    async def _fetch(self) -> _Token:
        if self._endpoints is None:
            self._endpoints = await resolve(self.login)
        endpoints = self._endpoints
        refresh = None
        if self.login.oauth_grant == "refresh_token":
            refresh = await self._refresh_token()
        started = time.monotonic()
        try:
            token: dict[str, Any] = await asyncio.to_thread(self._request, endpoints, refresh)
        except (OAuthError, requests.RequestException, ValueError) as exc:
            raise explain(exc) from exc
        if "access_token" not in token:
            raise TokenEndpointDown("token endpoint answered without an access_token")
        self.issued += 1
        rotated = token.get("refresh_token")
        if refresh is not None and rotated and rotated != refresh:
            self._refresh, self._unsaved = str(rotated), True
        lifetime = float(token.get("expires_in") or 3600)
        return _Token(str(token["access_token"]), started + lifetime - min(RENEW_AT_MOST_S, lifetime * RENEW_SHARE))

    async def _refresh_token(self) -> str:
        if self._refresh is not None:
            return self._refresh
        stored = None
        if self.store is not None:
            stored = await self.store.load_refresh_token(CONNECTOR, self.account)
        if stored is not None:
            return stored
        if self.login.oauth_refresh_token is not None:
            return self.login.oauth_refresh_token.get_secret_value()
        raise AuthFailure("no refresh token yet: run `omnitrail connector email authorize` for this account")

    def _request(self, endpoints: Endpoints, refresh: str | None) -> dict[str, Any]:
        with session(self.login, endpoints.scopes) as client:
            if refresh is None:
                token = client.fetch_token(endpoints.token_url, grant_type="client_credentials", timeout=HTTP_TIMEOUT_S)
            else:
                token = client.refresh_token(endpoints.token_url, refresh_token=refresh, timeout=HTTP_TIMEOUT_S)
            return dict(token)
