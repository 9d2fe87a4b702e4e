"""A real OpenID Connect provider for the email OAuth 2.0 tests: the npm package ``oidc-provider`` under Node.

``tests/oidc/provider.js`` runs it on a free loopback port from a JSON config written here: the
device flow (a user approves on the provider's own HTTP pages, which :meth:`OidcProvider.approve`
walks like a browser), the client-credentials grant, introspection (Dovecot checks tokens there)
and revocation. ``.ci/run`` installs it with ``npm ci --prefix tests`` (``tests/package.json``). Tokens live in the
provider's memory: one provider per test session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bs4 import BeautifulSoup

from omnitrail.local_stack import free_port, terminate, wait_for_port
from schemas.errors import FatalError

HERE = Path(__file__).resolve().parent.parent / "oidc"
#: The client a mailbox owner signs in through (device flow, refresh tokens that rotate on every use).
DEVICE_CLIENT = "omnitrail-mail"
DEVICE_SECRET = "device-client-secret"  # a test provider's fixture
#: Microsoft 365-style app-only access: this client's tokens open ``shared_mailbox``.
APP_CLIENT = "omnitrail-app"
APP_SECRET = "app-client-secret"
INTROSPECTOR = ("dovecot", "dovecot-introspection-secret")
#: The console's single sign-on client (authorization code flow with PKCE).
CONSOLE_CLIENT = "omnitrail-console"
CONSOLE_SECRET = "console-client-secret"
SCOPES = ["openid", "offline_access", "imap"]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class OidcProvider:
    port: int
    root: Path
    shared_mailbox: str
    access_ttl: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def introspection_url(self) -> str:
        user, secret = INTROSPECTOR
        return f"http://{user}:{secret}@127.0.0.1:{self.port}/token/introspection"

    @classmethod
    def start(cls, *, shared_mailbox: str, access_ttl: int, console_redirect_uri: str | None = None) -> OidcProvider:
        node = shutil.which("node")
        if node is None or not (HERE.parent / "node_modules" / "oidc-provider").exists():
            raise RuntimeError("oidc-provider is not installed: npm ci --prefix tests (see .ci/run)")
        root = Path(tempfile.mkdtemp(prefix="omnitrail-oidc-"))
        provider = cls(free_port(), root, shared_mailbox, access_ttl)
        common = {"response_types": [], "redirect_uris": [], "token_endpoint_auth_method": "client_secret_post"}
        clients: list[dict[str, Any]] = [
            {
                "client_id": DEVICE_CLIENT,
                "client_secret": DEVICE_SECRET,
                "grant_types": [DEVICE_GRANT, "refresh_token"],
                "scope": " ".join(SCOPES),
                **common,
            },
            {
                "client_id": APP_CLIENT,
                "client_secret": APP_SECRET,
                "grant_types": ["client_credentials"],
                "scope": "imap",
                "mailbox": shared_mailbox,
                **common,
            },
            {"client_id": INTROSPECTOR[0], "client_secret": INTROSPECTOR[1], "grant_types": [], **common},
        ]
        if console_redirect_uri:
            clients.append(
                {
                    "client_id": CONSOLE_CLIENT,
                    "client_secret": CONSOLE_SECRET,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "redirect_uris": [console_redirect_uri],
                    "scope": "openid email profile",
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            )
        config = {"port": provider.port, "access_ttl": access_ttl, "clients": clients}
        (root / "config.json").write_text(json.dumps(config))
        with (root / "provider.log").open("wb") as log:  # the child keeps its own descriptor
            provider.proc = subprocess.Popen(
                [node, str(HERE / "provider.js"), str(root / "config.json")], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port("127.0.0.1", provider.port, 30, provider.proc)
        except FatalError as exc:
            log_text = provider.log()
            provider.stop()
            raise RuntimeError(f"oidc-provider did not listen: {log_text[-2000:]}") from exc
        return provider

    def log(self) -> str:
        path = self.root / "provider.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        terminate(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)

    def approve(self, verification_uri: str, user_code: str, login: str) -> None:
        """Play the mailbox owner in a browser: enter the code, sign in as ``login``, consent."""
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            page = browser.get(verification_uri)
            page = _submit(browser, page, {"user_code": user_code})  # the code-entry page
            page = _submit(browser, page, {})  # "is this the device you started?": yes
            page = _submit(browser, page, {"login": login, "password": "any"})  # sign-in (devInteractions)
            page = _submit(browser, page, {})  # consent to the scopes
            if "Sign-in Success" not in page.text:
                raise AssertionError(f"device approval did not succeed: {page.text[:500]}")

    def sign_in(self, browser: httpx.Client, start_url: str, login: str) -> httpx.Response:
        """Play a person at the provider's pages, from the console's "single sign-on" link: sign in as ``login``
        (devInteractions takes any password), consent; the answer is where the provider sent the browser back."""
        page = browser.get(start_url)
        for _ in range(4):
            if page.url.port != self.port or "<form" not in page.text:
                return page
            fields = {"login": login, "password": "any"} if 'name="login"' in page.text else {}
            page = _submit(browser, page, fields)
        raise AssertionError(f"the provider kept asking: {page.text[:300]}")

    def refresh_token(self, login: str) -> str:
        """A refresh token for ``login``'s mailbox by the device flow, approved at once (no 5 s polling)."""
        with httpx.Client(timeout=10) as client:
            grant = client.post(
                f"{self.issuer}/device/auth",
                data={"client_id": DEVICE_CLIENT, "client_secret": DEVICE_SECRET, "scope": " ".join(SCOPES)},
            ).json()
            self.approve(grant["verification_uri"], grant["user_code"], login)
            token = client.post(
                f"{self.issuer}/token",
                data={
                    "grant_type": DEVICE_GRANT,
                    "device_code": grant["device_code"],
                    "client_id": DEVICE_CLIENT,
                    "client_secret": DEVICE_SECRET,
                },
            ).json()
        return str(token["refresh_token"])

    def revoke(self, token: str, hint: str) -> None:
        """Revoke at the provider (RFC 7009) as the mailbox's client: every token of the grant ends."""
        client, secret = (APP_CLIENT, APP_SECRET) if hint == "app" else (DEVICE_CLIENT, DEVICE_SECRET)
        response = httpx.post(
            f"{self.issuer}/token/revocation",
            data={"token": token, "client_id": client, "client_secret": secret},
            timeout=10,
        )
        response.raise_for_status()

    def end_access_token(self, token: str) -> None:
        """End one access token early at the provider (its grant and refresh token live on)."""
        httpx.post(f"{self.issuer}/test/end-access-token", data={"token": token}, timeout=10).raise_for_status()

    def active(self, token: str) -> bool:
        response = httpx.post(
            f"{self.issuer}/token/introspection", data={"token": token}, auth=INTROSPECTOR, timeout=10
        )
        return bool(response.json()["active"])


def _submit(browser: httpx.Client, page: httpx.Response, values: dict[str, str]) -> httpx.Response:
    """Fill the page's first form like a user (hidden fields kept, ``values`` typed in) and send it."""
    form = BeautifulSoup(page.text, "html.parser").find("form")
    if form is None:
        raise AssertionError(f"no form on {page.url}: {page.text[:300]}")
    data = {str(i.get("name")): str(i.get("value") or "") for i in form.find_all("input") if i.get("name")}
    data.update(values)
    return browser.post(page.url.join(str(form.get("action") or page.url)), data=data)
