"""Telegram updates, shaped as the Bot API documents them, become the interactions a support agent sees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.telegram.updates import normalize_update, parse_update
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import interaction_id_for
from schemas.interaction import Direction, Interaction, InteractionKind
from tests.telegram_updates import (
    BOT_ID,
    DATE,
    bot_user,
    document_update,
    edited_update,
    group_update,
    message,
    photo_update,
    private_chat,
    text_update,
    update,
    user,
    voice_update,
)

NOW = datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
ANA = user()


def normalize(payload: dict[str, object]) -> list[Interaction]:
    return normalize_update(parse_update(payload), bot_id=str(BOT_ID), received_at=NOW)


def one(payload: dict[str, object]) -> Interaction:
    [found] = normalize(payload)
    return found


def test_private_text_message_is_an_inbound_message_from_the_user_id() -> None:
    got = one(text_update(100000001, 42, ANA, text="Olá, a minha encomenda não chegou"))
    assert got.interaction_id == interaction_id_for("telegram", str(BOT_ID), f"{ANA['id']}:42")
    assert (got.channel.value, got.provider.value, got.account) == ("telegram", "telegram", str(BOT_ID))
    assert got.direction is Direction.inbound
    assert got.kind is InteractionKind.message
    assert got.text == "Olá, a minha encomenda não chegou"
    assert got.occurred_at == datetime.fromtimestamp(DATE, UTC)
    assert got.customer_identifiers() == [Identifier(kind=IdentifierKind.telegram, value=str(ANA["id"]))]
    assert got.customer_display_name() == "Ana Silva"
    # The username can change hands: kept, but not as an identifier.
    assert got.metadata["username"] == "anasilva"
    assert all("anasilva" not in i.value for i in got.customer_identifiers())


def test_redelivered_update_gets_the_same_id_and_other_chats_do_not_collide() -> None:
    first, again = one(text_update(1, 42, ANA)), one(text_update(1, 42, ANA))
    other_chat = one(text_update(2, 42, user(user_id=999888777, first="Rui", last=None, username=None)))
    assert first.interaction_id == again.interaction_id != other_chat.interaction_id
    assert first.thread_key == again.thread_key != other_chat.thread_key
    assert str(ANA["id"]) not in (first.thread_key or "")


def test_name_falls_back_to_username_when_there_is_no_last_name() -> None:
    got = one(text_update(1, 1, user(first="Rui", last=None, username="ruic")))
    assert got.customer_display_name() == "Rui"


def test_photo_is_one_attachment_the_largest_size_without_content() -> None:
    got = one(photo_update(100000002, 43, ANA, caption="A caixa chegou assim"))
    assert got.text == "A caixa chegou assim"
    [attachment] = got.attachments
    assert attachment.size == 88422
    assert attachment.location == f"telegram:{BOT_ID}:AgACAgQAAxkBAAIBQ2WtAQADkqsxG1Yx0Ep4AAMCAAN4"
    assert got.metadata["message_type"] == "photo"
    assert got.metadata["files"] == [
        {"kind": "photo", "file_unique_id": "AQADkqsxG1Yx0Ep4AB", "width": 1280, "height": 960}
    ]


def test_document_keeps_name_mime_type_and_size() -> None:
    got = one(document_update(1, 44, ANA))
    [attachment] = got.attachments
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "fatura-2026-001.pdf",
        "application/pdf",
        48213,
    )
    assert got.text is None
    assert got.metadata["files"][0] == {"kind": "document", "file_unique_id": "AgADfgYAAqbmUVM"}


def test_voice_note_keeps_duration_and_mime_type() -> None:
    got = one(voice_update(1, 45, ANA))
    [attachment] = got.attachments
    assert (attachment.content_type, attachment.size) == ("audio/ogg", 12345)
    assert got.metadata["files"][0]["duration"] == 4


def test_edit_updates_the_original_message_and_is_not_a_new_message() -> None:
    original = one(text_update(100000001, 42, ANA, text="encomenda 123"))
    edit = one(edited_update(100000005, 42, "encomenda 124", ANA))
    assert edit.kind is InteractionKind.edit
    assert edit.status is not None
    assert edit.status.target_interaction_id == original.interaction_id
    assert edit.text == "encomenda 124"
    assert edit.occurred_at == datetime.fromtimestamp(DATE + 60, UTC)
    assert edit.interaction_id != original.interaction_id
    # A later edit of the same message is another event; a redelivery of this one is not.
    assert one(edited_update(100000006, 42, "encomenda 125", ANA)).interaction_id != edit.interaction_id
    assert one(edited_update(100000005, 42, "encomenda 124", ANA)).interaction_id == edit.interaction_id


def test_removing_a_caption_is_an_edit_to_empty_text() -> None:
    payload = update(7, edited_message=message(43, ANA, text=None, edit_date=DATE + 5, photo=[]))
    assert one(payload).text == ""


def test_reply_points_at_the_message_it_answers() -> None:
    replied = message(42, ANA)
    got = one(update(3, message=message(43, ANA, text="e então?", reply_to_message=replied)))
    assert got.in_reply_to == interaction_id_for("telegram", str(BOT_ID), f"{ANA['id']}:42")


def test_a_message_the_bot_wrote_is_outbound_to_the_user() -> None:
    ours = {"message_id": 50, "from": bot_user(), "chat": private_chat(ANA), "date": DATE, "text": "Já verificamos."}
    got = one(update(9, message=ours))
    assert got.direction is Direction.outbound
    assert got.customer_identifiers() == [Identifier(kind=IdentifierKind.telegram, value=str(ANA["id"]))]


def test_group_messages_and_non_message_updates_are_skipped() -> None:
    assert normalize(group_update(1, 10, ANA)) == []
    callback = {
        "id": "4382bfdwdsb323b2d9",
        "from": ANA,
        "chat_instance": "-1234567890123456789",
        "data": "order:123",
    }
    assert normalize(update(2, callback_query=callback)) == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "no integer update_id"),
        ({"message": message(1)}, "no integer update_id"),
        ({"update_id": 1, "message": {k: v for k, v in message(1).items() if k != "chat"}}, "chat"),
        ({"update_id": 1, "message": {k: v for k, v in message(1).items() if k != "from"}}, "sender"),
        ({"update_id": 1, "message": {k: v for k, v in message(1).items() if k != "date"}}, "date"),
    ],
)
def test_what_is_not_a_usable_update_is_invalid_payload_with_a_reason(payload: object, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        normalize_update(parse_update(payload), bot_id=str(BOT_ID), received_at=NOW)
    assert "Ana" not in caught.value.reason
    assert "Olá" not in caught.value.reason
