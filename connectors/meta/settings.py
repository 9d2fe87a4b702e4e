"""Meta connector settings (``OMNITRAIL_META_*``): Messenger, Instagram and WhatsApp Cloud API."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings


class MetaSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_META_", extra="forbid")
    toml_section: ClassVar[str | None] = "meta"

    app_secret: SecretStr | None = Field(
        default=None,
        description="The app secret: verifies X-Hub-Signature-256 on every event; unset: /webhooks/meta is not mounted",
    )
    verify_token: SecretStr | None = Field(
        default=None, description="The token set in the app dashboard, answered in the GET verification handshake"
    )
