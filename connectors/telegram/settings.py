"""Telegram connector settings (``OMNITRAIL_TELEGRAM_*``) and the bots they describe.

The environment configures one bot, named ``default``: ``OMNITRAIL_TELEGRAM_BOT_TOKEN``,
``_MODE``, ``_WEBHOOK_SECRET`` and ``_API_URL``. More bots come from the TOML file, one table
each (``[telegram.bots.sales]`` with the same keys); a bot without its own ``api_url`` uses
the top-level one. :meth:`TelegramSettings.bots_configured` validates all of it once, at
start-up, and names the setting at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.signing_secret import MIN_LENGTH
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError

Mode = Literal["webhook", "polling"]
DEFAULT_BOT = "default"
#: PTB's own default ``base_url``: the method name follows the token (``.../bot<token>/getMe``).
TELEGRAM_API_URL = "https://api.telegram.org/bot"
#: BotFather's token format, ``<bot id>:<secret>``; the id is the bot's stable account.
_TOKEN = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
#: setWebhook's ``secret_token``: what Telegram accepts (1-256 of these), so a bad one fails here, not at
#: setWebhook; and no shorter than every webhook secret here (:mod:`connectors.signing_secret`): the header
#: is the only proof a call comes from Telegram, and one of a few characters is guessed in a few requests.
_SECRET = re.compile(rf"^[A-Za-z0-9_-]{{{MIN_LENGTH},256}}$")
_BOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class TelegramBotSettings(BaseModel):
    """One more bot, from a ``[telegram.bots.NAME]`` table of the TOML file."""

    model_config = ConfigDict(extra="forbid")

    bot_token: SecretStr
    mode: Mode = "webhook"
    webhook_secret: SecretStr | None = None
    api_url: str | None = None


class TelegramSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_TELEGRAM_", extra="forbid")
    toml_section: ClassVar[str | None] = "telegram"

    bot_token: SecretStr | None = Field(default=None, description="The `default` bot; unset: no default bot")
    mode: Mode = Field(default="webhook", description="webhook: Telegram calls us; polling: we call getUpdates")
    webhook_secret: SecretStr | None = Field(
        default=None, description="X-Telegram-Bot-Api-Secret-Token of the default bot (required in webhook mode)"
    )
    api_url: str = Field(default=TELEGRAM_API_URL, description="Bot API base URL (PTB base_url), for every bot")
    poll_timeout_s: int = Field(default=25, ge=0, le=50, description="getUpdates long-poll timeout")
    bots: dict[str, TelegramBotSettings] = Field(default_factory=dict, description="More bots, by name (TOML)")

    def bots_configured(self) -> list[BotConfig]:
        """Every configured bot, validated; FatalError naming the setting when one is unusable."""
        found: list[BotConfig] = []
        if self.bot_token is not None:
            if DEFAULT_BOT in self.bots:
                raise FatalError(
                    "OMNITRAIL_TELEGRAM_BOT_TOKEN configures the bot named `default`; "
                    "[telegram.bots.default] in the configuration file would be a second one"
                )
            found.append(
                BotConfig.of(
                    DEFAULT_BOT,
                    self.bot_token,
                    self.mode,
                    self.webhook_secret,
                    self.api_url,
                    setting=lambda key: f"OMNITRAIL_TELEGRAM_{key.upper()}",
                )
            )
        for name, bot in sorted(self.bots.items()):
            if not _BOT_NAME.match(name):
                raise FatalError(f"[telegram.bots.{name}]: a bot name is lower-case letters, digits, - and _")
            found.append(
                BotConfig.of(
                    name,
                    bot.bot_token,
                    bot.mode,
                    bot.webhook_secret,
                    bot.api_url or self.api_url,
                    setting=_in_table(name),
                )
            )
        ids = [bot.bot_id for bot in found]
        if len(ids) != len(set(ids)):
            raise FatalError("two Telegram bots are configured with the same bot token")
        return found


def _in_table(name: str) -> Callable[[str], str]:
    return lambda key: f"[telegram.bots.{name}] {key}"


@dataclass(frozen=True)
class BotConfig:
    """One bot as the connector uses it: ``bot_id`` (from the token) is the interactions' account."""

    name: str
    token: SecretStr
    bot_id: str
    mode: Mode
    webhook_secret: SecretStr | None
    api_url: str

    @property
    def source(self) -> str:
        """Its name in dead letters and metrics, unique per bot so replay knows whose update it is."""
        return f"telegram.{self.mode}" + ("" if self.name == DEFAULT_BOT else f".{self.name}")

    @classmethod
    def of(
        cls,
        name: str,
        token: SecretStr,
        mode: Mode,
        secret: SecretStr | None,
        api_url: str,
        *,
        setting: Callable[[str], str],
    ) -> BotConfig:
        """``setting(key)`` spells a key the way the operator wrote it, for the error message."""
        match = _TOKEN.match(token.get_secret_value().strip())
        if match is None:
            raise FatalError(f"{setting('bot_token')} is not a bot token (expected <bot id>:<secret> from BotFather)")
        if mode == "webhook":
            # The secret header is the only proof a call comes from Telegram: no secret, no route.
            if secret is None:
                raise FatalError(f"{setting('webhook_secret')} is required in webhook mode")
            if not _SECRET.match(secret.get_secret_value()):
                raise FatalError(
                    f"{setting('webhook_secret')}: {MIN_LENGTH}-256 of A-Z a-z 0-9 _ - (Telegram accepts no other)"
                )
        return cls(name, SecretStr(token.get_secret_value().strip()), match.group(1), mode, secret, api_url)
