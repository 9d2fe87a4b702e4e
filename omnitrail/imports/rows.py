"""Streaming rows of an import file (CSV with a header row, or JSON Lines), with their line numbers.

The one reader of every ``omnitrail import`` (interactions and contacts): one rule for which
format a file is (``.csv``; ``.jsonl`` or ``.ndjson``; anything else, ``.json`` included since
it usually holds one array rather than a value per line, needs ``--format``), one for reading it.

A CSV file may come in any common encoding (UTF-8 with or without a BOM, UTF-16 as Excel's "Unicode
text", Windows-1252 and the like from older spreadsheets: guessed by charset-normalizer from its start)
and with ``,``, ``;`` (Excel in most of Europe), tab or ``|`` between cells (the one its header row uses
most). JSON Lines is UTF-8, as its specification says. A file that is no text at all, or a JSON document
spread over lines (an array, a pretty-printed object), is refused with one line saying so.

Never loads the file: it is read line by line, so a file of a million rows costs the memory of
one batch. Each row carries the line it starts on (what a user fixing the file needs) and, when
it cannot even be read (bad JSON, a CSV row with more cells than the header), why: such rows are
reported, never fatal. ``bytes_read`` lets a caller draw progress against the file size.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from charset_normalizer import from_bytes

from schemas.errors import FatalError

Format = Literal["csv", "jsonl"]
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: How much of a file its encoding and delimiter are told from.
_SAMPLE = 64 * 1024
_DELIMITERS = (",", ";", "\t", "|")
#: The ANSI code page of Windows by region where it is not cp1252 (Western Europe, the Americas, most others).
_WINDOWS_CODE_PAGE = {
    **dict.fromkeys(("PL", "CZ", "SK", "HU", "SI", "HR", "RO", "AL", "BA", "RS"), "cp1250"),
    **dict.fromkeys(("RU", "UA", "BY", "BG", "MK", "KZ"), "cp1251"),
    **dict.fromkeys(("GR", "CY"), "cp1253"),
    "TR": "cp1254",
    **dict.fromkeys(("LT", "LV", "EE"), "cp1257"),
    "VN": "cp1258",
}


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

    def __init__(self, path: Path, fmt: Format, *, region: str = "") -> None:
        self.path = path
        self.format = fmt
        self.bytes_total = path.stat().st_size
        self.bytes_read = 0
        with path.open("rb") as handle:
            sample = handle.read(_SAMPLE)
        self.encoding = _encoding(path, sample, region) if fmt == "csv" else "utf-8"
        if fmt == "jsonl":
            _refuse_json_document(path, sample)
        first = next(self._decoded(count=False), "")
        self.delimiter = max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","

    def _lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            for raw in handle:
                self.bytes_read += len(raw)
                yield raw

    def _decoded(self, *, count: bool = True) -> Iterator[str]:
        """The file's lines as text. Undecodable bytes become U+FFFD, which the row's own validation then
        refuses, rather than stopping the whole file."""
        if self.encoding.startswith("utf-16"):  # b"\n" is no line end there: let the codec split lines
            with self.path.open(encoding=self.encoding, errors="replace", newline="") as text:
                for line in text:
                    self.bytes_read += 2 * len(line) if count else 0
                    yield line
            return
        decode = codecs.getincrementaldecoder(self.encoding)(errors="replace").decode
        with self.path.open("rb") as handle:
            for raw in handle:
                self.bytes_read += len(raw) if count else 0
                yield decode(raw)

    def header(self) -> list[str]:
        """A CSV file's column names as rows name them (trimmed, lower case); none for JSON Lines."""
        if self.format != "csv":
            return []
        return self._columns(next(csv.reader(self._decoded(count=False), delimiter=self.delimiter), []))

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
        # line after where the previous one ended.
        reader = csv.reader(self._decoded(), delimiter=self.delimiter)
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


def _encoding(path: Path, sample: bytes, region: str) -> str:
    """The CSV file's text encoding, told from its start; FatalError when it is no text. Short samples fit
    several 8-bit code pages equally well (José Conceição reads in cp1252 and, as Conceiçăo, in cp1250):
    a tie goes to the one Windows (and so Excel) uses where the region's people live."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" not in sample:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample)  # a character cut at the sample's end is fine
            return "utf-8"
        except UnicodeDecodeError:
            pass
    matches = from_bytes(sample)
    best = matches.best()
    if best is None or (b"\x00" in sample and not best.encoding.startswith("utf_16")):
        raise FatalError(f"{path.name} is not a text file: an import takes CSV or JSON Lines")
    local = _WINDOWS_CODE_PAGE.get(region.upper(), "cp1252")
    tied = [m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return local if local in tied else best.encoding


def _refuse_json_document(path: Path, sample: bytes) -> None:
    """JSON Lines holds one value per line: a file that opens an array or object it does not close on its
    first line is one JSON document, which would be reported as a rejected row per line."""
    if b"\x00" in sample:
        raise FatalError(f"{path.name} is not a text file: an import takes CSV or JSON Lines")
    first = next((line.strip() for line in sample.splitlines() if line.strip()), b"").lstrip(codecs.BOM_UTF8)
    if first[:1] in (b"[", b"{"):
        try:
            json.loads(first)
        except ValueError:
            raise FatalError(
                f"{path.name} is one JSON document (an array or an object over several lines), not JSON Lines: "
                "put one JSON object on each line (jq -c '.[]' FILE.json > FILE.jsonl)"
            ) from None
