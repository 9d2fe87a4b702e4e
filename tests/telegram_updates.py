"""Bot API payloads for tests, shaped exactly as https://core.telegram.org/bots/api documents them.

``Update`` (update_id + one of message / edited_message / ...), ``Message`` (message_id, from,
chat, date, text or caption, edit_date, photo / document / voice, reply_to_message), ``User``
(id, is_bot, first_name, last_name, username, language_code), ``Chat`` (id, type, and for a
private chat first_name, last_name, username), ``PhotoSize`` (file_id, file_unique_id, width,
height, file_size), ``Document`` (file_id, file_unique_id, file_name, mime_type, file_size),
``Voice`` (file_id, file_unique_id, duration, mime_type, file_size). Dates are Unix time.
"""

from __future__ import annotations

import json
from typing import Any

BOT_ID = 7000000001
BOT_TOKEN = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
WEBHOOK_SECRET = "test-telegram-secret_0123456789"
DATE = 1767261600  # 2026-01-01T10:00:00Z

Json = dict[str, Any]


def user(
    user_id: int = 412345678, first: str = "Ana", last: str | None = "Silva", username: str | None = "anasilva"
) -> Json:
    found: Json = {"id": user_id, "is_bot": False, "first_name": first}
    if last:
        found["last_name"] = last
    if username:
        found["username"] = username
    found["language_code"] = "pt"
    return found


def bot_user() -> Json:
    return {"id": BOT_ID, "is_bot": True, "first_name": "Omnitrail Support", "username": "omnitrail_support_bot"}


def private_chat(person: Json) -> Json:
    chat: Json = {"id": person["id"], "type": "private", "first_name": person["first_name"]}
    for key in ("last_name", "username"):
        if key in person:
            chat[key] = person[key]
    return chat


def message(
    message_id: int,
    person: Json | None = None,
    *,
    text: str | None = "Olá, a minha encomenda não chegou",
    date: int = DATE,
    **extra: Any,
) -> Json:
    person = person or user()
    found: Json = {"message_id": message_id, "from": person, "chat": private_chat(person), "date": date}
    if text is not None:
        found["text"] = text
    found.update(extra)
    return found


def update(update_id: int, **content: Json) -> Json:
    return {"update_id": update_id, **content}


def text_update(
    update_id: int, message_id: int, person: Json | None = None, text: str = "Olá, a minha encomenda não chegou"
) -> Json:
    return update(update_id, message=message(message_id, person, text=text))


def edited_update(
    update_id: int, message_id: int, text: str, person: Json | None = None, *, edit_date: int = DATE + 60
) -> Json:
    return update(update_id, edited_message=message(message_id, person, text=text, edit_date=edit_date))


def photo_sizes(unique: str = "AQADkqsxG1Yx0Ep4") -> list[Json]:
    """A photo as Telegram sends it: the same image in several sizes, smallest first."""
    return [
        {
            "file_id": f"AgACAgQAAxkBAAIBQ2Wt{unique}AAMCAAN5",
            "file_unique_id": f"{unique}Ac",
            "file_size": 1385,
            "width": 90,
            "height": 67,
        },
        {
            "file_id": f"AgACAgQAAxkBAAIBQ2Wt{unique}AAMCAANt",
            "file_unique_id": f"{unique}Ar",
            "file_size": 19817,
            "width": 320,
            "height": 240,
        },
        {
            "file_id": f"AgACAgQAAxkBAAIBQ2Wt{unique}AAMCAAN4",
            "file_unique_id": f"{unique}AB",
            "file_size": 88422,
            "width": 1280,
            "height": 960,
        },
    ]


def photo_update(
    update_id: int, message_id: int, person: Json | None = None, caption: str = "A caixa chegou assim"
) -> Json:
    return update(update_id, message=message(message_id, person, text=None, photo=photo_sizes(), caption=caption))


def document_update(update_id: int, message_id: int, person: Json | None = None) -> Json:
    document = {
        "file_name": "fatura-2026-001.pdf",
        "mime_type": "application/pdf",
        "file_id": "BQACAgQAAxkBAAIBRGWtFatura2026AAH7Ag",
        "file_unique_id": "AgADfgYAAqbmUVM",
        "file_size": 48213,
    }
    return update(update_id, message=message(message_id, person, text=None, document=document))


def voice_update(update_id: int, message_id: int, person: Json | None = None) -> Json:
    voice = {
        "duration": 4,
        "mime_type": "audio/ogg",
        "file_id": "AwACAgQAAxkBAAIBRWWtVoiceNoteAAFtBw",
        "file_unique_id": "AgADbQcAAqbmUVM",
        "file_size": 12345,
    }
    return update(update_id, message=message(message_id, person, text=None, voice=voice))


def group_update(update_id: int, message_id: int, person: Json | None = None) -> Json:
    person = person or user()
    chat = {"id": -1001234567890, "title": "Clientes VIP", "type": "supergroup"}
    return update(
        update_id, message={"message_id": message_id, "from": person, "chat": chat, "date": DATE, "text": "olá a todos"}
    )


def encode(payload: Json) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def webhook_headers(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """What Telegram sends with a webhook call when setWebhook was given a secret_token."""
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
