"""Subscribers and delivery tuning (``OMNITRAIL_WEBHOOKS_*`` or the TOML table ``[webhooks]``).

Subscribers are a list, so in the environment they are one JSON value::

    OMNITRAIL_WEBHOOKS_SUBSCRIBERS='[{"name": "crm", "url": "https://crm.example/hooks/omnitrail",
      "secret": "...", "event_types": ["interaction.added"], "channels": ["sms", "whatsapp"]}]'

and in TOML an array of tables (``[[webhooks.subscribers]]``). Each subscriber has its own
consumer group and its own undelivered events, so a slow or broken receiver never delays another.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings
from schemas.interaction import Channel
from schemas.timeline import TimelineEventType


class Subscriber(BaseModel):
    """One receiver: where to POST, the shared secret it verifies with, what it wants."""

    model_config = ConfigDict(extra="forbid")

    # The name is a consumer-group suffix, a metric label and an undelivered-event key: keep it plain.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Stable identifier of the subscriber")
    url: str = Field(pattern=r"^https?://", description="Receiver URL (POST)")
    secret: SecretStr = Field(description="HMAC-SHA256 key shared with the receiver (at least 16 characters)")
    event_types: list[TimelineEventType] = Field(default_factory=list, description="Empty: every type")
    channels: list[Channel] = Field(
        default_factory=list, description="Empty: every event; else only interaction events on these channels"
    )

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("a webhook secret needs at least 16 characters")
        return value

    def wants(self, event_type: str | None, channel: str | None) -> bool:
        """Whether an event of this type (and interaction channel, if it carries one) is for this subscriber."""
        if self.event_types and event_type not in {t.value for t in self.event_types}:
            return False
        return not self.channels or channel in {c.value for c in self.channels}


class SubscriptionSettings(OmnitrailSettings):
    """The webhook sink role (``omnitrail sink webhooks``; part of ``omnitrail up`` when subscribers exist)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_WEBHOOKS_", extra="forbid", case_sensitive=False)
    toml_section: ClassVar[str | None] = "webhooks"

    subscribers: list[Subscriber] = Field(default_factory=list, description="JSON list of subscribers")
    max_attempts: int = Field(default=8, ge=1, description="Attempts per event before it is recorded undelivered")
    backoff_initial_s: float = Field(default=1.0, gt=0, description="Delay after the first failed attempt")
    backoff_max_s: float = Field(default=300.0, gt=0, description="Cap of the doubling delay")
    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout")
    start_from: Literal["earliest", "latest"] = Field(
        default="latest", description="Where a new subscriber starts on the timeline topic"
    )
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus port of the sink process; 0: off")

    @model_validator(mode="after")
    def _unique_names(self) -> SubscriptionSettings:
        names = [s.name for s in self.subscribers]
        if len(names) != len(set(names)):
            raise ValueError("subscriber names must be unique")
        return self
