"""Contact files (CRM exports): CSV or JSON Lines, read as a stream of rows, each accepted or rejected.

CSV: a header row; the columns ``name``, ``email``, ``phone``, ``external_id`` (and the handle
kinds ``whatsapp``, ``telegram``, ``messenger``, ``instagram``, ``livechat``) are the person's
name and identifiers, several values in one cell separated by ``;``; every other column is a
custom attribute (its header is the attribute name). JSON Lines: one object per line with the
same keys (a string or a list of strings per identifier key), attributes either as other keys
or inside an ``attributes`` object.

Read by the one import-file reader (:class:`~omnitrail.imports.rows.RowReader`, as interaction
imports are): one row in memory at a time, so a file of any length needs constant memory. A bad
row never stops the file: it comes out as :class:`RejectedRow` with its line number and a
reason that names the field but never echoes its value (it may be personal data).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from omnitrail.imports.rows import RowReader
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind

#: Column -> identifier kind; ``name`` is the display name; anything else is an attribute.
IDENTIFIER_COLUMNS = {
    "email": IdentifierKind.email,
    "phone": IdentifierKind.phone,
    "whatsapp": IdentifierKind.whatsapp,
    "telegram": IdentifierKind.telegram,
    "messenger": IdentifierKind.messenger,
    "instagram": IdentifierKind.instagram,
    "livechat": IdentifierKind.livechat,
    "external_id": IdentifierKind.external,
}
RESERVED = {"name", "attributes", *IDENTIFIER_COLUMNS}


@dataclass(frozen=True)
class ContactRow:
    line: int
    name: str | None
    identifiers: list[Identifier]
    #: Attribute name -> raw value (text from CSV, JSON values from JSON Lines), validated later.
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


Row = ContactRow | RejectedRow


def attribute_columns(reader: RowReader) -> list[str]:
    """The attribute columns a CSV file's header names (for checking definitions before importing)."""
    return [c for c in reader.header() if c and c not in RESERVED]


def read_rows(reader: RowReader, *, default_region: str) -> Iterator[Row]:
    """Every row of the file in order, as a contact or a rejection with its line."""
    for row in reader:
        if row.error is not None:
            yield RejectedRow(row.line, row.error)
            continue
        try:
            if reader.format == "csv":
                yield _csv_row(row.line, row.values, default_region)
            else:
                yield _json_row(row.line, row.values, default_region)
        except InvalidPayload as exc:
            yield RejectedRow(row.line, exc.reason)


def _identifiers(values: Mapping[str, Iterable[str]], default_region: str) -> list[Identifier]:
    found: dict[str, Identifier] = {}
    for column, cells in values.items():
        kind = IDENTIFIER_COLUMNS[column]
        for cell in cells:
            if not cell.strip():
                continue
            try:
                identifier = Identifier.of(kind, cell, default_region=default_region)
            except InvalidPayload as exc:
                raise InvalidPayload(f"{column}: {exc.reason}") from None
            found.setdefault(identifier.key, identifier)
    if not found:
        raise InvalidPayload("no identifier (" + ", ".join(IDENTIFIER_COLUMNS) + ")")
    return list(found.values())


def _csv_row(line: int, record: dict[str, str], default_region: str) -> ContactRow:
    identifiers = _identifiers({c: record[c].split(";") for c in IDENTIFIER_COLUMNS if c in record}, default_region)
    attributes = {k: v for k, v in record.items() if k not in RESERVED and v.strip()}
    return ContactRow(line, record.get("name", "").strip() or None, identifiers, attributes)


def _json_row(line: int, record: Any, default_region: str) -> ContactRow:
    if not isinstance(record, dict):
        raise InvalidPayload("not a JSON object")
    identifiers = _identifiers({c: _strings(c, record[c]) for c in IDENTIFIER_COLUMNS if c in record}, default_region)
    name = record.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidPayload("name: not a string")
    nested = record.get("attributes", {})
    if not isinstance(nested, dict):
        raise InvalidPayload("attributes: not an object")
    attributes = {k: v for k, v in record.items() if k not in RESERVED and v is not None}
    attributes.update({k: v for k, v in nested.items() if v is not None})
    return ContactRow(line, (name or "").strip() or None, identifiers, attributes)


def _strings(column: str, value: object) -> list[str]:
    if isinstance(value, str):
        return value.split(";")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidPayload(f"{column}: expected a string or a list of strings")
