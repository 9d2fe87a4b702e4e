"""Contact files (CRM exports): CSV or JSON Lines, read as a stream of rows, each accepted or rejected.

CSV: a header row; the columns ``name``, ``email``, ``phone``, ``external_id`` (and the handle
kinds ``whatsapp``, ``telegram``, ``messenger``, ``instagram``, ``livechat``) are the person's
name and identifiers, several values in one cell separated by ``;``; every other column is a
custom attribute (its header is the attribute name). JSON Lines: one object per line with the
same keys (a string or a list of strings per identifier key), attributes either as other keys
or inside an ``attributes`` object.

Streamed: one row in memory at a time, so a file of any length needs constant memory. A bad
row never stops the file: it comes out as :class:`RejectedRow` with its line number and a
reason that names the field but never echoes its value (it may be personal data).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind

Format = Literal["csv", "jsonl"]
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


def detect_format(path: Path) -> Format:
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def csv_attribute_columns(path: Path) -> list[str]:
    """The attribute columns a CSV file's header names (for checking definitions before importing)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    return [c for c in (h.strip().lower() for h in header) if c and c not in RESERVED]


def read_rows(
    path: Path, file_format: Format, *, default_region: str, progress: Callable[[int], None] | None = None
) -> Iterator[Row]:
    """Every row of the file in order; ``progress`` gets the number of bytes consumed as they are read."""
    with path.open("rb") as raw:
        lines = _counted(raw, progress or (lambda _: None))
        if file_format == "csv":
            yield from _csv_rows(lines, default_region)
        else:
            yield from _jsonl_rows(lines, default_region)


def _counted(raw: io.BufferedReader, progress: Callable[[int], None]) -> Iterator[str]:
    first = True
    for line in raw:
        progress(len(line))
        text = line.decode("utf-8", errors="replace")
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text


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


def _csv_rows(lines: Iterator[str], default_region: str) -> Iterator[Row]:
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    end = reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may span lines: report where the row starts
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield RejectedRow(line, f"{len(cells)} fields where the header has {len(header)}")
            continue
        record = dict(zip(header, cells, strict=True))
        ids = {c: record[c].split(";") for c in IDENTIFIER_COLUMNS if c in record}
        try:
            identifiers = _identifiers(ids, default_region)
        except InvalidPayload as exc:
            yield RejectedRow(line, exc.reason)
            continue
        attributes = {k: v for k, v in record.items() if k and k not in RESERVED and v.strip()}
        yield ContactRow(line, record.get("name", "").strip() or None, identifiers, attributes)


def _jsonl_rows(lines: Iterator[str], default_region: str) -> Iterator[Row]:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            yield RejectedRow(line, "not a JSON object")
            continue
        if not isinstance(record, dict):
            yield RejectedRow(line, "not a JSON object")
            continue
        try:
            identifiers = _identifiers(
                {c: _strings(c, record[c]) for c in IDENTIFIER_COLUMNS if c in record}, default_region
            )
            name = record.get("name")
            if name is not None and not isinstance(name, str):
                raise InvalidPayload("name: not a string")
            nested = record.get("attributes", {})
            if not isinstance(nested, dict):
                raise InvalidPayload("attributes: not an object")
        except InvalidPayload as exc:
            yield RejectedRow(line, exc.reason)
            continue
        attributes = {k: v for k, v in record.items() if k not in RESERVED and v is not None}
        attributes.update({k: v for k, v in nested.items() if v is not None})
        yield ContactRow(line, (name or "").strip() or None, identifiers, attributes)


def _strings(column: str, value: object) -> list[str]:
    if isinstance(value, str):
        return value.split(";")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidPayload(f"{column}: expected a string or a list of strings")
