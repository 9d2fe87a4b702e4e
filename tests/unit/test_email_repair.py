"""Damaged real-world mail: nothing a person could read is lost or garbled, and every repair is recorded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from connectors.email import charsets, mime
from connectors.email.inspect import Inspector
from connectors.email.normalize import to_interaction
from connectors.email.quoting import split
from connectors.email.threads import Placement
from omnitrail.cli import main
from schemas.interaction import Interaction
from tests import email_corpus as corpus
from tests.unit.test_email_mime import NOW, OWN


def _interaction(raw: bytes) -> Interaction:
    parsed = mime.parse(raw)
    return to_interaction(
        parsed,
        account=corpus.SUPPORT,
        own=OWN,
        occurred_at=NOW,
        received_at=NOW,
        placement=Placement("t", "new"),
    )


def test_a_bad_header_line_costs_neither_sender_nor_subject() -> None:
    interaction = _interaction(corpus.header_damaged("a"))
    assert interaction.sender.identifiers[0].value == corpus.MARIA
    assert interaction.subject == "Pedido de reembolso a"
    assert interaction.text == "Quero o reembolso da encomenda 4471."
    assert interaction.metadata["parse_warnings"] == [
        "1 line(s) of text before the first header removed",
        "unindented continuation line(s) joined to header(s) Received, X-Tracker",
    ]


def test_a_body_that_starts_without_a_blank_line_stays_the_body() -> None:
    raw = (
        f"From: Ana <ana.sousa@cliente.example>\r\nTo: {corpus.SUPPORT}\r\nSubject: Nota\r\n"
        "Bom dia,\r\nNota: o contador avariou.\r\nObrigada\r\n\r\nAna\r\n"
    ).encode()
    interaction = _interaction(raw)
    assert interaction.subject == "Nota"
    assert interaction.text == "Bom dia,\nNota: o contador avariou.\nObrigada\n\nAna"
    assert "parse_warnings" not in interaction.metadata


def test_a_bounce_keeps_its_reason_status_report_and_returned_message() -> None:
    interaction = _interaction(corpus.bounce("a"))
    assert interaction.text is not None
    assert "550 5.1.1 User unknown" in interaction.text
    assert [a.content_type for a in interaction.attachments] == ["message/delivery-status", "message/rfc822"]
    assert interaction.metadata["forwarded"] == [{"subject": "A sua fatura a", "message_id": "sent.a@acme.example"}]


def test_undeclared_utf8_is_read_as_utf8() -> None:
    interaction = _interaction(corpus.undeclared_utf8("a"))
    assert interaction.subject == "Contacto: reclamação a"
    assert interaction.sender.display_name == "Formulário"
    assert interaction.text == "Prénom: João\nMensagem: a fatura de março está errada, cobraram-me duas vezes."
    assert "body: undeclared charset: read as utf-8" in interaction.metadata["parse_warnings"]


def test_gb2312_labels_are_read_as_their_superset() -> None:
    interaction = _interaction(corpus.mislabelled_gbk("a"))
    assert interaction.subject == "內應力產生的關係"
    assert interaction.text == "內應力產生与注塑工艺条件之间的关系"


def test_iso_2022_jp_extensions_and_a_raw_shift_jis_subject_are_decoded() -> None:
    interaction = _interaction(corpus.jis_extended("a"))
    assert interaction.text == "① ツール"
    assert interaction.subject == "ツール"


def test_every_readable_part_reaches_the_text_and_the_html() -> None:
    interaction = _interaction(corpus.parts_side_by_side("a"))
    assert interaction.text == (
        "Primeira parte: o contador marca 1234.\nSegunda parte: depois da foto.\n"
        "Terceira parte em texto.\nAna Sousa\nCliente desde 2019"
    )
    assert interaction.html is not None
    for piece in ("Primeira parte", "Segunda parte", "Terceira parte em texto.", "<b>Cliente desde 2019</b>"):
        assert piece in interaction.html
    assert [a.content_type for a in interaction.attachments] == ["image/png"]


def test_a_plain_version_that_only_points_to_the_html_gives_way_to_the_html_text() -> None:
    interaction = _interaction(corpus.newsletter_stub("a"))
    assert interaction.text is not None
    assert "Oferta 8: contador inteligente com desconto de 80 %" in interaction.text
    plain = _interaction(corpus.outlook_reply("a"))  # a full plain version stays the text
    assert plain.text == "Olá João,\n\nJá corrigimos a fatura.\n\nSuporte ACME"


def test_a_multipart_without_boundaries_is_read_as_text_not_hidden_in_an_attachment() -> None:
    interaction = _interaction(corpus.broken_multipart("a"))
    assert interaction.text == "Bom dia, o serviço está em baixo desde ontem à noite."
    assert interaction.attachments == []
    assert "multipart/mixed without parts read as text" in interaction.metadata["parse_warnings"]


def test_a_damaged_from_still_names_the_sender_and_file_names_decode() -> None:
    interaction = _interaction(corpus.damaged_from("a"))
    assert interaction.sender.identifiers[0].value == "clemente.silva@cliente.example"
    assert interaction.text == "Segue o relatório."
    assert [a.name for a in interaction.attachments] == ["relatório.pdf"]
    assert interaction.metadata["parse_warnings"][:2] == [
        "header From: trailing dot removed from the domain",
        "header From: 1 copy(ies) without an address skipped",
    ]


def test_a_reply_is_split_into_new_text_and_quoted_history() -> None:
    interaction = _interaction(corpus.quoted_reply("a"))
    assert interaction.text == "Ainda não recebi a fatura corrigida."
    assert interaction.quoted_text is not None
    assert interaction.quoted_text.startswith("Em seg., 2 de mar. de 2026 às 10:02, Suporte ACME")
    assert interaction.quoted_text.endswith("> Já corrigimos a fatura: reembolso 9981.")


def test_english_and_outlook_reply_headers_split_and_plain_text_does_not() -> None:
    assert split("Still broken.\n\nOn Mon, Mar 2, 2026 at 10:02 AM Support <s@acme.example> wrote:\n> fixed") == (
        "Still broken.",
        "On Mon, Mar 2, 2026 at 10:02 AM Support <s@acme.example> wrote:\n> fixed",
    )
    outlook = "Segue.\n\nDe: Maria <m@cliente.example>\nEnviado: 2 de março\nPara: Suporte\nAssunto: Fatura\n\nAntigo"
    assert split(outlook) == ("Segue.", outlook[len("Segue.\n\n") :])
    assert split("Olá,\nnada citado aqui.") == ("Olá,\nnada citado aqui.", None)


def test_decoding_never_gives_a_replacement_character_where_a_decoding_exists() -> None:
    mixed = "Olá ".encode() + b"caf\xe9 " + "差出人".encode()  # UTF-8 with a stray Windows-1252 byte
    assert charsets.decode(mixed, None) == (
        "Olá café 差出人",
        "undeclared charset: read as utf-8 with windows-1252 bytes",
    )
    assert charsets.decode(b"caf\xe9 \x80", "iso-8859-1") == ("café €", None)  # Latin-1 label, Windows-1252 text
    russian = "Здравствуйте, у меня проблема со счётом за март."  # noqa: RUF001  # Cyrillic on purpose
    assert charsets.decode(russian.encode("cp1251"), None) == (russian, "undeclared charset: detected cp1251")
    assert charsets.decode(bytes(range(0x80, 0x100)), "x-unknown")[0].count("\ufffd") == 0


def test_inspect_prints_the_interaction_or_the_dead_letter_reason_per_mail(tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(
        b"From x@y Mon Mar  2 09:00:00 2026\n"
        + corpus.header_damaged("i").replace(b"\r\n", b"\n")
        + b"\nFrom x@y Mon Mar  2 09:00:00 2026\n"
        + corpus.internal("i").replace(b"\r\n", b"\n")
    )
    eml = tmp_path / "reply.eml"
    eml.write_bytes(corpus.quoted_reply("i"))
    result = CliRunner().invoke(main, ["email", "inspect", "--account", corpus.SUPPORT, str(mbox), str(eml)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["file"], line["message"]) for line in lines] == [(str(mbox), 0), (str(mbox), 1), (str(eml), 0)]
    assert lines[0]["interaction"]["subject"] == "Pedido de reembolso i"
    assert "no customer address" in lines[1]["dead_letter"]["reason"]
    assert lines[2]["interaction"]["quoted_text"].startswith("Em seg.")


def test_inspect_threads_messages_as_one_mailbox_would() -> None:
    async def run() -> list[Interaction | None]:
        inspector = Inspector(corpus.SUPPORT)
        return [
            (await inspector.inspect(raw)).interaction for raw in (corpus.complaint("t"), corpus.outlook_reply("t"))
        ]

    first, reply = asyncio.run(run())
    assert first is not None
    assert reply is not None
    assert reply.thread_key == first.thread_key
    assert reply.direction.value == "outbound"
