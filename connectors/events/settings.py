"""Other-systems connector settings (``OMNITRAIL_EVENTS_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import OptionalSigningSecret
from schemas.config import OmnitrailSettings


class EventsSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_EVENTS_", extra="forbid")
    toml_section: ClassVar[str | None] = "events"

    secret: OptionalSigningSecret = Field(
        default=None, description="Signs /webhooks/events (X-Omnitrail-Signature); unset: route not mounted"
    )
