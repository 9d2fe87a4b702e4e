"""Sender addresses as real mail writes them: a one-label domain is kept, an encoded word never moves the mail,
and mail without a usable From is kept with the sender unknown."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from connectors.email import mime
from connectors.email.inspect import Inspector, Result
from pipeline.stages.decode import decode
from pipeline.stages.identity import claims_of
from pipeline.stages.policy import Policy
from schemas.interaction import Direction, Interaction
from sinks.kafka.records import RawRecord
from tests import email_corpus as corpus


def _inspect(raw: bytes) -> Result:
    return asyncio.run(Inspector(corpus.SUPPORT).inspect(raw))


@pytest.mark.parametrize("sender", ["root@localhost", "Redacted@Redacted", "helpdesk@intranet"])
def test_mail_from_a_one_label_domain_reaches_the_timeline_with_its_sender(sender: str) -> None:
    result = _inspect(corpus.simple("one-label", 1, sender=sender))
    assert result.dead_letter is None
    assert result.interaction is not None
    assert result.interaction.sender.display_name == "Cliente 1"
    assert [i.key for i in result.interaction.sender.identifiers] == [f"email:{sender.lower()}"]
    assert result.interaction.text == "Mensagem 1."


def _sender(from_header: bytes) -> str | None:
    parsed = mime.parse(b"From: " + from_header + b"\r\nTo: support@acme.example\r\nSubject: t\r\n\r\nbody\r\n")
    return parsed.sender.address if parsed.sender else None


@pytest.mark.parametrize(
    ("from_header", "address"),
    [
        # An encoded word is no part of an address: decoding one must not move the mail to victim.example.
        (b"=?utf-8?q?ceo=40victim.example?=@attacker.example", "=?utf-8?q?ceo=40victim.example?=@attacker.example"),
        # In a damaged angle-addr, no reading of an encoded word is trusted: the sender is unknown.
        (b"Ceo <=?utf-8?q?ceo=40victim.example=3E=00?=@attacker.example>", None),
        (b"=?utf-8?b?Y2VvQHZpY3RpbS5leGFtcGxl?=", None),  # "ceo@victim.example", encoded whole
        (b"ceo@=?utf-8?q?victim.example?=", None),  # no sender: kept, the sender unknown, linking nobody
        (b'"ceo@victim.example"@attacker.example', '"ceo@victim.example"@attacker.example'),  # as written
        # What clients really send, read as meant.
        (b"=?utf-8?Q?agent?=@example.com", "agent@example.com"),
        (b"=?utf-8?q?Jo=C3=A3o?= <joao@cliente.example>", "joao@cliente.example"),
        (b"Test test@example.com", "test@example.com"),
    ],
)
def test_an_encoded_word_never_moves_the_sender_to_another_address(from_header: bytes, address: str | None) -> None:
    assert _sender(from_header) == address


@pytest.mark.parametrize("sender", [b'Ana <"ana smith"@cliente.example>', b'"ana smith"@cliente.example'])
def test_a_quoted_local_part_is_the_address_not_its_last_word(sender: bytes) -> None:
    # Read as smith@cliente.example, Ana's mail would be filed on whoever that is.
    assert _sender(sender) == '"ana smith"@cliente.example'
    interaction = _inspect(corpus.simple("quoted", 1, sender='"ana smith"@cliente.example')).interaction
    assert interaction is not None
    assert [i.key for i in interaction.sender.identifiers] == ['email:"ana smith"@cliente.example']


def test_mail_without_a_from_is_kept_with_the_sender_unknown_on_its_own_conversation() -> None:
    result = _inspect(corpus.no_sender("nofrom"))
    assert result.dead_letter is None
    interaction = result.interaction
    assert isinstance(interaction, Interaction)
    assert interaction.direction is Direction.inbound
    assert interaction.sender.identifiers == []
    assert interaction.sender.display_name is None
    assert interaction.metadata["sender_unknown"] is True
    assert interaction.text == "no sender"
    assert interaction.customer_identifiers() == []
    # The pipeline takes it (it is not a record naming nobody by mistake) and files it under its conversation.
    assert decode([RawRecord(interaction.model_dump_json().encode(), "t", 0, 1)]).interactions == [interaction]
    [claim] = claims_of([interaction], Policy())
    assert claim.identifiers == ()
    assert claim.fallback_key == f"conversation:email:{interaction.account}:{interaction.thread_key}"


def test_mail_without_a_sender_routes_by_its_conversation_so_a_threads_stay_in_order() -> None:
    result = _inspect(corpus.no_sender("nofrom"))
    first = result.interaction
    assert isinstance(first, Interaction)
    assert first.thread_key
    reply = first.model_copy(update={"external_id": "<reply@x>", "interaction_id": uuid.uuid4()})
    elsewhere = reply.model_copy(update={"thread_key": first.thread_key + "-other"})
    # One conversation, one partition (keyed by its own id, a thread's mails raced each other on several).
    assert reply.routing_key() == first.routing_key() != elsewhere.routing_key()


def test_internal_mail_among_our_own_addresses_is_still_dead_lettered() -> None:
    result = _inspect(corpus.internal("internal"))
    assert result.interaction is None
    assert result.dead_letter is not None
    assert "no customer address" in result.dead_letter.reason
