"""Live-chat connector settings (``OMNITRAIL_LIVECHAT_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import OptionalSigningSecret
from schemas.config import OmnitrailSettings


class LivechatSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_LIVECHAT_", extra="forbid")
    toml_section: ClassVar[str | None] = "livechat"

    secret: OptionalSigningSecret = Field(
        default=None, description="Signs /webhooks/livechat (X-Omnitrail-Signature); unset: route not mounted"
    )
    chatwoot_secret: OptionalSigningSecret = Field(
        default=None,
        description="Chatwoot webhook secret (X-Chatwoot-Signature); unset: /webhooks/livechat/chatwoot not mounted",
    )
    identity_secret: OptionalSigningSecret = Field(
        default=None,
        description="Verifies visitor.identity_hash (HMAC-SHA256 of the email); unset: pre-chat emails stay unverified",
    )
    account: str = Field(default="website", min_length=1, description="Our side when an event names no widget")
