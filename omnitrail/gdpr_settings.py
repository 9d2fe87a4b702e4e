"""GDPR settings (``OMNITRAIL_GDPR_*``): the key of the erased-identifier hashes."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings
from schemas.errors import FatalError
from schemas.interaction import Channel
from sinks.erasure import IdentifierHasher


class GdprSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_GDPR_", extra="forbid")
    toml_section: ClassVar[str | None] = "gdpr"

    hash_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="HMAC key of erased identifiers; the same on every console and worker; required to erase",
    )

    retention_days: str = Field(
        default="",
        description="channel=days,channel=days: interaction content older than this is purged by `gdpr purge`",
    )

    @field_validator("retention_days")
    @classmethod
    def _valid_retention(cls, value: str) -> str:
        parse_retention(value)
        return value

    def retention(self) -> dict[Channel, timedelta]:
        return parse_retention(self.retention_days)

    def hasher(self) -> IdentifierHasher | None:
        return IdentifierHasher(self.hash_key.get_secret_value().encode()) if self.hash_key else None

    def require_hasher(self) -> IdentifierHasher:
        hasher = self.hasher()
        if hasher is None:
            raise FatalError("OMNITRAIL_GDPR_HASH_KEY is required to erase contacts (at least 16 characters)")
        return hasher


def parse_retention(value: str) -> dict[Channel, timedelta]:
    """``sms=365,email=730`` -> maximum age per channel; a bad entry names what is wrong."""
    result: dict[Channel, timedelta] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        channel, sep, days = entry.partition("=")
        if not sep or channel.strip() not in Channel.__members__ or not days.strip().isdigit() or int(days) < 1:
            raise ValueError(f"entry {entry!r}: expected channel=days with a known channel and days >= 1")
        result[Channel(channel.strip())] = timedelta(days=int(days))
    return result
