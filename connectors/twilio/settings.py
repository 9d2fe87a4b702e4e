"""Twilio connector settings (``OMNITRAIL_TWILIO_*``)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import OptionalSigningSecret, SigningSecret
from schemas.config import OmnitrailSettings

#: What a SharedKey id may look like (Twilio's are ``webhooks_sharedkey_`` and 26 characters): no ``,`` ``=`` or
#: space, so it reads back unambiguously from ``X-Twilio-Webhooks-Signature-Settings``.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class TwilioSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_TWILIO_", extra="forbid")
    toml_section: ClassVar[str | None] = "twilio"

    auth_token: OptionalSigningSecret = Field(
        default=None, description="Signs every webhook (X-Twilio-Signature); unset: Twilio routes are not mounted"
    )
    account_sid: str | None = Field(default=None, description="When set, requests for other accounts are refused")
    shared_keys: dict[str, SigningSecret] = Field(
        default_factory=dict,
        description="SharedKey secrets by key id, for webhooks Twilio signs with a shared key (a JSON object; "
        "TOML: [twilio.shared_keys]); more than one during a rotation",
    )

    @field_validator("shared_keys")
    @classmethod
    def _usable_keys(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # The messages name the key id, never the secret: they end up in the start-up error.
        for key_id in keys:
            if not KEY_ID.fullmatch(key_id):
                raise ValueError(f"a key id is 1-128 of A-Z a-z 0-9 _ - (as Twilio gives it), not {key_id!r}")
        return keys
