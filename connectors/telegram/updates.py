"""Normalization of Bot API ``Update`` objects (parsed by python-telegram-bot) into v1 interactions.

What becomes what:

- ``message`` in a **private chat** -> a ``message`` interaction. Its id is derived from the
  bot, the chat id and the message id, so a redelivered update (webhook retry, re-polled
  batch) maps to the same row. Inbound unless the bot itself is the author (then outbound,
  with the chat's user as recipient).
- ``edited_message`` in a private chat -> an ``edit`` interaction that targets the original
  message's id; the pipeline updates that row's text (``sinks/update_store``), no new row.
  Its own id comes from the update id: each edit is one event, redelivered or not.
- A ``location`` or ``venue`` keeps its coordinates, name and address (``location``); a ``contact``
  becomes a contact card (``contact_cards``): content, nobody is linked to it.
- ``message_reaction`` in a private chat -> a ``reaction`` on the message it names (the emoji of
  ``new_reaction``, several joined; none: removed), no row of its own. Its id comes from the
  update id. Bots receive it when ``allowed_updates`` lists ``message_reaction``.
- Everything else is **skipped** (answered 2xx / offset advanced, counted in
  ``omnitrail_telegram_skipped_total``, not stored): groups, supergroups and channels,
  because a support bot talks to customers one to one and group traffic would make a contact
  of every member; and update types that are not messages (callback queries, member
  changes, reaction counts...).

The customer is identified by the numeric Telegram user id (``telegram`` identifier): a
username can change hands, so it is kept as ``metadata.username`` and the name as the
party's display name.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from telegram import Chat, Message, MessageReactionUpdated, ReactionTypeEmoji, Update, User
from telegram.helpers import effective_message_type

from connectors.telegram.media import attachment_of, file_of
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import interaction_id_for
from schemas.interaction import (
    Channel,
    ContactCard,
    Direction,
    Interaction,
    InteractionKind,
    Location,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)

#: Labelled by update type or chat type only: never by user or chat.
SKIPPED = Counter("omnitrail_telegram_skipped_total", "Telegram updates acknowledged but not stored", ["reason"])


def message_id_for(chat_id: int, message_id: int) -> str:
    """The external id of a message: unique per bot (message ids are counted per chat)."""
    return f"{chat_id}:{message_id}"


def thread_key_for(bot_id: str, chat_id: int) -> str:
    """One conversation per (bot, chat); hashed so no user id sits in the key."""
    return f"telegram:{bot_id}:" + hashlib.sha256(f"{bot_id}|{chat_id}".encode()).hexdigest()[:24]


def _customer(user: User | Chat) -> Party:
    names = [user.first_name, user.last_name]
    name = " ".join(n for n in names if n) or (f"@{user.username}" if user.username else None)
    return Party(display_name=name, identifiers=[Identifier.of(IdentifierKind.telegram, str(user.id))])


def _bot_party(bot_id: str) -> Party:
    return Party(identifiers=[Identifier.of(IdentifierKind.telegram, bot_id)], role=PartyRole.us)


def _fields(message: Message, bot_id: str, update_id: int) -> dict[str, Any]:
    """What a message and an edit of it share: parties, thread, content, metadata."""
    chat = message.chat
    author = message.from_user
    if author is None:
        raise InvalidPayload("private-chat message without a sender (from)")
    ours = str(author.id) == bot_id
    customer = chat if ours else author
    attachments = []
    metadata: dict[str, Any] = {"update_id": update_id, "message_id": message.message_id}
    if kind := effective_message_type(message):
        metadata["message_type"] = kind
    if customer.username:
        metadata["username"] = customer.username
    if not ours and author.language_code:
        metadata["language_code"] = author.language_code
    if message.media_group_id:
        metadata["media_group_id"] = message.media_group_id
    if found := file_of(message):
        attachment, details = attachment_of(bot_id, *found)
        attachments.append(attachment)
        metadata["files"] = [details]
    reply = message.reply_to_message
    venue = message.venue
    place = venue.location if venue else message.location
    card = message.contact
    return {
        "channel": Channel.telegram,
        "provider": Provider.telegram,
        "account": bot_id,
        "direction": Direction.outbound if ours else Direction.inbound,
        "thread_key": thread_key_for(bot_id, chat.id),
        "in_reply_to": interaction_id_for(Channel.telegram.value, bot_id, message_id_for(chat.id, reply.message_id))
        if reply
        else None,
        "sender": _bot_party(bot_id) if ours else _customer(author),
        "recipients": [_customer(customer)] if ours else [_bot_party(bot_id)],
        "text": message.text if message.text is not None else message.caption,
        "attachments": attachments,
        "location": Location(
            latitude=place.latitude,
            longitude=place.longitude,
            name=venue.title if venue else None,
            address=venue.address if venue else None,
        )
        if place
        else None,
        "contact_cards": [
            ContactCard(
                name=" ".join(n for n in (card.first_name, card.last_name) if n) or None,
                phones=[card.phone_number] if card.phone_number else [],
            )
        ]
        if card
        else [],
        "metadata": metadata,
        "raw_ref": f"telegram:{bot_id}:update:{update_id}",
    }


def normalize_update(update: Update, *, bot_id: str, received_at: datetime) -> list[Interaction]:
    """The interactions of one update: one, or none when the update is skipped (see module doc).

    PTB parses leniently (a Message without its chat still parses), so whatever this cannot make
    sense of becomes InvalidPayload, to be dead-lettered, rather than a 500 Telegram retries forever.
    """
    try:
        return _normalize(update, bot_id, received_at)
    except InvalidPayload:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        # The type only: a validation message could quote the payload, i.e. personal data.
        raise InvalidPayload(f"update cannot be normalized ({type(exc).__name__})") from None


def _reaction(
    update: Update, reaction: MessageReactionUpdated, bot_id: str, received_at: datetime
) -> list[Interaction]:
    if reaction.chat.type != Chat.PRIVATE or reaction.user is None:
        SKIPPED.labels(f"chat:{reaction.chat.type}").inc()
        return []
    ours = str(reaction.user.id) == bot_id
    customer = _customer(reaction.chat if ours else reaction.user)
    emoji = "".join(r.emoji for r in reaction.new_reaction if isinstance(r, ReactionTypeEmoji))
    target = message_id_for(reaction.chat.id, reaction.message_id)
    return [
        Interaction.build(
            channel=Channel.telegram,
            provider=Provider.telegram,
            account=bot_id,
            direction=Direction.outbound if ours else Direction.inbound,
            kind=InteractionKind.reaction,
            occurred_at=reaction.date,
            received_at=received_at,
            external_id=f"{target}:reaction:{update.update_id}",
            thread_key=thread_key_for(bot_id, reaction.chat.id),
            sender=_bot_party(bot_id) if ours else customer,
            recipients=[customer] if ours else [_bot_party(bot_id)],
            text=emoji or None,
            status=StatusUpdate(
                target_interaction_id=interaction_id_for(Channel.telegram.value, bot_id, target),
                status="reacted" if emoji or reaction.new_reaction else "unreacted",
            ),
            metadata={"update_id": update.update_id, "message_id": reaction.message_id},
            raw_ref=f"telegram:{bot_id}:update:{update.update_id}",
        )
    ]


def _normalize(update: Update, bot_id: str, received_at: datetime) -> list[Interaction]:
    if update.message_reaction is not None:
        return _reaction(update, update.message_reaction, bot_id, received_at)
    message = update.message or update.edited_message
    if message is None:
        kind = next((k for k in Update.ALL_TYPES if getattr(update, k, None) is not None), "unknown")
        SKIPPED.labels(f"update:{kind}").inc()
        return []
    for required in ("message_id", "chat", "date"):
        if getattr(message, required, None) is None:
            raise InvalidPayload(f"message without its required field {required}")
    if message.chat.type != Chat.PRIVATE:
        SKIPPED.labels(f"chat:{message.chat.type}").inc()
        return []
    fields = _fields(message, bot_id, update.update_id)
    external_id = message_id_for(message.chat.id, message.message_id)
    if update.message is not None:
        return [Interaction.build(**fields, occurred_at=message.date, received_at=received_at, external_id=external_id)]
    target = interaction_id_for(Channel.telegram.value, bot_id, external_id)
    fields["metadata"]["edited_message"] = external_id
    # An edit always carries the new text: a caption removed by the edit is an empty text, not a missing one.
    fields["text"] = fields["text"] or ""
    return [
        Interaction.build(
            **fields,
            kind=InteractionKind.edit,
            occurred_at=message.edit_date or received_at,
            received_at=received_at,
            external_id=f"{external_id}:edit:{update.update_id}",
            status=StatusUpdate(target_interaction_id=target, status="edited"),
        )
    ]


def parse_update(data: Any) -> Update:
    """A JSON object as a PTB ``Update``; InvalidPayload when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise InvalidPayload("not a Telegram Update object (no integer update_id)")
    try:
        return Update.de_json(data, None)
    except (TypeError, KeyError, ValueError, AttributeError, OverflowError, OSError) as exc:
        # PTB raises whatever the missing field makes its constructors raise; the type names the fault.
        raise InvalidPayload(f"not a Telegram Update object ({type(exc).__name__})") from None
