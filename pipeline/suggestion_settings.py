"""Settings of the next-action suggestions agent (``OMNITRAIL_SUGGESTIONS_*``), read by the worker."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from pipeline.stages.suggestion_rules import Policy
from schemas.config import OmnitrailSettings
from schemas.interaction import Channel

_HOUR = 3600.0
#: Reply-time targets per channel, in seconds: chat-like channels expect an answer within the
#: hour (live chat within minutes), email within a working day.
DEFAULT_SLA_S: dict[Channel, float] = {
    Channel.email: 24 * _HOUR,
    Channel.sms: _HOUR,
    Channel.mms: _HOUR,
    Channel.whatsapp: _HOUR,
    Channel.telegram: _HOUR,
    Channel.messenger: _HOUR,
    Channel.instagram: _HOUR,
    Channel.livechat: 300.0,
    Channel.voice: 4 * _HOUR,
    Channel.other: 24 * _HOUR,
}


class SuggestionSettings(OmnitrailSettings):
    """Next-action suggestions (``OMNITRAIL_SUGGESTIONS_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_SUGGESTIONS_", extra="forbid")
    toml_section: ClassVar[str | None] = "suggestions"

    enabled: bool = Field(default=True, description="Run the suggestions agent in the worker")
    sla_s: dict[Channel, float] = Field(
        default_factory=dict,
        description='Reply SLA per channel in seconds, JSON, merged over the defaults: {"sms": 1800}',
    )
    window_warning_s: float = Field(default=2 * _HOUR, gt=0, lt=24 * _HOUR)
    dormancy_factor: float = Field(default=2.0, gt=1.0)
    dormancy_min_visits: int = Field(default=3, ge=3)
    multi_channel_count: int = Field(default=3, ge=2)
    multi_channel_window_s: float = Field(default=24 * _HOUR, gt=0)
    tick_interval_s: float = Field(default=30.0, gt=0)
    history_limit: int = Field(default=1000, ge=10)

    @field_validator("sla_s")
    @classmethod
    def _merge_defaults(cls, value: dict[Channel, float]) -> dict[Channel, float]:
        if any(seconds <= 0 for seconds in value.values()):
            raise ValueError("every SLA must be a positive number of seconds")
        return {**DEFAULT_SLA_S, **value}

    def policy(self) -> Policy:
        return Policy(
            sla={channel: timedelta(seconds=s) for channel, s in {**DEFAULT_SLA_S, **self.sla_s}.items()},
            window_warning=timedelta(seconds=self.window_warning_s),
            dormancy_factor=self.dormancy_factor,
            dormancy_min_visits=self.dormancy_min_visits,
            multi_channel_count=self.multi_channel_count,
            multi_channel_window=timedelta(seconds=self.multi_channel_window_s),
        )
