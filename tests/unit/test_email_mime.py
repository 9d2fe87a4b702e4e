"""MIME parsing and normalization of real-world-shaped mail, and a fuzzer: malformed MIME never raises."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email import mime
from connectors.email.normalize import MAX_INTERACTION_BYTES, external_id, facts, fit, to_interaction
from connectors.email.threads import Placement
from connectors.emitter import Record
from schemas.ids import interaction_id_for
from schemas.interaction import Direction, Interaction, PartyRole
from tests import email_corpus as corpus

OWN = frozenset({corpus.SUPPORT})
NOW = datetime(2026, 3, 10, tzinfo=UTC)
CORPUS = [
    corpus.complaint,
    corpus.outlook_reply,
    corpus.outlook_rewritten_reply,
    corpus.reply_with_attachment,
    corpus.html_only,
    corpus.without_message_id,
    corpus.forwarded,
    corpus.malformed,
    corpus.no_sender,
]


def _interaction(raw: bytes) -> Interaction:
    parsed = mime.parse(raw)
    occurred = parsed.date or NOW
    return to_interaction(
        parsed,
        account="support@acme.example",
        own=OWN,
        occurred_at=occurred,
        received_at=NOW,
        placement=Placement("t", "new"),
    )


def test_iso_8859_1_encoded_words_and_quoted_printable_body() -> None:
    parsed = mime.parse(corpus.complaint("a"))
    assert parsed.subject == "Reclamação da fatura de fevereiro"
    assert parsed.sender == mime.Mailbox("João Conceição", corpus.JOAO)
    assert parsed.text == (
        "Olá,\n\nA fatura de fevereiro está errada: cobraram-me duas vezes o serviço.\n\nObrigado,\nJoão"
    )
    assert parsed.defects == []


def test_windows_1252_body_attachment_and_inline_image_as_metadata_only() -> None:
    parsed = mime.parse(corpus.reply_with_attachment("a"))
    assert parsed.text == "Obrigado! Paguei 49,90 € a mais, segue o comprovativo “em anexo”."
    assert parsed.html is not None
    assert "49,90 €" in parsed.html
    pdf = next(a for a in parsed.attachments if a.content_type == "application/pdf")
    png = next(a for a in parsed.attachments if a.content_type == "image/png")
    assert (pdf.name, pdf.size, pdf.sha256, pdf.inline) == (
        "comprovativo fevereiro.pdf",
        len(corpus.PDF),
        hashlib.sha256(corpus.PDF).hexdigest(),
        False,
    )
    assert (png.name, png.size, png.inline) == ("logo.png", len(corpus.PNG), True)
    assert parsed.references == ["m1.a@cliente.example", "m2.a@acme.example"]
    assert parsed.in_reply_to == "m2.a@acme.example"


def test_multipart_alternative_keeps_text_and_html_and_html_only_becomes_text() -> None:
    reply = mime.parse(corpus.outlook_reply("a"))
    assert reply.text == "Olá João,\n\nJá corrigimos a fatura.\n\nSuporte ACME"
    assert reply.html is not None
    assert reply.html.startswith("<html>")
    html_only = mime.parse(corpus.html_only("a"))
    assert html_only.text == "Bom dia,\nQual é o horário da loja?\n\nAna"
    assert html_only.html is not None
    assert "color: red" in html_only.html


def test_forwarded_message_is_an_attachment_with_its_headers_recorded() -> None:
    parsed = mime.parse(corpus.forwarded("a"))
    assert parsed.text == "Reencaminho a mensagem do meu colega."
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert parsed.forwarded == [
        {"subject": "Reclamação da fatura de fevereiro", "message_id": "m1.fwd-a@cliente.example"}
    ]


def test_malformed_headers_and_unknown_charsets_are_decoded_best_effort_and_flagged() -> None:
    parsed = mime.parse(corpus.malformed("a"))
    assert parsed.sender is not None
    assert parsed.sender.address == "broken@cliente.example"
    assert parsed.text == "Café com pão"
    assert parsed.subject == "Olá mundo"
    assert parsed.warnings == [
        "header Subject: unknown charset 'x-bogus-charset': read as windows-1252",
        "body: unknown charset 'x-unknown-8bit': read as windows-1252",
    ]
    assert parsed.date is None
    interaction = _interaction(corpus.malformed("a"))
    assert interaction.metadata["parse_defects"] == parsed.defects
    assert interaction.metadata["parse_warnings"] == parsed.warnings


def test_inbound_with_cc_makes_every_customer_a_party() -> None:
    interaction = _interaction(corpus.complaint("a"))
    assert interaction.direction is Direction.inbound
    assert interaction.interaction_id == interaction_id_for("email", "", "m1.a@cliente.example")
    assert [i.value for i in interaction.customer_identifiers()] == [corpus.JOAO, corpus.MARIA]
    roles = {p.identifiers[0].value: p.role for p in interaction.recipients}
    assert roles == {corpus.SUPPORT: PartyRole.us, corpus.MARIA: PartyRole.customer}


def test_outbound_from_our_address_is_attached_to_the_recipients() -> None:
    interaction = _interaction(corpus.outlook_reply("a"))
    assert interaction.direction is Direction.outbound
    assert [i.value for i in interaction.customer_identifiers()] == [corpus.JOAO]
    assert interaction.in_reply_to == interaction_id_for("email", "", "m1.a@cliente.example")


def test_message_without_message_id_is_identified_by_its_content() -> None:
    raw = corpus.without_message_id("a")
    parsed = mime.parse(raw)
    assert external_id(parsed) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert _interaction(raw).metadata["message_id_missing"] is True


def test_threading_facts_leave_our_own_addresses_out() -> None:
    parsed = mime.parse(corpus.reply_with_attachment("a"))
    f = facts(parsed, OWN, NOW)
    assert f.participants == (corpus.JOAO,)
    assert f.references == ["m1.a@cliente.example", "m2.a@acme.example"]


_HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Date", "Message-ID", "References", "In-Reply-To", "Content-Type", "Thread-Index"]
)


@st.composite
def _mangled(draw: st.DrawFn) -> bytes:
    """A corpus message with random bytes spliced in, cut short, or with a header replaced by garbage."""
    raw = draw(st.sampled_from(CORPUS))("fuzz")
    mode = draw(st.sampled_from(["splice", "truncate", "header"]))
    noise = draw(st.binary(max_size=200))
    if mode == "splice":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + noise + raw[at:]
    if mode == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    name = draw(_HEADER_NAMES).encode()
    return name + b": " + noise.replace(b"\r", b"").replace(b"\n", b" ") + b"\r\n" + raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mangled(), st.binary(max_size=2000)))
def test_fuzz_malformed_mime_never_raises_out_of_the_parser_or_normalizer(raw: bytes) -> None:
    parsed = mime.parse(raw)
    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()
    interaction = _interaction(raw)  # must not raise: every input becomes an interaction or is dead-lettered
    # PostgreSQL could not store a NUL (a backslash the text holds is written "\\\\": not a NUL's escape).
    assert "\\u0000" not in interaction.model_dump_json().replace("\\\\", "")


def test_nul_characters_are_removed_and_flagged() -> None:
    raw = corpus.complaint("a").replace(b"Message-ID: <m1.a", b"Message-ID: <m1.\x00a").replace(b"Ol=E1", b"Ol=00=E1")
    parsed = mime.parse(raw)
    assert parsed.message_id == "m1.a@cliente.example"
    assert parsed.text is not None
    assert parsed.text.startswith("Olá")
    assert "NUL characters removed" in parsed.defects


def test_huge_message_is_cut_to_fit_the_broker_and_says_what_was_cut() -> None:
    reply = _interaction(corpus.outlook_reply("a"))
    big = reply.model_copy(update={"html": "<p>x</p>" * 100_000, "text": "y" * 600_000})
    fitted = fit(big)
    assert len(fitted.model_dump_json()) <= MAX_INTERACTION_BYTES
    assert fitted.html is None
    assert fitted.text is not None
    assert fitted.text.startswith("y" * 1000)
    assert fitted.metadata["truncated"] == ["html"]
    bigger = big.model_copy(update={"text": "y" * 2_000_000})
    assert fit(bigger).metadata["truncated"] == ["html", "text"]
    assert len(fit(bigger).model_dump_json()) <= MAX_INTERACTION_BYTES
    quoting = big.model_copy(update={"text": "y" * 1000, "quoted_text": "> z" * 400_000})
    assert fit(quoting).metadata["truncated"] == ["html", "quoted_text"]
    assert fit(quoting).text == "y" * 1000
    small = _interaction(corpus.complaint("a"))
    assert fit(small) is small


def _wire_size(interaction: Interaction) -> int:
    return len(Record.of(interaction).value)  # bytes, as produced


def test_multibyte_text_is_cut_by_its_bytes_on_a_character_boundary() -> None:
    reply = _interaction(corpus.complaint("a"))
    for word in ("Привет мир ", "你好世界", '😀\n"q" '):  # 2, 3 and 4 bytes a character; JSON escapes as well
        big = reply.model_copy(update={"html": None, "quoted_text": None, "text": word * (700_000 // len(word))})
        assert len(big.model_dump_json()) < 2 * MAX_INTERACTION_BYTES  # characters alone would not have shown it
        fitted = fit(big)
        assert _wire_size(fitted) <= MAX_INTERACTION_BYTES
        assert fitted.metadata["truncated"] == ["text"]
        assert fitted.text is not None
        assert big.text is not None
        assert big.text.startswith(fitted.text)  # a prefix: no character cut in half, none replaced
        assert _wire_size(fitted) > MAX_INTERACTION_BYTES - 64_000  # only what had to go


def test_what_cannot_be_cut_is_left_for_the_caller_to_dead_letter() -> None:
    reply = _interaction(corpus.complaint("a"))
    crowded = reply.model_copy(update={"recipients": reply.recipients * 20_000})
    assert fit(crowded).recipients == crowded.recipients
    assert _wire_size(fit(crowded)) > MAX_INTERACTION_BYTES
