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
_EMPTY_LINE = re.compile(rb"^\r?$", re.MULTILINE)
#: Fields that show a header block resumes after a damaged line (a body line such as "Note: ..."
#: must not pull the text above it into the headers).
_KNOWN = frozenset(
    b"return-path received date from sender reply-to to cc bcc message-id in-reply-to references subject "
    b"comments keywords mime-version content-type content-transfer-encoding content-disposition content-id "
    b"content-description content-language thread-topic thread-index importance priority organization "
    b"user-agent delivered-to authentication-results dkim-signature domainkey-signature accept-language "
    b"precedence auto-submitted errors-to envelope-to disposition-notification-to".split()
)
_KNOWN_PREFIXES = (b"x-", b"list-", b"arc-", b"resent-")


def _known(line: bytes) -> bytes | None:
    """The field name when the line starts a header a mail system writes, else None."""
    field = _FIELD.match(line)
    if field is None:
        return None
    name = field.group(1).lower()
    return field.group(1) if name in _KNOWN or name.startswith(_KNOWN_PREFIXES) else None


def repair(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with its header block repaired, and what was repaired (the bytes are returned as-is if nothing was)."""
    blank = _EMPTY_LINE.search(raw)
    if blank is None or blank.start() == 0:
        return raw, []
    lines = raw[: blank.start() - 1].split(b"\n")
    if all(_HEADER_LINE.match(line) for line in lines):
        return raw, []
    fields = [i for i, line in enumerate(lines) if _known(line)]
    if not fields:
        return raw, []
    warnings: list[str] = []
    first, last = fields[0], fields[-1]
    if first > 0:
        warnings.append(f"{first} line(s) of text before the first header removed")
    repaired = lines[first:]
    joined: list[str] = []
    owner = b""
    for i in range(first, last):
        field = _FIELD.match(lines[i])
        if field is not None:
            owner = field.group(1)
        elif not _HEADER_LINE.match(lines[i]):
            repaired[i - first] = b" " + lines[i]
            if owner.decode("ascii") not in joined:
                joined.append(owner.decode("ascii"))
    if joined:
        warnings.append(f"unindented continuation line(s) joined to header(s) {', '.join(joined)}")
    return b"\n".join(repaired) + raw[blank.start() - 1 :], warnings
