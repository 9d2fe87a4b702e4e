"""Import files: rows streamed with the line they start on, CSV cells mapped to v1 interactions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.testing import InMemoryEmitter
from omnitrail.imports.interaction_import import MAX_LISTED, import_interactions
from omnitrail.imports.interaction_rows import from_csv
from omnitrail.imports.rows import RowReader, detect_format
from schemas.errors import FatalError, InvalidPayload, RetriableError
from schemas.ids import interaction_id_for

NOW = datetime(2026, 1, 5, tzinfo=UTC)
HEADER = "Channel,direction,occurred_at,external_id,account,name,email,phone,subject,text,crm_stage\n"


def test_csv_rows_carry_the_line_they_start_on_even_after_a_multiline_cell(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "\ufeff" + HEADER + 'email,inbound,2026-01-02T10:00:00Z,m1,crm,Ana,a@x.pt,,Hi,"two\nlines",lead\n'
        "\n"
        "sms,outbound,2026-01-02T11:00:00Z,m2\n"
        "sms,outbound,2026-01-02T11:00:00Z,m3,crm,,,912345678,,ok,\n",
        encoding="utf-8",
    )
    reader = RowReader(path, "csv")
    rows = list(reader)
    assert [(r.line, r.error) for r in rows] == [(2, None), (5, "4 cells, the header has 11"), (6, None)]
    assert rows[0].values["channel"] == "email"
    assert rows[0].values["text"] == "two\nlines"
    assert reader.bytes_read == reader.bytes_total


def test_jsonl_rows_that_are_not_json_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{nope\n\xff\xfe\n[1]\n')
    assert [(r.line, r.values, r.error) for r in RowReader(path, "jsonl")] == [
        (1, {"a": 1}, None),
        (3, None, "not a JSON value"),
        (4, None, "not UTF-8"),
        (5, [1], None),
    ]


def test_the_format_comes_from_the_extension_or_the_option(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "a.CSV", None) == "csv"
    assert detect_format(tmp_path / "a.ndjson", None) == "jsonl"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(FatalError, match="--format"):
        detect_format(tmp_path / "a.txt", None)


def cells(**values: str) -> dict[str, str]:
    base = {"channel": "email", "occurred_at": "2026-01-02T10:00:00", "external_id": "m1", "email": "A@X.pt"}
    return {**base, **values}


def test_a_csv_row_becomes_an_interaction_with_every_identifier_of_the_person() -> None:
    interaction = from_csv(
        cells(email="Ana@X.pt; ana@work.pt", phone="912 345 678", name="Ana", crm_stage="lead", subject=""),
        default_region="PT",
        received_at=NOW,
    )
    assert interaction.interaction_id == interaction_id_for("email", "import", "m1")
    assert interaction.provider.value == "import"
    assert interaction.occurred_at == datetime(2026, 1, 2, 10, tzinfo=UTC)  # no offset: UTC
    assert [i.key for i in interaction.customer_identifiers()] == [
        "email:ana@x.pt",
        "email:ana@work.pt",
        "phone:+351912345678",
    ]
    assert interaction.customer_display_name() == "Ana"
    assert interaction.metadata == {"crm_stage": "lead"}
    outbound = from_csv(cells(direction="outbound"), default_region="PT", received_at=NOW)
    assert [i.key for i in outbound.customer_identifiers()] == ["email:a@x.pt"]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"external_id": ""}, "missing external_id"),
        ({"email": "", "phone": ""}, "no email or phone to attach the interaction to"),
        ({"email": "a@x.pt;not-an-email"}, "email value 2: not an email address"),
        ({"occurred_at": "yesterday"}, "occurred_at: not an ISO 8601 date and time"),
        ({"direction": "sideways"}, "direction: must be inbound or outbound"),
        ({"channel": "fax"}, "channel: enum"),
    ],
)
def test_a_bad_csv_row_says_why_without_its_values(values: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        from_csv(cells(**values), default_region="PT", received_at=NOW)
    assert caught.value.reason == reason


async def test_an_import_batches_good_rows_and_lists_the_rejected_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    rows = [
        {
            "channel": "sms",
            "account": "crm",
            "direction": "inbound",
            "occurred_at": "2026-01-02T10:00:00+00:00",
            "external_id": f"m{n}",
            "sender": {"identifiers": [{"kind": "phone", "value": f"+35191234{n:04d}"}]},
        }
        for n in range(5)
    ]
    rows[2]["direction"] = "sideways"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    emitter = InMemoryEmitter()
    progress: list[int] = []
    summary = await import_interactions(
        RowReader(path, "jsonl"), emitter, default_region="PT", batch_size=2, progress=progress.append
    )
    assert (summary.accepted, summary.rejected) == (4, 2)
    assert summary.rejections == [(3, "direction: enum"), (6, "not a JSON value")]
    assert [i.external_id for i in emitter.interactions] == ["m0", "m1", "m3", "m4"]
    assert {i.provider.value for i in emitter.interactions} == {"import"}
    assert sum(progress) == path.stat().st_size
    assert summary.render().splitlines() == [
        "accepted 4, rejected 2",
        "  line 3: direction: enum",
        "  line 6: not a JSON value",
    ]


async def test_a_file_of_bad_rows_lists_a_bounded_number_of_them(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("nope\n" * (MAX_LISTED + 5))
    summary = await import_interactions(RowReader(path, "jsonl"), InMemoryEmitter(), default_region="PT")
    assert summary.rejected == MAX_LISTED + 5
    assert len(summary.rejections) == MAX_LISTED
    assert summary.render().endswith("... and 5 more")


async def test_a_broker_outage_ends_the_import_with_a_retriable_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        HEADER + "".join(f"sms,inbound,2026-01-02T10:00:00Z,m{n},crm,,,91234{n:04d},,hi,\n" for n in range(5))
    )
    emitter = InMemoryEmitter()
    emitter.fail = True
    with pytest.raises(RetriableError):
        await import_interactions(RowReader(path, "csv"), emitter, default_region="PT", batch_size=2)
    assert emitter.interactions == []


def test_an_excel_csv_in_windows_1252_with_semicolons_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "contactos.csv"
    path.write_bytes("Nome;Email;Cidade\r\nJosé Conceição;jose@x.pt;Évora\r\nAna;ana@x.pt;Faro\r\n".encode("cp1252"))
    reader = RowReader(path, "csv", region="PT")
    assert reader.header() == ["nome", "email", "cidade"]
    assert [r.values for r in reader] == [
        {"nome": "José Conceição", "email": "jose@x.pt", "cidade": "Évora"},
        {"nome": "Ana", "email": "ana@x.pt", "cidade": "Faro"},
    ]
    assert reader.bytes_read == reader.bytes_total


def test_excel_unicode_text_utf16_with_tabs_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("Name\tPhone\nMaria João\t912345678\n", encoding="utf-16")
    assert [r.values for r in RowReader(path, "csv")] == [{"name": "Maria João", "phone": "912345678"}]


@pytest.mark.parametrize(
    ("name", "content", "fmt", "says"),
    [
        ("export.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 50, "csv", "not a text file"),
        ("rows.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "jsonl", "not a text file"),
        ("rows.jsonl", b'[\n  {"channel": "sms"},\n  {"channel": "email"}\n]\n', "jsonl", "one JSON document"),
        ("rows.jsonl", b'{\n  "channel": "sms"\n}\n', "jsonl", "one JSON document"),
    ],
)
def test_a_binary_file_or_a_json_document_is_refused_in_one_line(
    tmp_path: Path, name: str, content: bytes, fmt: str, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FatalError, match=says) as refused:
        RowReader(path, fmt)  # type: ignore[arg-type]
    assert "\n" not in str(refused.value)


def test_a_polish_excel_csv_reads_in_the_polish_code_page(tmp_path: Path) -> None:
    path = tmp_path / "kontakty.csv"
    path.write_bytes("Imię;Miasto\r\nŁukasz Żółć;Kraków\r\n".encode("cp1250"))
    assert [r.values for r in RowReader(path, "csv", region="PL")] == [{"imię": "Łukasz Żółć", "miasto": "Kraków"}]
