"""Where each channel's attachment content is, and with which credentials.

- Twilio (SMS/MMS, WhatsApp via Twilio): ``location`` is the media URL; HTTP basic auth with the
  account SID named in the URL and the auth token (Twilio then redirects to its CDN, without them).
- WhatsApp Cloud API: ``location`` is ``whatsapp-media:<media id>``; the Graph API answers the id
  with a short-lived URL, fetched with the same bearer token.
- Telegram: ``location`` is ``telegram:<bot id>:<file id>``; ``getFile`` gives the file path, served
  under ``/file/bot<token>/``.
- Messenger and Instagram: ``location`` is a Meta CDN link, fetched as it is (it expires).

A location naming nothing we hold credentials for is refused with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from pipeline.media.fetch import Fetched, Fetcher, Refused, Request
from schemas.interaction import Attachment, Interaction, Provider

_TWILIO_ACCOUNT = re.compile(r"/Accounts/(AC[0-9a-fA-F]{32})/")


@dataclass(frozen=True)
class TelegramBot:
    token: str
    #: The Bot API base as configured (``https://api.telegram.org/bot``).
    api_url: str

    def method(self, name: str) -> str:
        return f"{self.api_url}{self.token}/{name}"

    def file(self, path: str) -> str:
        base = self.api_url[: -len("bot")] if self.api_url.endswith("bot") else self.api_url.rstrip("/") + "/"
        return f"{base}file/bot{self.token}/{quote(path)}"


@dataclass(frozen=True)
class Credentials:
    twilio_auth_token: str | None = None
    graph_api_url: str = "https://graph.facebook.com/v21.0"
    meta_access_token: str | None = None
    #: Bot id -> bot.
    telegram: Mapping[str, TelegramBot] = field(default_factory=dict)


def fetchable(attachment: Attachment) -> bool:
    """Whether there is content to fetch (an email attachment has no location: see :func:`carried`)."""
    return bool(attachment.location)


def carried(interaction: Interaction, attachment: Attachment) -> bool:
    """An attachment that came inside the message (email): the connector kept its bytes under its ``sha256``."""
    return interaction.provider is Provider.imap and not attachment.location and attachment.sha256 is not None


async def fetch(
    fetcher: Fetcher, credentials: Credentials, interaction: Interaction, attachment: Attachment
) -> Fetched:
    location = attachment.location or ""
    if location.startswith("whatsapp-media:"):
        return await _whatsapp(fetcher, credentials, location.removeprefix("whatsapp-media:"))
    if location.startswith("telegram:"):
        return await _telegram(fetcher, credentials, location)
    if interaction.provider is Provider.twilio:
        return await _twilio(fetcher, credentials, location)
    if interaction.provider is Provider.meta:
        return await fetcher.file(Request(location))
    raise Refused(f"no way to fetch {interaction.provider.value} media")


async def _twilio(fetcher: Fetcher, credentials: Credentials, url: str) -> Fetched:
    account = _TWILIO_ACCOUNT.search(url)
    if credentials.twilio_auth_token is None or account is None:
        raise Refused("no Twilio credentials for this media (OMNITRAIL_TWILIO_AUTH_TOKEN, account SID in the URL)")
    return await fetcher.file(Request(url, auth=(account.group(1), credentials.twilio_auth_token)))


async def _whatsapp(fetcher: Fetcher, credentials: Credentials, media_id: str) -> Fetched:
    if credentials.meta_access_token is None:
        raise Refused("no Graph API token for WhatsApp media (OMNITRAIL_MEDIA_META_ACCESS_TOKEN)")
    if not media_id.isdigit():
        raise Refused("a WhatsApp media id is digits")
    bearer = {"Authorization": f"Bearer {credentials.meta_access_token}"}
    found = await fetcher.json(Request(f"{credentials.graph_api_url.rstrip('/')}/{media_id}", headers=bearer))
    url = found.get("url") if isinstance(found, dict) else None
    if not isinstance(url, str):
        raise Refused("the Graph API gave no media URL")
    return await fetcher.file(Request(url, headers=bearer))


async def _telegram(fetcher: Fetcher, credentials: Credentials, location: str) -> Fetched:
    _, bot_id, file_id = [*location.split(":", 2), "", ""][:3]
    bot = credentials.telegram.get(bot_id)
    if bot is None:
        raise Refused("no configured Telegram bot has this bot id")
    found = await fetcher.json(Request(bot.method("getFile") + "?file_id=" + quote(file_id, safe="")))
    result = found.get("result") if isinstance(found, dict) and found.get("ok") is True else None
    path = result.get("file_path") if isinstance(result, dict) else None
    if not isinstance(path, str):
        raise Refused("getFile gave no file path (the file is over the Bot API's 20 MB or gone)")
    return await fetcher.file(Request(bot.file(path)))
