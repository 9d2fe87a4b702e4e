"""OAuth 2.0 mailbox settings: presets for Gmail and Microsoft 365, clear errors, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email.settings import ImapSettings
from connectors.email.tokens import resolve
from schemas.config import load
from schemas.errors import FatalError


def _file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, account: str) -> ImapSettings:
    config = tmp_path / "omnitrail.toml"
    config.write_text(f'[[imap.accounts]]\nhost = "imap.example"\nusername = "support@acme.example"\n{account}')
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    return load(ImapSettings)


async def test_gmail_by_refresh_token_takes_google_endpoints_and_the_mail_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _file(
        tmp_path,
        monkeypatch,
        'auth = "oauth2"\noauth_provider = "google"\noauth_client_id = "123.apps.googleusercontent.com"\n'
        'oauth_client_secret = "GOCSPX-secret"\noauth_refresh_token = "1//refresh-secret"\n',
    )
    (account,) = settings.all_accounts()
    endpoints = await resolve(account)
    assert endpoints.token_url == "https://oauth2.googleapis.com/token"
    assert endpoints.scopes == ("https://mail.google.com/",)
    assert "GOCSPX-secret" not in repr(settings)
    assert "refresh-secret" not in repr(settings)


async def test_microsoft_365_app_only_needs_the_tenant_and_asks_for_default_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_only = 'auth = "oauth2"\noauth_provider = "microsoft"\noauth_grant = "client_credentials"\n'
    app_only += 'oauth_client_id = "app-id"\noauth_client_secret = "s3cret"\n'
    with pytest.raises(FatalError, match="oauth_tenant"):
        _file(tmp_path, monkeypatch, app_only)
    (account,) = _file(tmp_path, monkeypatch, app_only + 'oauth_tenant = "contoso.onmicrosoft.com"\n').all_accounts()
    endpoints = await resolve(account)
    assert endpoints.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert endpoints.scopes == ("https://outlook.office365.com/.default",)


async def test_microsoft_delegated_asks_for_imap_and_offline_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _file(tmp_path, monkeypatch, 'auth = "oauth2"\noauth_provider = "microsoft"\noauth_client_id = "id"\n')
    endpoints = await resolve(settings.all_accounts()[0])
    assert endpoints.device_url == "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode"
    assert endpoints.scopes == ("https://outlook.office365.com/IMAP.AccessAsUser.All", "offline_access")


def test_oauth_from_the_environment_and_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_IMAP_HOST", "imap.gmail.com")
    monkeypatch.setenv("OMNITRAIL_IMAP_USERNAME", "support@acme.example")
    monkeypatch.setenv("OMNITRAIL_IMAP_AUTH", "oauth2")
    with pytest.raises(FatalError, match="oauth_client_id"):
        load(ImapSettings)
    monkeypatch.setenv("OMNITRAIL_IMAP_OAUTH_CLIENT_ID", "id")
    with pytest.raises(FatalError, match="oauth_provider"):
        load(ImapSettings)
    monkeypatch.setenv("OMNITRAIL_IMAP_OAUTH_PROVIDER", "google")
    (account,) = load(ImapSettings).all_accounts()
    assert (account.auth, account.oauth_provider, account.password) == ("oauth2", "google", None)


def test_password_accounts_still_need_their_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FatalError, match="password is required"):
        _file(tmp_path, monkeypatch, "")
