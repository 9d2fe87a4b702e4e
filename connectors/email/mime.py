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
from email.header import decode_header
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime, unquote
from typing import Any
from urllib.parse import unquote_to_bytes

from connectors.email import addresses, charsets, headers
from connectors.email.text import fix_surrogates, html_to_text, text_to_html, unix_lines


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
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>|&\w+;|&#\w+;")
_SPACES = re.compile(r"\s")
_SWALLOWED = re.compile(r'[\s"<>]')
_SURROGATE = re.compile("[\ud800-\udfff]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
#: What a wrong decoding leaves: replacement characters, escaped raw bytes, C1 controls (Latin-1 read for Windows-1252).
_MISREAD = re.compile("[\ufffd\ud800-\udfff\x80-\x9f]")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+\.?")
#: A local part as an unquoted address spells it: no "@", quote, bracket, space or control character.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_LIST_SEPARATOR = re.compile("[,;]")
_ATOM = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+")


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
    #: What was repaired to read the message (a damaged header block, a wrong charset ...).
    warnings: list[str] = field(default_factory=list)
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

    def __init__(self, raw: bytes, warnings: list[str]) -> None:
        self.raw = raw
        self.defects: list[str] = []
        self.warnings = warnings
        self.message: Message | None = None
        self._indexed: Message | None = None
        self._index: dict[str, list[str]] = {}
        self._charsets: tuple[str, ...] | None = None
        #: Headers with a mailbox that names no trustworthy address (see :mod:`connectors.email.addresses`).
        self.refused: set[str] = set()

    def charsets(self) -> tuple[str, ...]:
        """The message's declared charsets (as codecs, with their families): where raw 8-bit text is tried first."""
        if self._charsets is None:
            found: dict[str, None] = {}
            for part in self.message.walk() if self.message is not None else ():
                name = charsets.codec(part.get_content_charset())
                if name is not None and name not in ("utf-8", "cp1252"):
                    found.update(dict.fromkeys((name, *charsets.FAMILIES.get(name, ()))))
            self._charsets = tuple(found)
        return self._charsets

    def header(self, msg: Message, name: str) -> str | None:
        try:
            raw = next(iter(self.raws(msg, name)), None)
            if raw is None:
                return None
            value = msg.policy.header_fetch_parse(name, raw)
            if getattr(value, "defects", None):
                self.flag(f"header {name} malformed")
            text = str(value)
            if msg.policy is policy.compat32 or _misread(text):  # lenient re-read, or a charset read wrong
                text = self.words(self._raw_header(msg, name) or text, name)
            return text
        except Exception as exc:  # the modern header parser has crashed on real mail; keep the raw text
            self.flag(f"header {name} unparsable: {type(exc).__name__}")
            return self._raw_header(msg, name)

    def raws(self, msg: Message, name: str) -> list[str]:
        """Every value of a header as it was sent (8-bit bytes kept as surrogate escapes), in order.

        One pass over the headers per message part: ``Message.get`` scans them all for each name.
        """
        if msg is not self._indexed:
            self._index = {}
            for key, value in msg.raw_items():
                self._index.setdefault(key.lower(), []).append(str(value))
            self._indexed = msg
        return self._index.get(name.lower(), [])

    def _raw_header(self, msg: Message, name: str) -> str | None:
        return next(iter(self.raws(msg, name)), None)

    def words(self, raw: str, name: str) -> str:
        """A raw header value with its encoded words and 8-bit text decoded as mail clients do."""
        try:
            chunks = decode_header(_FOLD.sub("", raw))
        except Exception:  # a broken encoded word: the text around it is still readable
            chunks = [(raw, None)]
        out: list[str] = []
        for chunk, label in chunks:
            data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
            text, repair = charsets.decode(data, label, self.charsets)
            if repair:
                self.warn(f"header {name}: {repair}")
            out.append(text)
        return "".join(out)

    def _filename(self, part: Message) -> str | None:
        """A filename the parser misread (raw 8-bit, RFC 2231 in a wrong charset), read from the raw parameter."""
        for header, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
            raw = self._raw_header(part, header)
            if raw is None:
                continue
            legacy = Message()  # parameters parsed on Latin-1 text: one character per raw byte
            legacy[header] = _FOLD.sub("", raw).encode("utf-8", "surrogateescape").decode("latin-1")
            value = legacy.get_param(param, header=header)
            if isinstance(value, tuple):  # RFC 2231: charset, language, %-encoded bytes
                text, repair = charsets.decode(unquote_to_bytes(value[2] or ""), value[0], self.charsets)
                if repair:
                    self.warn(f"attachment filename: {repair}")
                return text
            if isinstance(value, str):
                raw_value = unquote(value).encode("latin-1").decode("utf-8", "surrogateescape")
                return self.words(raw_value, "attachment filename")
        return None

    def warn(self, repair: str) -> None:
        if repair not in self.warnings:
            self.warnings.append(repair)

    def flag(self, defect: str) -> None:
        if defect not in self.defects:
            self.defects.append(defect)

    def addresses(self, msg: Message, name: str) -> list[Mailbox]:
        """The addresses of a header; of the first that has any when it is repeated (junk in the first)."""
        raws = self.raws(msg, name)
        for n, raw in enumerate(raws):
            found = self._addresses(msg, name, raw)
            if found:
                if n:
                    self.warn(f"header {name}: {n} copy(ies) without an address skipped")
                return found
        return []

    def sender(self, msg: Message) -> Mailbox | None:
        """The author From names (its first, when all are of one domain), or None: no trustworthy address.

        RFC 5322 lets From list several authors, and two From headers are seen. DMARC vouches for
        a domain, and for several domains in From it is each checker's choice which one it checked
        (RFC 7489, 6.6.1): taking one would let mail from attacker.example name ceo@victim.example
        beside its own. So authors of several domains, or beside a mailbox that could name two
        addresses, leave the sender unknown.
        """
        copies = [self._addresses(msg, "From", raw) for raw in self.raws(msg, "From")]
        authors = [box for copy in copies for box in copy]
        if authors and (empty := sum(not copy for copy in copies)):
            self.warn(f"header From: {empty} copy(ies) without an address skipped")
        domains = {box.address.rpartition("@")[2].lower() for box in authors}
        if len(domains) > 1 or (authors and "From" in self.refused):
            self.warn("header From: authors of several domains, the sender is unknown")
            return None
        return authors[0] if authors else None

    def _addresses(self, msg: Message, name: str, raw: str) -> list[Mailbox]:
        found: list[Mailbox] = []
        try:
            header = msg.policy.header_fetch_parse(name, raw)
            groups = getattr(header, "addresses", None)
            if groups is not None:
                literal = _FOLD.sub("", raw)
                parsed: list[Address | None] = list(groups)
                malformed = bool(getattr(header, "defects", None))
                if malformed:
                    self.flag(f"header {name} malformed")
                if malformed or "=?" in literal:  # an encoded word may stand in a domain: the tokens tell
                    parsed = addresses.mailboxes("".join(literal.splitlines()))
                found = [m for m in (_mailbox(a, literal) for a in parsed if a is not None) if m is not None]
                if None in parsed:  # a mailbox that could name two addresses: no reading of it, lenient or not
                    self.refused.add(name)
                    self.flag(f"header {name}: ambiguous address ignored")
                    return self._cleaned(name, found)
        except Exception as exc:  # fall through to the lenient reading
            self.flag(f"header {name} unparsable: {type(exc).__name__}")
        if not found:
            # Addresses from the text as sent (8-bit decoded, encoded words not): only names are encoded.
            data = _FOLD.sub("", raw).encode("utf-8", "surrogateescape")
            text, _ = charsets.decode(data, None, self.charsets)
            if _two_readings(text):  # which address is meant is the attacker's choice: none is
                self.refused.add(name)
                self.flag(f"header {name}: ambiguous address ignored")
                return []
            found = [
                Mailbox(self.words(n, name) if n else None, a) for n, a in getaddresses([text]) if _ADDRESS.fullmatch(a)
            ]
            if not found and len(dug := set(_ADDRESS.findall(text))) == 1:  # two would be an attacker's choice
                self.warn(f"header {name}: address recovered from damaged text")
                found = [Mailbox(None, dug.pop())]
        return self._cleaned(name, found)

    def _cleaned(self, name: str, found: list[Mailbox]) -> list[Mailbox]:
        cleaned = []
        for box in found:
            local, _, domain = box.address.rpartition("@")
            if domain.endswith("."):
                self.warn(f"header {name}: trailing dot removed from the domain")
                box = Mailbox(box.name, f"{local}@{domain.rstrip('.')}")
            cleaned.append(box)
        return cleaned

    def content(self, part: Message) -> str:
        """Decoded text of a text part, in the charset mail clients would read it with (repairs recorded)."""
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        text, repair = charsets.decode(data, part.get_content_charset(), self.charsets)
        if repair:
            self.warn(f"body: {repair}")
        return unix_lines(text)

    def attachment(self, part: Message, *, inline: bool) -> AttachmentInfo:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # message/rfc822 and friends: hash their serialized form
            payload = part.as_bytes() if part.is_multipart() else str(part.get_payload()).encode("utf-8", "replace")
        try:
            name = part.get_filename()
        except Exception:  # a filename parameter in a charset the parser cannot handle
            self.flag("attachment filename unparsable")
            name = None
        if name is not None and _misread(name):
            name = self._filename(part) or name
        return AttachmentInfo(
            name=name,
            content_type=part.get_content_type(),
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            inline=inline,
        )


def _misread(text: str) -> bool:
    return not text.isascii() and _MISREAD.search(text) is not None


def _two_readings(text: str) -> bool:
    """Whether a list entry of an address header's raw text could be read as two addresses.

    The lenient readings take the first address-looking text (``getaddresses``), or the one
    a non-overlapping search finds: ``"x" ceo@victim.example@attacker.example`` or
    ``ceo@victim.example x@attacker.example`` would name the victim. Each ``@`` outside a quoted
    string starts an address, so an entry with two, or with two distinct address-looking words, names none.
    """
    for entry in _LIST_SEPARATOR.split(_QUOTED.sub('""', text)):
        if entry.count("@") > 1 or len({a.lower() for a in _ADDRESS.findall(entry)}) > 1:
            return True
    return False


def _mailbox(address: Address, literal: str) -> Mailbox | None:
    """The address of a parsed header, or None when there is none or it cannot be trusted.

    An encoded word is no part of an address (RFC 2047, section 5), but some clients encode a local
    part and the standard library decodes it: ``=?utf-8?Q?agent?=@example.com`` is meant as
    ``agent@example.com`` and kept so. One that decodes to more than a local part would move the
    mail elsewhere (``=?utf-8?q?ceo=40victim.example?=@attacker.example`` read as
    ``ceo@victim.example``: a stranger's mail on the victim's timeline); it is None here, left to the
    literal reading, which keeps the encoded word as the characters it is. An encoded domain never
    comes here: :mod:`addresses` reads it as no address. ``literal``: the header's unfolded raw text.
    """
    addr = address.addr_spec
    if not addr or "@" not in addr:
        return None
    if "=?" in literal:  # the parser may have decoded an encoded word inside the address
        spelled = any(f"{address.username}{q}@" in literal for q in ("", '"'))
        if not (spelled or _ATOM.fullmatch(address.username)):  # an encoded domain never comes here (addresses)
            return None
    if _SWALLOWED.search(addr) and not _quoted_as_written(address, literal):
        # A broken header swallowed the name ('Ana Silva ana@cliente.example' read as one local part): dig it out.
        if not address.domain and _two_readings(address.username):  # '"ceo@victim.example x@attacker.example'
            return None
        # At the parsed domain: '"ceo@victim.example"@attacker.example' is mail from attacker.example.
        local = address.username.rpartition("@")[2]
        found = _ADDRESS.search(f"{local}@{address.domain}" if address.domain else address.username)
        return Mailbox(address.display_name or None, found.group(0)) if found else None
    return Mailbox(address.display_name or None, addr)


def _quoted_as_written(address: Address, literal: str) -> bool:
    """Whether the header spells the address's local part as a quoted string: ``"ana smith"@cliente.example``
    is that address, as RFC 5322 lets anyone write one; read as ``smith@cliente.example`` it would file
    Ana's mail on whoever that is."""
    return f'"{address.username}"@{address.domain}'.casefold() in literal.casefold()


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


@dataclass
class _Segment:
    """One readable stretch of the body: its plain text, its HTML, or (an alternative) both."""

    text: str | None
    html: str | None


def _segments(reader: _Reader, part: Message, parsed: ParsedEmail) -> list[_Segment]:
    """The readable body in reading order; everything else goes to ``parsed.attachments``."""
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
        return []
    maintype = ctype.partition("/")[0]
    if maintype == "message":  # delivery-status (every bounce), dispositions, headers
        parsed.attachments.append(reader.attachment(part, inline=False))
        return []
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            return _alternative([_segments(reader, c, parsed) for c in children])
        return [s for child in children for s in _segments(reader, child, parsed)]
    disposition = part.get_content_disposition()
    if disposition != "attachment" and ctype == "text/plain":
        return [_Segment(reader.content(part), None)]
    if disposition != "attachment" and ctype == "text/html":
        return [_Segment(None, reader.content(part))]
    if maintype == "multipart":  # declared multipart, but no boundary in the body
        reader.warn(f"{ctype} without parts read as text")
        return [_Segment(reader.content(part), None)]
    parsed.attachments.append(reader.attachment(part, inline=disposition != "attachment"))
    return []


def _alternative(choices: list[list[_Segment]]) -> list[_Segment]:
    """One segment from the versions of an alternative: the first plain text that says something, the last HTML.

    A plain version far shorter than the HTML's visible text ("read this newsletter online")
    is a stub: the text then comes from the HTML, so what the message says is searchable.
    """
    text = next((t for c in choices if (t := _joined(c, "text")) and t.strip()), None)
    html = next((h for c in reversed(choices) if (h := _joined(c, "html")) and h.strip()), None)
    if text is None and html is None:
        return next((c for c in choices if c), [])
    if text is not None and html is not None and _visible_size(html) > 3 * _size(text) + 200:
        text = None
    return [_Segment(text, html)]


def _size(text: str) -> int:
    return len(_SPACES.sub("", text))


def _visible_size(html: str) -> int:
    """About how many characters an HTML body shows (tags, scripts and styles left out; cheap, no parsing)."""
    return _size(_TAG.sub("", _INVISIBLE.sub("", html)))


def _joined(segments: list[_Segment], kind: str) -> str | None:
    """The segments' text (or HTML) when every one of them has it, else None."""
    values = [getattr(s, kind) for s in segments]
    return "\n".join(values) if values and all(v is not None for v in values) else None


def _body(segments: list[_Segment]) -> tuple[str | None, str | None]:
    """Text and HTML of the whole body: each segment in each form (HTML rendered as text, text escaped as HTML)."""
    texts = [
        s.text if s.text is not None and (s.text.strip() or s.html is None) else html_to_text(s.html or "")
        for s in segments
    ]
    text = "\n".join(t for t in texts if t) if segments else None
    if not any(s.html is not None for s in segments):
        return text, None
    html = "\n".join(s.html if s.html is not None else text_to_html(s.text or "") for s in segments)
    return text, html


def parse(raw: bytes) -> ParsedEmail:
    """Parse one message. Never raises for malformed input; what could not be read is in ``defects``."""
    repaired, warnings = headers.repair(raw)
    reader = _Reader(raw, warnings)
    try:
        msg: Message = _PARSER.parsebytes(repaired)
    except Exception as exc:  # the modern parser gave up (stdlib bugs on garbage parameters): lenient re-read
        reader.flag(f"structure unparsable: {type(exc).__name__}")
        msg = _LENIENT.parsebytes(repaired)
    reader.message = msg
    for defect in msg.defects:
        reader.flag(type(defect).__name__)
    sender = reader.sender(msg)
    parsed = ParsedEmail(
        message_id=next(iter(message_ids(reader.header(msg, "Message-ID"))), None),
        in_reply_to=next(iter(message_ids(reader.header(msg, "In-Reply-To"))), None),
        references=message_ids(reader.header(msg, "References")),
        thread_index=(reader.header(msg, "Thread-Index") or "").strip() or None,
        subject=reader.header(msg, "Subject"),
        sender=sender,
        to=reader.addresses(msg, "To"),
        cc=reader.addresses(msg, "Cc"),
        date=_date(reader, msg),
        text=None,
        html=None,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
    try:
        parsed.text, parsed.html = _body(_segments(reader, msg, parsed))
    except Exception as exc:  # a structure the walker cannot follow: keep the headers, flag the body
        reader.flag(f"body unreadable: {type(exc).__name__}")
    try:
        for sub in msg.walk():
            for defect in sub.defects:
                reader.flag(type(defect).__name__)
    except Exception as exc:  # walking the same garbage again can fail the same way; the flags say so
        reader.flag(f"body unreadable: {type(exc).__name__}")
    parsed.warnings = reader.warnings
    parsed.defects = reader.defects
    return _sanitized(parsed)


def _sanitized(parsed: ParsedEmail) -> ParsedEmail:
    """Only text PostgreSQL and JSON can hold: no U+0000, no lone surrogates. Garbage mail has both."""
    found: set[str] = set()

    def clean(value: str | None) -> str | None:
        if value is None or (value.isascii() and "\x00" not in value):
            return value
        if _SURROGATE.search(value):
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
