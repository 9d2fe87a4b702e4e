"""Settings of the console: the page (``OMNITRAIL_CONSOLE_*``: sessions, sign-in throttling, live buffer) and the
API's token throttling (``OMNITRAIL_AUTH_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings


class ConsoleSettings(OmnitrailSettings):
    """The web page's session cookie and its guard against token guessing."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_CONSOLE_", extra="forbid", case_sensitive=False)
    toml_section: ClassVar[str | None] = "console"

    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="How long a sign-in lasts")
    signin_failures: int = Field(default=5, ge=1, description="Failed sign-ins per client before it must wait")
    signin_window_s: float = Field(default=300.0, gt=0, description="Window (and wait) of that limit, seconds")
    live_buffer: int = Field(default=256, ge=1, description="Events queued per live page before it is dropped")


class AuthSettings(OmnitrailSettings):
    """The API's guard against token guessing (``OMNITRAIL_AUTH_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_AUTH_", extra="forbid")
    toml_section: ClassVar[str | None] = "auth"

    max_failures: int = Field(default=20, ge=1, description="Failed API authentications per address per window")
    failure_window_s: float = Field(default=60.0, gt=0, description="The sliding window of max_failures")
