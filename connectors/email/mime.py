"""MIME parsing: raw RFC 5322 bytes -> :class:`ParsedEmail`, best effort, never raising.

Uses the standard library's modern policy (``email.policy.default``): encoded-word headers in any
charset, quoted-printable and base64 bodies. Real mail is often broken (unknown charsets, headers
that do not parse, parts whose encoding lies), so every step falls back to a lenient decode and
records what went wrong in ``defects`` instead of dropping the message: a garbled subject is better
than a lost customer email. Attachments and inline images become metadata only (name, type, size,
sha256); their bytes never leave this module.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from connectors.email.text import decode_words, fix_surrogates, html_to_text, unix_lines


class _CachingPolicy(EmailPolicy):
    """``policy.default`` whose parsed header objects are reused for equal raw values.

    The stdlib re-parses a header every time it is read (``get_content_type`` alone reads
    Content-Type several times per part, the parser itself more); parsing dominates a backfill.
    Header objects are immutable strings, and most values (``text/plain; charset=utf-8``) recur.
    """

    @functools.lru_cache(maxsize=8192)  # noqa: B019  # the one policy instance lives as long as the process
    def header_fetch_parse(self, name: str, value: str) -> Any:
        return super().header_fetch_parse(name, value)


_PARSER = BytesParser(policy=_CachingPolicy())
#: The legacy parser: headers stay strings, nothing is interpreted eagerly, so it never gives up.
_LENIENT = BytesParser(policy=policy.compat32)
_MSGID = re.compile(r"<([^<>\s]+)>")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Mailbox:
    """One address from a header: what the sender typed as name, and the address itself."""

    name: str | None
    address: str


@dataclass(frozen=True)
class AttachmentInfo:
    name: str | None
    content_type: str
    size: int
    sha256: str
    inline: bool


@dataclass
class ParsedEmail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    thread_index: str | None
    subject: str | None
    sender: Mailbox | None
    to: list[Mailbox]
    cc: list[Mailbox]
    date: datetime | None
    text: str | None
    html: str | None
    attachments: list[AttachmentInfo] = field(default_factory=list)
    forwarded: list[dict[str, str | None]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    #: sha256 of the raw bytes: the identity of a message that has no Message-ID.
    content_hash: str = ""


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in a References / In-Reply-To / Message-ID value, without brackets.

    Falls back to the bare token when a client forgot the brackets.
    """
    if not value:
        return []
    found = _MSGID.findall(value)
    if not found and value.strip():
        found = [value.strip().split()[0].strip("<>")]
    return [f for f in found if f]


