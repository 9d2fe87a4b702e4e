"""Optional console sign-in through an OpenID Connect provider (Keycloak, Entra ID, Google Workspace, Okta...).

Set ``OMNITRAIL_CONSOLE_OIDC_ISSUER``, ``_CLIENT_ID`` and ``_CLIENT_SECRET`` and register
``{OMNITRAIL_PUBLIC_URL}/signin/oidc/callback`` as the client's redirect URI. The page then offers "Sign in with
single sign-on": the authorization code flow with PKCE (S256), a ``state`` bound to the browser by a short-lived
cookie, and a ``nonce`` in the ID token, whose signature (the provider's published keys), issuer, audience and
expiry are checked. The token's ``email`` claim (``email_verified`` not false) must name an enabled staff account
(``omnitrail staff add``; a provider's user without one is refused): the provider says who she is, the account
says what she may do here.

Authlib builds the authorization request (RFC 6749 parameters, the RFC 7636 S256 challenge) and joserfc, which
Authlib is built on, verifies the JWT; the code exchange is one httpx POST (Authlib's httpx client is deprecated).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

#: The browser's half of a sign-in in progress: state, nonce and PKCE verifier, for this long.
COOKIE = "omnitrail_oidc"
COOKIE_PATH = "/signin/oidc"
PENDING_S = 600
_METADATA_TTL_S = 3600.0
_SCOPE = "openid email profile"


class OidcError(Exception):
    """The sign-in cannot complete; the message is safe to show (it names no secret and no person)."""


@dataclass(frozen=True)
class Pending:
    state: str
    nonce: str
    verifier: str

    def cookie(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def read(cls, value: str | None) -> Pending | None:
        parts = (value or "").split(".")
        return cls(*parts) if len(parts) == 3 and all(parts) else None


class OidcSignIn:
    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.redirect_uri = redirect_uri
        self._metadata: tuple[float, dict[str, Any]] | None = None

    async def _discovery(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata[0] > _METADATA_TTL_S:
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                    response.raise_for_status()
                    document = response.json()
                    keys = await http.get(document["jwks_uri"])
                    keys.raise_for_status()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise OidcError("the sign-in provider cannot be reached; try again shortly") from exc
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcError("the sign-in provider's discovery names another issuer")
            document["_jwks"] = keys.json()
            self._metadata = (time.monotonic(), document)
        return self._metadata[1]

    async def start(self) -> tuple[str, Pending]:
        """Where to send the browser, and what to remember in its cookie until it comes back."""
        metadata = await self._discovery()
        pending = Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), generate_token(64))
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            self.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=_SCOPE,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),  # type: ignore[no-untyped-call]
            code_challenge_method="S256",
        )
        return str(url), pending

    async def finish(self, pending: Pending, code: str) -> str:
        """The verified email of who signed in at the provider."""
        metadata = await self._discovery()
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(
                    metadata["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.redirect_uri,
                        "code_verifier": pending.verifier,
                    },
                    auth=(self.client_id, self._secret),  # client_secret_basic, what providers support first
                )
                response.raise_for_status()
                token = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("the sign-in provider refused the code; sign in again") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the sign-in provider sent no ID token")
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(metadata["_jwks"]))
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                nonce={"essential": True, "value": pending.nonce},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError("the ID token did not verify; sign in again") from exc
        email = decoded.claims.get("email")
        if not isinstance(email, str) or "@" not in email or decoded.claims.get("email_verified") is False:
            raise OidcError("the sign-in provider did not give a verified email address")
        return email
