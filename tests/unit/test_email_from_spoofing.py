"""A From (or To, Cc) that could name two addresses never names the victim's; the mail is kept all the same.

mail from attacker.example passes attacker.example's own DMARC; whatever else its From spells
(in a display name, a comment, an encoded word, a second mailbox, text around the angle-addr)
must not move it onto ceo@victim.example's contact.
"""

from __future__ import annotations

import asyncio

import pytest

from connectors.email import mime
from connectors.email.inspect import Inspector
from tests import email_corpus as corpus

VICTIM, ATTACKER = "ceo@victim.example", "x@attacker.example"

#: From header -> the sender's address (None: unknown), and its display text.
ATTACKS = [
    # The angle-addr is the address; whatever the text before it spells is display text.
    (b"ceo@victim.example <x@attacker.example>", ATTACKER, "ceo@victim.example"),
    (b"ceo@victim.example<x@attacker.example>", ATTACKER, "ceo@victim.example"),
    (b"CEO ceo@victim.example <x@attacker.example>", ATTACKER, "CEO ceo@victim.example"),
    (b'"ceo@victim.example" <x@attacker.example>', ATTACKER, "ceo@victim.example"),
    (b"=?utf-8?q?ceo@victim.example?= <x@attacker.example>", ATTACKER, "ceo@victim.example"),
    (b"=?utf-8?q?ceo=40victim.example?= <x@attacker.example>", ATTACKER, "ceo@victim.example"),
    (b'"a <ceo@victim.example>" <x@attacker.example>', ATTACKER, "a <ceo@victim.example>"),
    (b"x@attacker.example (ceo@victim.example)", ATTACKER, None),
    (b"(ceo@victim.example) x@attacker.example", ATTACKER, None),
    # Text after the angle-addr, two angle-addrs, nested or unbalanced brackets, two bare addresses:
    # which one a DMARC checker vouched for is unknown, so neither is the sender.
    (b"<ceo@victim.example>x@attacker.example", None, None),
    (b"<ceo@victim.example> x@attacker.example", None, None),
    (b"<x@attacker.example> ceo@victim.example", None, None),
    (b"<<ceo@victim.example>> <x@attacker.example>", None, None),
    (b"<ceo@victim.example <x@attacker.example>>", None, None),
    (b"ceo@victim.example <x@attacker.example", None, None),
    (b"ceo@victim.example x@attacker.example", None, None),
    (b"x@attacker.example> ceo@victim.example", None, None),
    (b"x@attacker.example =?utf-8?q?=3Cceo=40victim.example=3E?=", ATTACKER, None),
    # A quoted local part in the angle-addr is still the angle-addr; an encoded word or a comment in it,
    # or a second "@" outside one, leaves no address anyone can trust.
    (b'ceo@victim.example <"x"@attacker.example>', ATTACKER, "ceo@victim.example"),
    (b"ceo@victim.example <x@attacker.example =?utf-8?q?a?=>", None, None),
    (b"ceo@victim.example@attacker.example", None, None),
    (b'"x" ceo@victim.example@attacker.example', None, None),
    (b'"ceo"@victim.example x@attacker.example', None, None),
    # An encoded word in a domain: what it decodes to is no domain anyone checked.
    (b"ceo@=?utf-8?q?victim.example?= (@victim.example)", None, None),
    (b'"@victim.example" <ceo@=?utf-8?q?victim.example?= >', None, None),
    (b'"ceo@victim.example" <x@=?utf-8?q?attacker.example?=>', None, None),
    (b"(ceo@victim.example) <x@=?utf-8?q?attacker.example?=>", None, None),
    # Display text is never the address: not beside a null angle-addr, not in an unterminated quote,
    # not where the standard library gives up and the text is read leniently.
    (b'"ceo@victim.example" <>', None, None),
    (b"(ceo@victim.example) <>", None, None),
    (b'"ceo@victim.example@attacker.example', None, None),
    (b'"ceo@victim.example x@attacker.example', None, None),
    (b"x@[victim.example@attacker.example", None, None),
    # An obsolete source route: checkers disagree on which domain it names.
    (b"<@attacker.example:ceo@victim.example>", None, None),
    # Groups and several authors (RFC 5322 allows a mailbox-list in From, with a Sender).
    (b"ceo@victim.example: x@attacker.example;", None, None),
    (b"Victims: ceo@victim.example;, x@attacker.example", None, None),
    (b"ceo@victim.example, x@attacker.example", None, None),
    (b"x@attacker.example, ceo@victim.example", None, None),
    (b"x@attacker.example, <ceo@victim.example>y@attacker.example", None, None),
]