class _Reader:
    """One parse: collects defects while reading headers and walking the parts."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.defects: list[str] = []

    def header(self, msg: Message, name: str) -> str | None:
        try:
            value = msg.get(name)
            if value is None:
                return None
            if getattr(value, "defects", None):
                self.flag(f"header {name} malformed")
            text = str(value) if msg.policy is not policy.compat32 else decode_words(value)
            if "\ufffd" in text:  # an encoded word in a charset Python does not know
                self.flag(f"header {name} charset undecodable")
            return text
        except Exception as exc:  # the modern header parser has crashed on real mail; keep the raw text
            self.flag(f"header {name} unparsable: {type(exc).__name__}")
            return self._raw_header(msg, name)

    def _raw_header(self, msg: Message, name: str) -> str | None:
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return str(value).encode("ascii", "surrogateescape").decode("utf-8", "replace")
        return None

    def flag(self, defect: str) -> None:
        if defect not in self.defects:
            self.defects.append(defect)

    def addresses(self, msg: Message, name: str) -> list[Mailbox]:
        try:
            header = msg.get(name)
            if header is None:
                return []
            groups = getattr(header, "addresses", None)
            if groups is not None:
                found = [_mailbox(a) for a in groups]
                if getattr(header, "defects", None):
                    self.flag(f"header {name} malformed")
                return [m for m in found if m is not None]
        except Exception as exc:  # fall through to the lenient compat parser
            self.flag(f"header {name} unparsable: {type(exc).__name__}")
        raw = self._raw_header(msg, name) or ""
        return [Mailbox(n or None, a) for n, a in getaddresses([raw]) if "@" in a]

    def content(self, part: Message) -> str:
        """Decoded text of a text part; unknown or lying charsets fall back to UTF-8/Latin-1, flagged."""
        try:
            content = part.get_content() if isinstance(part, EmailMessage) else None
            if isinstance(content, str):
                return unix_lines(content)
        except (LookupError, UnicodeError, ValueError, AssertionError) as exc:
            self.flag(f"body charset {part.get_content_charset()!r} undecodable: {type(exc).__name__}")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        try:
            return unix_lines(data.decode("utf-8"))
        except UnicodeDecodeError:
            return unix_lines(data.decode("cp1252", "replace"))

    def attachment(self, part: Message, *, inline: bool) -> AttachmentInfo:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # message/rfc822 and friends: hash their serialized form
            payload = part.as_bytes() if part.is_multipart() else str(part.get_payload()).encode("utf-8", "replace")
        try:
            name = part.get_filename()
        except Exception:  # a filename parameter in a charset the parser cannot handle
            self.flag("attachment filename unparsable")
            name = None
        return AttachmentInfo(
            name=name,
            content_type=part.get_content_type(),
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            inline=inline,
        )


def _mailbox(address: Address) -> Mailbox | None:
    addr = address.addr_spec
    if not addr or "@" not in addr:
        return None
    if any(c.isspace() or c in '"<>' for c in addr):  # a broken header swallowed the name: dig the address out
        found = _ADDRESS.search(addr)
        return Mailbox(address.display_name or None, found.group(0)) if found else None
    return Mailbox(address.display_name or None, addr)


def _date(reader: _Reader, msg: Message) -> datetime | None:
    raw = reader.header(msg, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        reader.flag("header Date unparsable")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _walk(reader: _Reader, part: Message, texts: list[str], htmls: list[str], parsed: ParsedEmail) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        parsed.attachments.append(reader.attachment(part, inline=False))
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            parsed.forwarded.append(
                {
                    "subject": reader.header(inner[0], "Subject"),
                    "message_id": next(iter(message_ids(reader.header(inner[0], "Message-ID"))), None),
                }
            )
        return
    if part.is_multipart():
        children = part.get_payload()
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Message):
                _walk(reader, child, texts, htmls, parsed)
        return
    disposition = part.get_content_disposition()
    is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
    if is_body_text and ctype == "text/plain":
        texts.append(reader.content(part))
    elif is_body_text:
        htmls.append(reader.content(part))
    else:
        parsed.attachments.append(reader.attachment(part, inline=disposition != "attachment"))


def parse(raw: bytes) -> ParsedEmail:
    """Parse one message. Never raises for malformed input; what could not be read is in ``defects``."""
    reader = _Reader(raw)
    try:
        msg: Message = _PARSER.parsebytes(raw)
    except Exception as exc:  # the modern parser gave up (stdlib bugs on garbage parameters): lenient re-read
        reader.flag(f"structure unparsable: {type(exc).__name__}")
        msg = _LENIENT.parsebytes(raw)
    for defect in msg.defects:
        reader.flag(type(defect).__name__)
    senders = reader.addresses(msg, "From")
    parsed = ParsedEmail(
        message_id=next(iter(message_ids(reader.header(msg, "Message-ID"))), None),
        in_reply_to=next(iter(message_ids(reader.header(msg, "In-Reply-To"))), None),
        references=message_ids(reader.header(msg, "References")),
        thread_index=(reader.header(msg, "Thread-Index") or "").strip() or None,
        subject=reader.header(msg, "Subject"),
        sender=senders[0] if senders else None,
        to=reader.addresses(msg, "To"),
        cc=reader.addresses(msg, "Cc"),
        date=_date(reader, msg),
        text=None,
        html=None,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
    texts: list[str] = []
    htmls: list[str] = []
    try:
        _walk(reader, msg, texts, htmls, parsed)
    except Exception as exc:  # a structure the walker cannot follow: keep the headers, flag the body
        reader.flag(f"body unreadable: {type(exc).__name__}")
    parsed.html = htmls[0] if htmls else None
    if texts:
        parsed.text = "\n".join(texts)
    elif parsed.html is not None:
        parsed.text = html_to_text(parsed.html)
    try:
        for sub in msg.walk():
            for defect in sub.defects:
                reader.flag(type(defect).__name__)
    except Exception as exc:  # walking the same garbage again can fail the same way; the flags say so
        reader.flag(f"body unreadable: {type(exc).__name__}")
    parsed.defects = reader.defects
    return _sanitized(parsed)


def _sanitized(parsed: ParsedEmail) -> ParsedEmail:
    """Only text PostgreSQL and JSON can hold: no U+0000, no lone surrogates. Garbage mail has both."""
    found: set[str] = set()

    def clean(value: str | None) -> str | None:
        if value is None or (value.isascii() and "\x00" not in value):
            return value
        if any("\ud800" <= c <= "\udfff" for c in value):
            found.add("undecodable bytes replaced")
            value = fix_surrogates(value)
        if "\x00" in value:
            found.add("NUL characters removed")
            value = value.replace("\x00", "")
        return value

    def box(b: Mailbox) -> Mailbox:
        return Mailbox(clean(b.name), clean(b.address) or "")

    parsed.message_id, parsed.in_reply_to = clean(parsed.message_id) or None, clean(parsed.in_reply_to) or None
    parsed.references = [r for r in (clean(x) for x in parsed.references) if r]
    parsed.thread_index, parsed.subject = clean(parsed.thread_index), clean(parsed.subject)
    parsed.text, parsed.html = clean(parsed.text), clean(parsed.html)
    parsed.sender = box(parsed.sender) if parsed.sender else None
    parsed.to, parsed.cc = [box(b) for b in parsed.to], [box(b) for b in parsed.cc]
    parsed.attachments = [
        replace(a, name=clean(a.name), content_type=clean(a.content_type) or "application/octet-stream")
        for a in parsed.attachments
    ]
    parsed.forwarded = [{k: clean(v) for k, v in f.items()} for f in parsed.forwarded]
    parsed.defects = [d for d in (clean(x) for x in parsed.defects) if d] + sorted(found)
    return parsed
