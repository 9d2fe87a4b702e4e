"""IMAP connector settings (``OMNITRAIL_IMAP_*``), one mailbox from the environment, more from the config file.

The environment configures one account (``OMNITRAIL_IMAP_HOST`` ...). Further accounts come from
``[[imap.accounts]]`` tables in the TOML file named by ``OMNITRAIL_CONFIG``; each table takes the
same keys as the variables (``host``, ``port``, ``username``, ``password``, ``ssl``, ``starttls``,
``folders``, ``own_addresses``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from schemas.config import OmnitrailSettings
from schemas.identifiers import normalize_email


def _split(value: Any) -> Any:
    """``a,b`` (an environment variable) or a TOML list: both become a list of trimmed entries."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class ImapAccount(BaseModel):
    """One mailbox: where it is, how to log in, which folders to read, which addresses are ours."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
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
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.ssl else 143)

    def own(self) -> frozenset[str]:
        """Our addresses, normalized; the username counts when it is an address and nothing else is set."""
        raw = self.own_addresses or ([self.username] if "@" in self.username else [])
        return frozenset(normalize_email(a) for a in raw)


class ImapSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_IMAP_", extra="forbid")
    toml_section: ClassVar[str | None] = "imap"

    host: str | None = Field(default=None, description="IMAP server; unset (and no accounts in the file): no email")
    port: int | None = Field(default=None, ge=1, le=65535, description="default 993 with ssl, else 143")
    username: str | None = None
    password: SecretStr | None = None
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
        if self.host is not None and (self.username is None or self.password is None):
            raise ValueError("OMNITRAIL_IMAP_USERNAME and _PASSWORD are required with OMNITRAIL_IMAP_HOST")
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
        if self.host is not None and self.username is not None and self.password is not None:
            accounts.insert(
                0,
                ImapAccount(
                    host=self.host,
                    port=self.port,
                    username=self.username,
                    password=self.password,
                    ssl=self.ssl,
                    starttls=self.starttls,
                    folders=self.folders,
                    own_addresses=self.own_addresses,
                ),
            )
        return accounts
