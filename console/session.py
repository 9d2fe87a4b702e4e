"""The page's session cookie and its CSRF token.

A session is a signed, expiring cookie naming the *fingerprint* of the API token used to sign in,
never the token, and a random nonce. Each request looks the fingerprint up among the tokens
configured now, so removing a token from ``OMNITRAIL_API_TOKENS`` ends its sessions at once; the
nonce names the session's row in PostgreSQL (``sinks/session_store.py``), which sign-out, an
admin's revocation and a role change end for every console process sharing the database.

The signing key is derived from the deployment's secret (``console/signing.py``), never from anything
in the source or the API tokens: ``OMNITRAIL_CONSOLE_SESSION_SECRET``, or when that is unset a random
secret generated once and kept in PostgreSQL. Every console process of the deployment accepts the same
cookies, across restarts; changing the secret ends every session.

CSRF: a cookie rides along with any request the browser makes, so every state-changing request
authenticated by the cookie must also carry ``X-CSRF-Token`` (or a ``csrf`` form field) equal to
an HMAC of the session's nonce. A forged cross-site request can send the cookie (when SameSite
does not already stop it) but cannot read the page to learn the token. Bearer-token requests
carry no ambient credential and need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from console import signing

COOKIE = "omnitrail_session"
CSRF_HEADER = "x-csrf-token"


def fingerprint(token: str) -> str:
    """Who a token is in logs and the audit log: a short hash, useless to an attacker."""
    return "tok_" + hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Session:
    actor: str
    nonce: str
    expires_at: float


class SessionCodec:
    def __init__(self, secret: bytes, *, lifetime_s: float) -> None:
        self._seal = signing.Seal(secret, signing.SESSION)
        self.lifetime_s = lifetime_s

    def issue(self, actor: str, *, now: float | None = None) -> tuple[str, Session]:
        session = Session(actor, secrets.token_urlsafe(16), (now or time.time()) + self.lifetime_s)
        return self._seal.seal([session.actor, session.nonce, session.expires_at]), session

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        values = self._seal.open(cookie)
        if values is None or len(values) != 3:
            return None
        actor, nonce, expires_at = values
        if not isinstance(expires_at, int | float) or expires_at < (now or time.time()):
            return None
        return Session(str(actor), str(nonce), float(expires_at))

    def csrf_token(self, session: Session) -> str:
        return self._seal.mac(b"csrf:" + session.nonce.encode())

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        if not presented or not presented.isascii():  # ours is hex; compare_digest refuses other text (a 500)
            return False
        return hmac.compare_digest(self.csrf_token(session), presented)
