"""IMAP connector settings (``OMNITRAIL_IMAP_*``), one mailbox from the environment, more from the config file.

The environment configures one account (``OMNITRAIL_IMAP_HOST`` ...). Further accounts come from
``[[imap.accounts]]`` tables in the TOML file named by ``OMNITRAIL_CONFIG``; each table takes the
same keys as the variables (``host``, ``port``, ``username``, ``password``, ``ssl``, ``starttls``,
``folders``, ``own_addresses``, and the ``auth``/``oauth_*`` keys of :class:`ImapLogin`).

``auth = "oauth2"`` logs in with SASL XOAUTH2 (or OAUTHBEARER) and an access token from an OAuth 2.0
token endpoint (:mod:`connectors.email.tokens`): Gmail and Microsoft 365, which refuse passwords.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from schemas.config import OmnitrailSettings
from schemas.errors import InvalidPayload
from schemas.identifiers import normalize_email


def _split(value: Any) -> Any:
    """``a,b`` (an environment variable) or a TOML list: both become a list of trimmed entries."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]
Auth = Literal["password", "oauth2"]


class ImapLogin(BaseModel):
    """How an account logs in: a password, or OAuth 2.0 (the ``oauth_*`` keys, read only with ``auth = "oauth2"``).

    The token endpoint is a provider preset (``oauth_provider = "google" | "microsoft"``), any issuer
    by its URL (``oauth_issuer``: OpenID Connect discovery), or named outright (``oauth_token_url``).
    ``oauth_grant = "refresh_token"`` (a user's mailbox: the first refresh token comes from
    ``omnitrail connector email authorize ACCOUNT`` or ``oauth_refresh_token``) or
    ``"client_credentials"`` (Microsoft 365 app-only access to a shared mailbox).
    """

    auth: Auth = Field(default="password", description='"password" or "oauth2" (XOAUTH2/OAUTHBEARER)')
    password: SecretStr | None = None
    oauth_provider: Literal["google", "microsoft"] | None = Field(
        default=None, description="Endpoint and scope preset; or oauth_issuer / oauth_token_url"
    )
    oauth_issuer: str | None = Field(default=None, description="Any other issuer: its URL (discovery)")
    oauth_token_url: str | None = None
    oauth_device_url: str | None = Field(default=None, description="Device authorization endpoint (authorize)")
    oauth_tenant: str = Field(default="organizations", description="Microsoft: the directory (tenant) id or domain")
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_scopes: CommaList = Field(default_factory=list, description="Default: the provider preset's")
    oauth_grant: Literal["refresh_token", "client_credentials"] = "refresh_token"
    oauth_refresh_token: SecretStr | None = Field(
        default=None, description="A first refresh token obtained elsewhere; a stored (rotated) one wins"
    )
    oauth_mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"

    _split_scopes = field_validator("oauth_scopes", mode="before")(_split)

    def login_problem(self) -> str | None:
        """What is missing for this way of logging in, or None."""
        if self.auth == "password":
            return None if self.password is not None else "password is required with auth = password"
        if self.oauth_client_id is None:
            return "oauth_client_id is required with auth = oauth2"
        if self.oauth_provider is None and self.oauth_issuer is None and self.oauth_token_url is None:
            return "auth = oauth2 needs oauth_provider (google, microsoft), oauth_issuer or oauth_token_url"
        if self.oauth_grant == "client_credentials" and self.oauth_client_secret is None:
            return "oauth_grant = client_credentials needs oauth_client_secret"
        app_only = self.oauth_grant == "client_credentials"
        if app_only and self.oauth_provider == "microsoft" and self.oauth_tenant in ("organizations", "common"):
            return "Microsoft app-only access (client_credentials) needs oauth_tenant: the directory id"
        return None

    def login_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ImapLogin.model_fields}


class ImapAccount(ImapLogin):
    """One mailbox: where it is, how to log in, which folders to read, which addresses are ours."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str = Field(min_length=1)
    ssl: bool = True
    starttls: bool = False
    folders: CommaList = Field(default_factory=lambda: ["INBOX", "Sent"])
    own_addresses: CommaList = Field(default_factory=list)

    _split_lists = field_validator("folders", "own_addresses", mode="before")(_split)

    @model_validator(mode="after")
    def _consistent(self) -> ImapAccount:
        if self.ssl and self.starttls:
            raise ValueError("ssl (implicit TLS) and starttls exclude each other; set ssl=false to use STARTTLS")
        if not self.folders:
            raise ValueError("folders must name at least one folder")
        problem = self.login_problem()
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.ssl else 143)

    def own(self) -> frozenset[str]:
        """Our addresses, normalized; the username counts when it is an address and nothing else is set."""
        raw = self.own_addresses or ([self.username] if "@" in self.username else [])
        return frozenset(normalize_email(a) for a in raw)


def ours(accounts: list[ImapAccount]) -> frozenset[str]:
    """Every address of every configured mailbox: each one's own addresses and its username when an address.

    Mail between two of our mailboxes (sales@ writes a customer and Cc's support@) reads the same in
    both: neither colleague is taken for a customer.
    """
    found = set().union(*(a.own() for a in accounts))
    for account in accounts:
        with contextlib.suppress(InvalidPayload):
            if "@" in account.username:
                found.add(normalize_email(account.username))
    return frozenset(found)


class ImapSettings(OmnitrailSettings, ImapLogin):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_IMAP_", extra="forbid")
    toml_section: ClassVar[str | None] = "imap"

    host: str | None = Field(default=None, description="IMAP server; unset (and no accounts in the file): no email")
    port: int | None = Field(default=None, ge=1, le=65535, description="default 993 with ssl, else 143")
    username: str | None = None
    ssl: bool = Field(default=True, description="Implicit TLS; false: plain, or STARTTLS with starttls=true")
    starttls: bool = False
    folders: CommaList = Field(default_factory=lambda: ["INBOX", "Sent"])
    own_addresses: CommaList = Field(default_factory=list)
    accounts: list[ImapAccount] = Field(default_factory=list, description="More mailboxes ([[imap.accounts]])")
    batch_size: int = Field(default=200, ge=1, le=5000, description="UIDs fetched per round trip")
    poll_interval_s: float = Field(default=60.0, gt=0, description="Longest wait (IDLE or sleep) between polls")

    _split_lists = field_validator("folders", "own_addresses", mode="before")(_split)

    @model_validator(mode="after")
    def _complete(self) -> ImapSettings:
        if self.host is not None and self.username is None:
            raise ValueError("OMNITRAIL_IMAP_USERNAME is required with OMNITRAIL_IMAP_HOST")
        problem = self.login_problem()
        if self.host is not None and problem is not None:
            raise ValueError(f"OMNITRAIL_IMAP_HOST: {problem} (OMNITRAIL_IMAP_{{PASSWORD,AUTH,OAUTH_*}})")
        if self.ssl and self.starttls:
            raise ValueError("OMNITRAIL_IMAP_SSL and _STARTTLS exclude each other: set SSL=false for STARTTLS")
        return self

    @field_validator("folders")
    @classmethod
    def _some_folder(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one folder")
        return value

    def all_accounts(self) -> list[ImapAccount]:
        """The environment's account (when ``host`` is set) followed by the file's."""
        accounts = list(self.accounts)
        if self.host is not None and self.username is not None:
            accounts.insert(
                0,
                ImapAccount(
                    **self.login_fields(),
                    host=self.host,
                    port=self.port,
                    username=self.username,
                    ssl=self.ssl,
                    starttls=self.starttls,
                    folders=self.folders,
                    own_addresses=self.own_addresses,
                ),
            )
        return accounts
