"""Meta connector settings (``OMNITRAIL_META_*``): Messenger, Instagram and WhatsApp Cloud API."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import OptionalSigningSecret, OptionalToken
from schemas.config import OmnitrailSettings


class MetaSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_META_", extra="forbid")
    toml_section: ClassVar[str | None] = "meta"

    app_secret: OptionalSigningSecret = Field(
        default=None,
        description="The app secret: verifies X-Hub-Signature-256 on every event; unset: /webhooks/meta is not mounted",
    )
    verify_token: OptionalToken = Field(
        default=None, description="The token set in the app dashboard, answered in the GET verification handshake"
    )
