"""IMAP settings: the variables the issue names, several accounts from the config file, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email.settings import ImapSettings
from omnitrail.registry import CONNECTORS
from schemas.config import load
from schemas.errors import FatalError


def test_environment_configures_one_account_with_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("OMNITRAIL_IMAP_USERNAME", "Support@Acme.example")
    monkeypatch.setenv("OMNITRAIL_IMAP_PASSWORD", "app-password")
    settings = load(ImapSettings)
    (account,) = settings.all_accounts()
    assert (account.ssl, account.starttls, account.effective_port) == (True, False, 993)
    assert account.folders == ["INBOX", "Sent"]
    assert account.own() == {"support@acme.example"}  # default: the username
    assert CONNECTORS["email"].configured(settings)
    assert "app-password" not in repr(settings)


def test_comma_lists_and_starttls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HOST": "mail.example.com",
        "USERNAME": "helpdesk",
        "PASSWORD": "x",
        "SSL": "false",
        "STARTTLS": "true",
        "FOLDERS": "INBOX, [Gmail]/All Mail ,Sent",
        "OWN_ADDRESSES": "help@acme.example,Vendas@Acme.example",
    }.items():
        monkeypatch.setenv(f"OMNITRAIL_IMAP_{name}", value)
    (account,) = load(ImapSettings).all_accounts()
    assert account.folders == ["INBOX", "[Gmail]/All Mail", "Sent"]
    assert account.own() == {"help@acme.example", "vendas@acme.example"}
    assert (account.starttls, account.effective_port) == (True, 143)


def test_several_accounts_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(
        "[imap]\nbatch_size = 50\n"
        '[[imap.accounts]]\nhost = "imap.gmail.com"\nusername = "a@acme.example"\npassword = "p1"\n'
        'folders = ["INBOX", "[Gmail]/Sent Mail"]\n'
        '[[imap.accounts]]\nhost = "outlook.office365.com"\nusername = "b@acme.example"\npassword = "p2"\n'
    )
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    settings = load(ImapSettings)
    assert settings.batch_size == 50
    assert [(a.host, a.username, a.folders) for a in settings.all_accounts()] == [
        ("imap.gmail.com", "a@acme.example", ["INBOX", "[Gmail]/Sent Mail"]),
        ("outlook.office365.com", "b@acme.example", ["INBOX", "Sent"]),
    ]


def test_host_without_credentials_and_tls_conflict_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_IMAP_HOST", "imap.example.com")
    with pytest.raises(FatalError, match="OMNITRAIL_IMAP"):
        load(ImapSettings)
    monkeypatch.setenv("OMNITRAIL_IMAP_USERNAME", "u")
    monkeypatch.setenv("OMNITRAIL_IMAP_PASSWORD", "p")
    monkeypatch.setenv("OMNITRAIL_IMAP_STARTTLS", "true")
    with pytest.raises(FatalError, match="STARTTLS"):
        load(ImapSettings)


def test_empty_folder_list_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_IMAP_FOLDERS", " , ")
    with pytest.raises(FatalError, match="OMNITRAIL_IMAP_FOLDERS"):
        load(ImapSettings)


def test_unconfigured_means_no_email_connector() -> None:
    assert not CONNECTORS["email"].configured(ImapSettings())
