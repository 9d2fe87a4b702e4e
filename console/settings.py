"""Settings of the console: the page (``OMNITRAIL_CONSOLE_*``: sessions, sign-in throttling, live buffer) and the
API's token throttling (``OMNITRAIL_AUTH_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from console.live_feed import CHECK_S
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError


class ConsoleSettings(OmnitrailSettings):
    """The web page's session cookie and its guard against token guessing."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_CONSOLE_", extra="forbid", case_sensitive=False)
    toml_section: ClassVar[str | None] = "console"

    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="How long a sign-in lasts")
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Signs session cookies and media URLs (a key per purpose), the same on every console process;"
        " unset: a random one kept in the database (console_session_secret). Changing it ends every session and URL",
    )
    signin_failures: int = Field(default=5, ge=1, description="Failed sign-ins per client before it must wait")
    signin_window_s: float = Field(default=300.0, gt=0, description="Window (and wait) of that limit, seconds")
    live_buffer: int = Field(default=256, ge=1, description="Events queued per live page before it is dropped")
    live_check_s: float = Field(
        default=CHECK_S,
        gt=0,
        description="How often an open live page's stream re-checks its sign-in (ending it when that ended)"
        " and, when idle, sends a keep-alive; seconds",
    )
    oidc_issuer: str = Field(default="", description="OpenID Connect issuer URL for single sign-on; empty: off")
    oidc_client_id: str = Field(default="", description="The console's client id at that provider")
    oidc_client_secret: SecretStr = Field(default=SecretStr(""), description="The console's client secret there")

    @model_validator(mode="after")
    def _oidc_whole(self) -> ConsoleSettings:
        given = [bool(self.oidc_issuer), bool(self.oidc_client_id), bool(self.oidc_client_secret.get_secret_value())]
        if any(given) and not all(given):
            raise FatalError("OMNITRAIL_CONSOLE_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET go together: set all three")
        return self


class AuthSettings(OmnitrailSettings):
    """The API's guard against token guessing (``OMNITRAIL_AUTH_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_AUTH_", extra="forbid")
    toml_section: ClassVar[str | None] = "auth"

    max_failures: int = Field(default=20, ge=1, description="Failed API authentications per address per window")
    failure_window_s: float = Field(default=60.0, gt=0, description="The sliding window of max_failures")
