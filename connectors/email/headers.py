"""Damaged header blocks, repaired before parsing: one bad line must not cost From, To and Subject.

The standard library (like RFC 5322) ends the header block at the first line that is neither a
header nor an indented continuation, so everything after such a line (often From and Subject)
becomes body text and the message has no sender. Real mail has such lines: a continuation a
gateway forgot to indent (long tracking headers, References split by Outlook), or text a forwarding
script put before the first header. Inside the block (a header line still follows before the
blank line that ends it) a stray line is joined to the header above it, as the sender's software
meant; text before the first header is dropped. Each repair is reported for ``parse_warnings``.
"""

from __future__ import annotations

import re

#: What the standard library's parser takes as a header line (``email.feedparser.headerRE``).
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")
_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+):")


def repair(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with its header block repaired, and what was repaired (the bytes are returned as-is if nothing was)."""
    lines = raw.split(b"\n")
    end = next((i for i, line in enumerate(lines) if line in (b"", b"\r")), None)
    if end is None or all(_HEADER_LINE.match(line) for line in lines[:end]):
        return raw, []
    warnings: list[str] = []
    fields = [i for i in range(end) if _FIELD.match(lines[i])]
    if not fields:
        return raw, []
    first, last = fields[0], fields[-1]
    if first > 0:
        warnings.append(f"{first} line(s) of text before the first header removed")
    repaired = lines[first:]
    joined: list[str] = []
    for i in range(first, last):
        if not _HEADER_LINE.match(lines[i]):
            repaired[i - first] = b" " + lines[i]
            owner = next(_FIELD.match(lines[j]) for j in range(i, first - 1, -1) if _FIELD.match(lines[j]))
            assert owner is not None  # lines[first] is a field
            name = owner.group(1).decode("ascii")
            if name not in joined:
                joined.append(name)
    if joined:
        warnings.append(f"unindented continuation line(s) joined to header(s) {', '.join(joined)}")
    return b"\n".join(repaired), warnings
