"""``omnitrail connector email authorize ACCOUNT``: the first refresh token, by the device authorization grant.

RFC 8628: the provider gives a user code and a verification URL; the operator opens the URL on any
device, signs in as the mailbox and approves; meanwhile this polls the token endpoint at the interval
the provider asks for. The refresh token is saved where the connector reads it (PostgreSQL), and the
connector started afterwards logs in with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.requests_client import OAuthError

from connectors.email.settings import ImapAccount
from connectors.email.tokens import CONNECTOR, HTTP_TIMEOUT_S, AuthFailure, RefreshTokenStore, explain, resolve, session

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _post(url: str, data: dict[str, str]) -> dict[str, Any]:
    response = requests.post(url, data=data, timeout=HTTP_TIMEOUT_S)
    if response.status_code >= 500:
        response.raise_for_status()
    document: dict[str, Any] = response.json()
    if "error" in document:
        raise OAuthError(error=document["error"])
    return document


async def authorize(account: ImapAccount, store: RefreshTokenStore, say: Callable[[str], None]) -> None:
    """Run the device flow for ``account`` and store its refresh token; ``say`` shows the operator what to do."""
    if account.auth != "oauth2" or account.oauth_grant != "refresh_token":
        raise AuthFailure('authorize applies to accounts with auth = "oauth2" and the refresh_token grant')
    endpoints = await resolve(account)
    if endpoints.device_url is None:
        raise AuthFailure("the provider names no device authorization endpoint: set oauth_device_url")
    request = {"client_id": account.oauth_client_id or "", "scope": " ".join(endpoints.scopes)}
    if account.oauth_client_secret is not None:
        request["client_secret"] = account.oauth_client_secret.get_secret_value()
    try:
        grant = await asyncio.to_thread(_post, endpoints.device_url, request)
    except (OAuthError, requests.RequestException, ValueError) as exc:
        raise explain(exc) from exc
    say(f"To let Omnitrail read {account.username}, open {grant['verification_uri']}")
    say(f"and enter the code {grant['user_code']} (signed in as that mailbox). Waiting...")
    interval = float(grant.get("interval", 5))
    deadline = asyncio.get_running_loop().time() + float(grant.get("expires_in", 900))
    with session(account, endpoints.scopes) as client:
        while True:
            await asyncio.sleep(interval)
            if asyncio.get_running_loop().time() > deadline:
                raise AuthFailure("the code expired before it was approved: run authorize again")
            try:
                token = await asyncio.to_thread(
                    client.fetch_token,
                    endpoints.token_url,
                    grant_type=DEVICE_GRANT,
                    device_code=grant["device_code"],
                    timeout=HTTP_TIMEOUT_S,
                )
                break
            except OAuthError as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval += 5
                    continue
                if exc.error in ("access_denied", "expired_token"):
                    raise AuthFailure(f"the request was not approved ({exc.error}): run authorize again") from exc
                raise explain(exc) from exc
            except (requests.RequestException, ValueError) as exc:
                raise explain(exc) from exc
    refresh = token.get("refresh_token")
    if not refresh:
        raise AuthFailure("the provider issued no refresh token: the scopes need offline access (offline_access)")
    await store.save_refresh_token(CONNECTOR, account.username, str(refresh))
    say(f"Authorized: the refresh token for {account.username} is stored; (re)start the email connector.")
