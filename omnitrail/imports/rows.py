"""Streaming rows of an import file (CSV with a header row, or JSON Lines), with their line numbers.

The one reader of every ``omnitrail import`` (interactions and contacts): one rule for which
format a file is (``.csv``; ``.jsonl`` or ``.ndjson``; anything else, ``.json`` included since
it usually holds one array rather than a value per line, needs ``--format``), one for reading it.

Never loads the file: it is read line by line, so a file of a million rows costs the memory of
one batch. Each row carries the line it starts on (what a user fixing the file needs) and, when
it cannot even be read (bad JSON, a CSV row with more cells than the header), why: such rows are
reported, never fatal. ``bytes_read`` lets a caller draw progress against the file size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from schemas.errors import FatalError

Format = Literal["csv", "jsonl"]
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Row:
    line: int
    #: Column -> cell for CSV, the JSON value for JSON Lines; None when the row could not be read.
    values: Any
    error: str | None = None


def detect_format(path: Path, given: str | None) -> Format:
    if given in ("csv", "jsonl"):
        return given  # type: ignore[return-value]  # narrowed by the membership test
    detected = _SUFFIXES.get(path.suffix.lower())
    if detected is None:
        raise FatalError(f"cannot tell the format of {path.name} from its extension: pass --format csv|jsonl")
    return detected


class RowReader:
    """Iterate once over the rows of ``path``; ``bytes_read`` grows as it goes."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path = path
        self.format = fmt
        self.bytes_total = path.stat().st_size
        self.bytes_read = 0

    def _lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            for raw in handle:
                self.bytes_read += len(raw)
                yield raw

    def header(self) -> list[str]:
        """A CSV file's column names as rows name them (trimmed, lower case); none for JSON Lines."""
        if self.format != "csv":
            return []
        with self.path.open(encoding="utf-8", errors="replace", newline="") as handle:
            return self._columns(next(csv.reader(handle), []))

    def _columns(self, header: list[str]) -> list[str]:
        columns = [c.strip().lstrip("\ufeff").lower() for c in header]
        named = [c for c in columns if c]
        if len(set(named)) != len(named):
            raise FatalError(f"{self.path.name}: the header row repeats a column name")
        return columns

    def __iter__(self) -> Iterator[Row]:
        return self._csv() if self.format == "csv" else self._jsonl()

    def _jsonl(self) -> Iterator[Row]:
        for number, raw in enumerate(self._lines(), start=1):
            if not raw.strip():
                continue
            try:
                yield Row(number, json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8")))
            except UnicodeDecodeError:
                yield Row(number, None, "not UTF-8")
            except ValueError:
                yield Row(number, None, "not a JSON value")

    def _csv(self) -> Iterator[Row]:
        # Cells may span lines (quoted newlines): csv counts physical lines, so a row starts one
        # line after where the previous one ended. Undecodable bytes become U+FFFD, which the row's
        # own validation then refuses, rather than stopping the whole file.
        text = (raw.decode("utf-8", errors="replace") for raw in self._lines())
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        columns = self._columns(header)
        ended = reader.line_num
        for cells in reader:
            start, ended = ended + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                yield Row(start, None, f"{len(cells)} cells, the header has {len(columns)}")
                continue
            # A column without a name (a trailing comma in an export) holds nothing to import.
            yield Row(start, {c: cell for c, cell in zip(columns, cells, strict=True) if c})
