"""The file a Telegram message carries, as attachment metadata: never its content.

A message holds at most one file (an album arrives as several messages sharing a
``media_group_id``). What we keep is what the Bot API sends: ``file_id`` (in ``location``,
prefixed with the bot id because a file_id only works for the bot that received it, through
``getFile``), ``file_unique_id`` (stable across bots and time, kept in the message metadata),
size, MIME type and file name where Telegram gives them. Photos come as several sizes of one
image; the largest stands for the photo.
"""

from __future__ import annotations

from typing import Any

from telegram import Animation, Audio, Document, Message, PhotoSize, Sticker, Video, VideoNote, Voice

from schemas.interaction import Attachment

_File = Animation | Audio | Document | PhotoSize | Sticker | Video | VideoNote | Voice
#: Checked in this order: an animation also fills ``document`` (the Bot API does so for old clients).
_KINDS = ("animation", "document", "photo", "video", "video_note", "voice", "audio", "sticker")


def file_of(message: Message) -> tuple[str, _File] | None:
    """The message's file and its kind (``photo``, ``document``...), or None for text and the like."""
    for kind in _KINDS:
        value: Any = getattr(message, kind)
        if kind == "photo":
            if value:
                return kind, max(value, key=lambda size: (size.width * size.height, size.file_size or 0))
        elif value is not None:
            return kind, value
    return None


def attachment_of(bot_id: str, kind: str, file: _File) -> tuple[Attachment, dict[str, Any]]:
    """The attachment and the Telegram details that have no place in it (kind, unique id, dimensions)."""
    details: dict[str, Any] = {"kind": kind, "file_unique_id": file.file_unique_id}
    # The Bot API form (durations in seconds); PTB's ``duration`` attribute is changing type.
    api_form = file.to_dict()
    details.update({key: api_form[key] for key in ("width", "height", "duration") if key in api_form})
    attachment = Attachment(
        name=getattr(file, "file_name", None),
        content_type=getattr(file, "mime_type", None),
        size=file.file_size,
        location=f"telegram:{bot_id}:{file.file_id}",
    )
    return attachment, details
