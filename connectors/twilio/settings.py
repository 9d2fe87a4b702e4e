"""Twilio connector settings (``OMNITRAIL_TWILIO_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings


class TwilioSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_TWILIO_", extra="forbid")
    toml_section: ClassVar[str | None] = "twilio"

    auth_token: SecretStr | None = Field(
        default=None, description="Signs every webhook (X-Twilio-Signature); unset: Twilio routes are not mounted"
    )
    account_sid: str | None = Field(default=None, description="When set, requests for other accounts are refused")
