"""What providers really send, as they document it, keeps its content and its customer: WhatsApp users
known only by their business-scoped user id, system notices, reactions, locations, contact cards,
unsupported content and Messenger standby messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.telegram.updates import normalize_update, parse_update
from connectors.twilio.messages import normalize_inbound_message
from connectors.twilio.status import normalize_message_status
from connectors.webhook import Normalized, RawRequest
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import interaction_id_for
from schemas.interaction import Channel, Direction, Interaction, InteractionKind
from tests.channel_payloads import (
    IG_ACCOUNT_ID,
    PAGE_ID,
    message_status,
    messaging_event,
    meta_connector,
    meta_signed,
    page_payload,
    wa_contact,
    wa_message,
    wa_number_change,
    wa_reaction,
    wa_status,
    whatsapp_payload,
    whatsapp_value,
)
from tests.helpers import inbound_sms
from tests.telegram_updates import BOT_ID, DATE, message, private_chat, update, user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WA_ACCOUNT = "+351210000001"
BSUID = "BR.1502576394655843"
CONNECTOR = meta_connector()


def meta(payload: dict[str, object]) -> Normalized:
    body, headers = meta_signed(payload)
    request = RawRequest(body=body, headers=headers, public_url="http://x/webhooks/meta", received_at=NOW)
    CONNECTOR.verify(request)
    return CONNECTOR.normalize(request)


def whatsapp(*messages: dict[str, object], contacts: list[dict[str, object]] | None = None) -> list[Interaction]:
    result = meta(whatsapp_payload(whatsapp_value(contacts=contacts, messages=list(messages))))
    assert result.rejected == []
    return result.interactions


def keys(interaction: Interaction) -> list[str]:
    return [i.key for i in interaction.customer_identifiers()]


# --- WhatsApp business-scoped user ids ------------------------------------------------------


def test_cloud_api_message_from_a_user_id_without_a_phone_is_kept_with_the_id_and_username() -> None:
    contact = wa_contact(None, "Ana Silva", user_id=BSUID, username="ana.silva")
    [m] = whatsapp(wa_message("wamid.U1", None, "text", user_id=BSUID, text={"body": "Olá"}), contacts=[contact])
    assert m.text == "Olá"
    assert keys(m) == [f"whatsapp_user_id:{BSUID}", "whatsapp_username:ana.silva"]
    assert m.sender.display_name == "Ana Silva"


def test_cloud_api_message_with_phone_and_user_id_carries_both_in_one_party() -> None:
    contact = wa_contact("351912345678", "Ana Silva", user_id=BSUID)
    [m] = whatsapp(
        wa_message("wamid.U2", "351912345678", "text", user_id=BSUID, text={"body": "Olá"}), contacts=[contact]
    )
    # One party is one person: the pipeline links the id to the phone's contact.
    assert keys(m) == ["phone:+351912345678", f"whatsapp_user_id:{BSUID}"]


def test_a_user_id_is_kept_exactly_and_never_read_as_a_phone() -> None:
    assert Identifier.of(IdentifierKind.whatsapp, "whatsapp:BR.1502576394655843").key == f"whatsapp_user_id:{BSUID}"
    assert Identifier.of(IdentifierKind.whatsapp, "US.ENT.11815799212886844830").value == "US.ENT.11815799212886844830"
    assert Identifier.of(IdentifierKind.whatsapp, "whatsapp:+351912345678").key == "phone:+351912345678"
    assert Identifier.of(IdentifierKind.whatsapp, " WhatsApp:BR.1502576394655843").value == BSUID


def test_twilio_whatsapp_from_a_user_id_is_that_id_linked_to_the_wa_id_phone() -> None:
    form = inbound_sms("SMu1", f"whatsapp:{BSUID}", To="whatsapp:+351210000000", ProfileName="Ana", WaId="351912345678")
    m = normalize_inbound_message(form, default_region="PT", received_at=NOW)
    assert m.channel is Channel.whatsapp
    assert keys(m) == [f"whatsapp_user_id:{BSUID}", "phone:+351912345678"]
    alone = normalize_inbound_message(
        inbound_sms("SMu2", f"whatsapp:{BSUID}", To="whatsapp:+351210000000"), default_region="PT", received_at=NOW
    )
    assert keys(alone) == [f"whatsapp_user_id:{BSUID}"]


def test_twilio_status_of_a_message_to_a_user_id_is_accepted() -> None:
    form = message_status("SMo1", "delivered", BSUID, whatsapp=True)
    status = normalize_message_status(form, default_region="PT", received_at=NOW)
    assert keys(status) == [f"whatsapp_user_id:{BSUID}"]


def test_cloud_api_status_to_a_user_id_only_recipient_is_accepted() -> None:
    status = wa_status("wamid.O1", "read", "0")
    del status["recipient_id"]
    status["recipient_user_id"] = BSUID
    [s] = meta(whatsapp_payload(whatsapp_value(statuses=[status]))).interactions
    assert keys(s) == [f"whatsapp_user_id:{BSUID}"]


# --- system notices -------------------------------------------------------------------------


def test_number_change_is_an_identity_notice_linking_old_and_new_numbers() -> None:
    [notice] = whatsapp(wa_number_change("wamid.S1", "351912345678", "351933333333"))
    assert notice.kind is InteractionKind.identity
    assert keys(notice) == ["phone:+351912345678", "phone:+351933333333"]
    assert notice.metadata["event"] == "user_changed_number"


def test_user_id_change_without_from_is_acknowledged_as_a_notice() -> None:
    system = {"body": "User Ana changed their user id", "type": "user_changed_user_id", "user_id": "BR.999"}
    [notice] = whatsapp(wa_message("wamid.S2", None, "system", user_id=BSUID, system=system))
    assert notice.kind is InteractionKind.identity
    assert keys(notice) == [f"whatsapp_user_id:{BSUID}", "whatsapp_user_id:BR.999"]


def test_a_number_change_routes_with_the_new_numbers_next_messages_not_the_old_ones() -> None:
    # Keyed by its old number, half of all notices raced the customer's first message from the new number on
    # another partition: that message made a second contact, and the notice opened a review instead of a link.
    for old, new in (("351912345678", "351933333333"), ("351933333333", "351912345678")):
        [notice] = whatsapp(wa_number_change("wamid.S1", old, new))
        [before] = whatsapp(wa_message("wamid.M0", old, "text", text={"body": "Olá"}))
        [after] = whatsapp(wa_message("wamid.M1", new, "text", text={"body": "Número novo"}))
        assert notice.routing_key() == after.routing_key() != before.routing_key()
        assert notice.address_change is not None
        assert [i.key for i in notice.address_change.before] == [f"phone:+{old}"]
        assert [i.key for i in notice.address_change.after] == [f"phone:+{new}"]


def test_a_number_change_keeps_the_user_id_and_routes_as_the_messages_carrying_both() -> None:
    change = wa_number_change("wamid.S1", "351912345678", "351933333333")
    [notice] = whatsapp({**change, "from_user_id": BSUID})
    [after] = whatsapp(wa_message("wamid.M1", "351933333333", "text", user_id=BSUID, text={"body": "Olá"}))
    assert notice.address_change is not None
    assert {i.key for i in notice.address_change.after} == {"phone:+351933333333", f"whatsapp_user_id:{BSUID}"}
    assert notice.routing_key() == after.routing_key()


def test_a_user_id_change_routes_as_the_messages_from_the_unchanged_number() -> None:
    system = {"body": "User Ana changed their user id", "type": "user_changed_user_id", "user_id": "BR.999"}
    [notice] = whatsapp(wa_message("wamid.S2", "351912345678", "system", user_id=BSUID, system=system))
    [after] = whatsapp(wa_message("wamid.M1", "351912345678", "text", user_id="BR.999", text={"body": "Olá"}))
    assert notice.address_change is not None
    assert {i.key for i in notice.address_change.after} == {"phone:+351912345678", "whatsapp_user_id:BR.999"}
    assert notice.routing_key() == after.routing_key()


def test_a_user_id_change_without_a_number_routes_as_the_new_user_ids_messages() -> None:
    # The old user id sorts first: keyed by the smaller of the two, the notice raced the new id's messages.
    system = {"body": "User Ana changed their user id", "type": "user_changed_user_id", "user_id": "BR.999"}
    [notice] = whatsapp(wa_message("wamid.S2", None, "system", user_id="BR.111", system=system))
    [after] = whatsapp(wa_message("wamid.M1", None, "text", user_id="BR.999", text={"body": "Olá"}))
    assert notice.routing_key() == after.routing_key()


def test_an_address_change_is_only_a_notices_and_names_only_addresses_its_customer_carries() -> None:
    [notice] = whatsapp(wa_number_change("wamid.S1", "351912345678", "351933333333"))
    document = notice.model_dump(mode="json")
    # An address only in the change would escape linking and erasure, which read the customer party.
    stray = {
        **document,
        "address_change": {**document["address_change"], "after": [{"kind": "phone", "value": "+351944444444"}]},
    }
    with pytest.raises(ValueError, match="does not carry"):
        Interaction.model_validate(stray)
    with pytest.raises(ValueError, match="only an identity notice"):
        Interaction.model_validate({**document, "kind": "message"})
    assert Interaction.model_validate(document) == notice


def test_other_system_messages_are_acknowledged_and_skipped() -> None:
    system = {"body": "Security code changed", "type": "customer_identity_changed", "identity": "abc"}
    assert whatsapp(wa_message("wamid.S3", "351912345678", "system", system=system)) == []


# --- reactions ------------------------------------------------------------------------------


def test_whatsapp_reaction_targets_the_message_and_an_empty_emoji_removes_it() -> None:
    [r] = whatsapp(wa_reaction("wamid.R1", "351912345678", "wamid.M1", "👍"))
    assert r.kind is InteractionKind.reaction
    assert r.text == "👍"
    assert r.status is not None
    assert r.status.target_interaction_id == interaction_id_for("whatsapp", WA_ACCOUNT, "wamid.M1")
    [removed] = whatsapp(wa_reaction("wamid.R2", "351912345678", "wamid.M1", None))
    assert removed.text is None
    assert removed.status is not None
    assert removed.status.status == "unreacted"


@pytest.mark.parametrize(
    ("obj", "account", "channel"), [("page", PAGE_ID, "messenger"), ("instagram", IG_ACCOUNT_ID, "instagram")]
)
def test_messenger_and_instagram_reactions_target_the_message(obj: str, account: str, channel: str) -> None:
    event = {
        "sender": {"id": "6213"},
        "recipient": {"id": account},
        "timestamp": 1763888400000,
        "reaction": {"mid": "m_target", "action": "react", "reaction": "love", "emoji": "❤"},
    }
    [r] = meta(page_payload(obj, account, event)).interactions
    assert (r.kind, r.text, r.direction) == (InteractionKind.reaction, "❤", Direction.inbound)
    assert r.status is not None
    assert r.status.target_interaction_id == interaction_id_for(channel, account, "m_target")
    event["reaction"] = {"mid": "m_target", "action": "unreact"}
    event["timestamp"] = 1763888460000
    [u] = meta(page_payload(obj, account, event)).interactions
    assert u.text is None
    assert u.interaction_id != r.interaction_id


def test_telegram_reaction_targets_the_message() -> None:
    ana = user()
    reaction = {
        "chat": private_chat(ana),
        "message_id": 42,
        "user": ana,
        "date": DATE,
        "old_reaction": [],
        "new_reaction": [{"type": "emoji", "emoji": "🔥"}],
    }
    [r] = normalize_update(parse_update(update(901, message_reaction=reaction)), bot_id=str(BOT_ID), received_at=NOW)
    assert (r.kind, r.text) == (InteractionKind.reaction, "🔥")
    assert r.status is not None
    assert r.status.target_interaction_id == interaction_id_for("telegram", str(BOT_ID), f"{ana['id']}:42")


# --- locations, contact cards, unsupported content --------------------------------------------


def test_whatsapp_location_keeps_coordinates_name_and_address() -> None:
    location = {"latitude": 38.7223, "longitude": -9.1393, "name": "Loja Baixa", "address": "Rua Augusta 1, Lisboa"}
    [m] = whatsapp(wa_message("wamid.L1", "351912345678", "location", location=location))
    assert m.location is not None
    assert (m.location.latitude, m.location.longitude, m.location.name) == (38.7223, -9.1393, "Loja Baixa")


def test_whatsapp_contact_card_keeps_name_phones_emails_and_company() -> None:
    card = {
        "name": {"formatted_name": "Rui Costa", "first_name": "Rui", "last_name": "Costa"},
        "phones": [{"phone": "+351 934 000 000", "wa_id": "351934000000", "type": "CELL"}],
        "emails": [{"email": "rui@example.pt", "type": "WORK"}],
        "org": {"company": "Costa Lda"},
    }
    [m] = whatsapp(wa_message("wamid.C1", "351912345678", "contacts", contacts=[card]))
    [c] = m.contact_cards
    assert (c.name, c.phones, c.emails, c.organization) == (
        "Rui Costa",
        ["+351 934 000 000"],
        ["rui@example.pt"],
        "Costa Lda",
    )
    # Content, not identity: the card's number is not the customer's.
    assert keys(m) == ["phone:+351912345678"]


def test_telegram_location_venue_and_contact_are_kept() -> None:
    ana = user()
    venue = {"location": {"latitude": 41.1496, "longitude": -8.611}, "title": "Ribeira", "address": "Porto"}
    [v] = normalize_update(
        parse_update(update(902, message=message(50, ana, text=None, venue=venue, location=venue["location"]))),
        bot_id=str(BOT_ID),
        received_at=NOW,
    )
    assert v.location is not None
    assert (v.location.latitude, v.location.name, v.location.address) == (
        41.1496,
        "Ribeira",
        "Porto",
    )
    card = {"phone_number": "+351934000000", "first_name": "Rui", "last_name": "Costa"}
    [c] = normalize_update(
        parse_update(update(903, message=message(51, ana, text=None, contact=card))),
        bot_id=str(BOT_ID),
        received_at=NOW,
    )
    assert [(x.name, x.phones) for x in c.contact_cards] == [("Rui Costa", ["+351934000000"])]


def test_whatsapp_unsupported_message_is_stored_with_the_marker() -> None:
    unsupported = wa_message(
        "wamid.X1", "351912345678", "unsupported", errors=[{"code": 131051, "title": "Message type unknown"}]
    )
    [m] = whatsapp(unsupported)
    assert m.kind is InteractionKind.message
    assert m.metadata["unsupported"] is True


def test_instagram_unsupported_message_is_stored_with_the_marker() -> None:
    event = messaging_event("m_unsup", "6213", IG_ACCOUNT_ID, text=None, is_unsupported=True)
    [m] = meta(page_payload("instagram", IG_ACCOUNT_ID, event)).interactions
    assert (m.channel, m.text, m.metadata["unsupported"]) == (Channel.instagram, None, True)


def test_a_whatsapp_message_naming_no_customer_is_rejected_alone() -> None:
    result = meta(
        whatsapp_payload(
            whatsapp_value(
                messages=[
                    wa_message("wamid.N1", None, "text", text={"body": "?"}),
                    wa_message("wamid.N2", "351912345678", "text", text={"body": "ok"}),
                ]
            )
        )
    )
    assert [i.external_id for i in result.interactions] == ["wamid.N2"]
    assert [r.reason for r in result.rejected] == ["messages[].from and from_user_id are both missing"]
    with pytest.raises(InvalidPayload):
        meta(whatsapp_payload(whatsapp_value(messages=[wa_message("wamid.N3", None, "text", text={"body": "?"})])))


# --- text PostgreSQL cannot store ------------------------------------------------------------


def test_an_sms_nul_is_gsm7_at_sign_and_elsewhere_it_becomes_the_replacement_character() -> None:
    sms = normalize_inbound_message(
        inbound_sms("SMn1", "+351912345678", "ana\x00example.pt"), default_region="PT", received_at=NOW
    )
    assert sms.text == "ana@example.pt"
    form = inbound_sms(
        "SMn2", "whatsapp:+351912345678", "a\x00b\ud800c", To="whatsapp:+351210000000", ProfileName="A\x00na"
    )
    wa = normalize_inbound_message(form, default_region="PT", received_at=NOW)
    assert (wa.text, wa.sender.display_name) == ("a\ufffdb\ufffdc", "A\ufffdna")
    mms = inbound_sms("MMn3", "+351912345678", "x\x00y", NumMedia="1", MediaUrl0="https://api.twilio.com/m/ME1")
    assert (
        normalize_inbound_message(mms, default_region="PT", received_at=NOW).text == "x\ufffdy"
    )  # MIME text, not GSM-7
