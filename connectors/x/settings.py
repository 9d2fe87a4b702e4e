"""X (Twitter) connector settings (``OMNITRAIL_X_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import OptionalSigningSecret
from schemas.config import OmnitrailSettings


class XSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_X_", extra="forbid")
    toml_section: ClassVar[str | None] = "x"

    consumer_secret: OptionalSigningSecret = Field(
        default=None,
        description="The app's consumer secret: answers CRC challenges and verifies x-twitter-webhooks-signature; "
        "unset: /webhooks/x is not mounted",
    )
