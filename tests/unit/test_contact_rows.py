"""Contact files: CSV and JSON Lines rows, multi-value cells, attributes, rejected rows with line numbers,
through the one import-file reader (the same format rule and row errors as interaction imports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnitrail.imports.contact_rows import ContactRow, RejectedRow, attribute_columns, read_rows
from omnitrail.imports.rows import RowReader, detect_format
from schemas.attributes import AttributeDefinition, AttributeType, coerce
from schemas.errors import FatalError, InvalidPayload


def test_csv_rows_with_several_values_per_cell_attributes_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(
        "\ufeffName,Email,Phone,External_ID,Plan,Since,\n"  # a trailing comma: a column without a name
        '"Silva, Ana",ANA@X.PT; ana@y.pt,912 345 678;+34 612 345 678,C-1,pro,2024-01-31,\n'
        "\n"
        "Rui,rui@x.pt,,,,,\n"
        '"multi\nline",bad,,,,,\n'
        "Short,row\n".encode()
    )
    reader = RowReader(path, detect_format(path, None))
    rows = list(read_rows(reader, default_region="PT"))
    assert reader.bytes_read == path.stat().st_size
    ana, rui, bad, short = rows
    assert isinstance(ana, ContactRow)
    assert (ana.line, ana.name) == (2, "Silva, Ana")
    assert [i.key for i in ana.identifiers] == [
        "email:ana@x.pt",
        "email:ana@y.pt",
        "phone:+351912345678",
        "phone:+34612345678",
        "external:C-1",
    ]
    assert ana.attributes == {"plan": "pro", "since": "2024-01-31"}
    assert isinstance(rui, ContactRow)
    assert (rui.line, rui.attributes) == (4, {})
    assert bad == RejectedRow(5, "email: not an email address")
    assert short == RejectedRow(7, "2 cells, the header has 7")
    assert attribute_columns(reader) == ["plan", "since"]
    assert detect_format(tmp_path / "x.jsonl", None) == "jsonl"
    # One rule for both imports: a .json file usually holds one array, not a value per line.
    with pytest.raises(FatalError, match="--format"):
        detect_format(tmp_path / "crm.json", None)
    assert detect_format(tmp_path / "crm.json", "jsonl") == "jsonl"


def test_rows_with_a_phone_extension_are_rejected_with_the_reason_not_merged_on_the_switchboard(
    tmp_path: Path,
) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("name,email,phone\nAna,ana@x.pt,+351 210 000 000 ext. 12\nRui,rui@x.pt,210000000 x34\n")
    rows = list(read_rows(RowReader(path, detect_format(path, None)), default_region="PT"))
    reason = "phone: a phone number with an extension (one switchboard, several people)"
    assert rows == [RejectedRow(2, reason), RejectedRow(3, reason)]


def test_jsonl_rows(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    path.write_text(
        '{"name": "Ana", "email": ["ana@x.pt"], "telegram": "4242", "plan": "pro", "attributes": {"vip": true}}\n'
        "[1, 2]\n"
        '{"name": "No ids", "plan": "free"}\n'
        '{"email": 42}\n'
        "{not json\n",
        encoding="utf-8",
    )
    ana, not_object, no_ids, bad_type, not_json = read_rows(RowReader(path, "jsonl"), default_region="PT")
    assert isinstance(ana, ContactRow)
    assert [i.key for i in ana.identifiers] == ["email:ana@x.pt", "telegram:4242"]
    assert ana.attributes == {"plan": "pro", "vip": True}
    assert not_object == RejectedRow(2, "not a JSON object")
    assert isinstance(no_ids, RejectedRow)
    assert no_ids.line == 3
    assert no_ids.reason.startswith("no identifier")
    assert bad_type == RejectedRow(4, "email: expected a string or a list of strings")
    assert not_json == RejectedRow(5, "not a JSON value")


@pytest.mark.parametrize(
    ("kind", "values", "raw", "expected"),
    [
        ("string", None, "  gold ", "gold"),
        ("number", None, "42", 42),
        ("number", None, "4.5", 4.5),
        ("number", None, 7, 7),
        ("boolean", None, "Yes", True),
        ("boolean", None, False, False),
        ("date", None, "2024-02-29", "2024-02-29"),
        ("enum", ["free", "pro"], "pro", "pro"),
    ],
)
def test_attribute_values_are_typed_by_their_definition(
    kind: str, values: list[str] | None, raw: object, expected: object
) -> None:
    definition = AttributeDefinition(name="a", type=AttributeType(kind), values=values)
    assert coerce(definition, raw) == expected
    assert type(coerce(definition, raw)) is type(expected)


@pytest.mark.parametrize(
    ("kind", "values", "raw", "reason"),
    [
        ("number", None, "forty", "attribute a: expected a number"),
        ("number", None, "nan", "attribute a: expected a number"),
        ("number", None, True, "attribute a: expected a number"),
        ("boolean", None, "maybe", "attribute a: expected a boolean"),
        ("date", None, "2023-02-29", "attribute a: expected a date (YYYY-MM-DD)"),
        ("enum", ["free", "pro"], "gold", "attribute a: expected one of ['free', 'pro']"),
        ("string", None, 3, "attribute a: expected a string"),
    ],
)
def test_invalid_attribute_values_say_what_was_expected(
    kind: str, values: list[str] | None, raw: object, reason: str
) -> None:
    definition = AttributeDefinition(name="a", type=AttributeType(kind), values=values)
    with pytest.raises(InvalidPayload) as caught:
        coerce(definition, raw)
    assert caught.value.reason == reason


def test_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="needs its list of values"):
        AttributeDefinition(name="tier", type=AttributeType.enum)
    with pytest.raises(ValueError, match="only enum"):
        AttributeDefinition(name="tier", type=AttributeType.string, values=["x"])
    with pytest.raises(ValueError, match="pattern"):
        AttributeDefinition(name="Bad Name", type=AttributeType.string)