def _parsed(header: bytes, extra: bytes = b"") -> mime.ParsedEmail:
    return mime.parse(b"From: " + header + b"\r\n" + extra + b"To: support@acme.example\r\nSubject: t\r\n\r\nbody\r\n")


@pytest.mark.parametrize(("header", "address", "name"), ATTACKS)
def test_a_from_never_names_the_victim_when_its_address_is_another(
    header: bytes, address: str | None, name: str | None
) -> None:
    sender = _parsed(header).sender
    assert (sender.address if sender else None) == address
    assert (sender.name if sender else None) == name


@pytest.mark.parametrize(("header", "address", "name"), ATTACKS)
def test_spoofed_mail_never_reaches_the_victims_contact(header: bytes, address: str | None, name: str | None) -> None:
    result = asyncio.run(Inspector(corpus.SUPPORT).inspect(corpus.with_from("spoof", 1, header)))
    interaction = result.interaction
    assert interaction is not None  # kept on the timeline either way
    keys = [i.key for p in (interaction.sender, *interaction.recipients) for i in p.identifiers]
    assert f"email:{VICTIM}" not in keys
    assert [i.value for i in interaction.sender.identifiers] == ([address] if address else [])
    assert interaction.metadata.get("sender_unknown") is (None if address else True)


def test_a_second_from_header_of_another_domain_leaves_the_sender_unknown() -> None:
    assert _parsed(b"x@attacker.example", b"From: ceo@victim.example\r\n").sender is None
    assert _parsed(b"<>", b"From: Ana <ana@cliente.example>\r\n").sender == mime.Mailbox("Ana", "ana@cliente.example")


def test_several_authors_of_one_domain_name_the_first_and_a_null_address_names_nobody() -> None:
    # DMARC vouches for a domain: authors of one domain are all vouched for (RFC 7489, 6.6.1).
    first = _parsed(b'"Bob" <bob@cliente.example>, "Ly" <ly@cliente.example>').sender
    assert first == mime.Mailbox("Bob", "bob@cliente.example")
    assert _parsed(b'"Yangzhou" <>, "Ly" <ly@cliente.example>').sender == mime.Mailbox("Ly", "ly@cliente.example")


def test_what_clients_really_send_is_read_as_meant() -> None:
    assert _parsed(b"x@attacker.example <ceo@victim.example>").sender == mime.Mailbox(ATTACKER, VICTIM)
    assert _parsed(b'"Clemente" <Clemente.Silva@cliente.example.>').sender == mime.Mailbox(
        "Clemente", "Clemente.Silva@cliente.example"
    )
    assert _parsed(b"Test test@example.com").sender == mime.Mailbox(None, "test@example.com")
    assert _parsed(b"Joao <joao@x.example>;").sender == mime.Mailbox("Joao", "joao@x.example")  # a stray list end
    # A stray bracket beside one address is damage, not a second address (Zammad corpus mail076); the quoted local
    # part is the address's own.
    assert _parsed(b'"Lottery transfer"@example.com>').sender == mime.Mailbox(None, '"Lottery transfer"@example.com')


def test_recipients_are_read_by_the_same_rule() -> None:
    # Our own outbound mail makes customers of its recipients: a To must not name the victim either.
    raw = (
        b"From: support@acme.example\r\nTo: ceo@victim.example <x@attacker.example>\r\n"
        b"Cc: <ceo@victim.example>y@attacker.example, ana@cliente.example\r\nSubject: t\r\n\r\nbody\r\n"
    )
    parsed = mime.parse(raw)
    assert parsed.to == [mime.Mailbox(VICTIM, ATTACKER)]
    assert parsed.cc == [mime.Mailbox(None, "ana@cliente.example")]
