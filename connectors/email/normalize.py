"""A parsed email -> one :class:`~schemas.interaction.Interaction`: direction, parties, ids, threading.

The interaction id depends only on the message (its Message-ID, or a hash of the raw bytes when it
has none), never on the folder or the mailbox: the same message in INBOX and All Mail, or Cc'd to
two of our mailboxes, is one timeline entry. "The same message" is one Message-ID *and* one
:func:`fingerprint` (From, the To/Cc addresses, Date). A different message under a
Message-ID already taken (a broken mailer's constant id, a web form, a mail merge to several
recipients, or a forged id) gets an id of its own, ``<Message-ID>#<fingerprint>`` (the threader
decides, :mod:`connectors.email.threads`), and ``metadata["message_id_reused"]``; the first message
with a Message-ID keeps the id it always had.

"Ours" is every address of every configured mailbox (:func:`connectors.email.settings.ours`), so mail
among colleagues' mailboxes never makes a colleague a customer, whichever mailbox reads it first.

Direction: from one of our own addresses -> outbound, every recipient who is not ours is a customer
(ours get ``role=us``); otherwise inbound, the sender is the customer and so is every To/Cc
recipient who is not ours (``role=customer``), so Cc'd customers see it in their timelines too.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime

from connectors.email.mime import Mailbox, ParsedEmail
from connectors.email.quoting import split
from connectors.email.threads import MessageFacts, Placement
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, normalize_email
from schemas.ids import interaction_id_for
from schemas.interaction import SENDER_UNKNOWN, Attachment, Channel, Direction, Interaction, Party, PartyRole, Provider


def external_id(parsed: ParsedEmail) -> str:
    """The message's identity: its Message-ID, or ``sha256:<hash of the raw bytes>`` without one."""
    return parsed.message_id or f"sha256:{parsed.content_hash}"


@functools.lru_cache(maxsize=4096)  # pure; each message asks for the same few addresses several times
def _address(box: Mailbox) -> str | None:
    try:
        return normalize_email(box.address)
    except InvalidPayload:
        return None


def _party(box: Mailbox, role: PartyRole | None) -> Party:
    address = _address(box)
    identifiers = [Identifier.of(IdentifierKind.email, address)] if address else []
    return Party(display_name=box.name, identifiers=identifiers, role=role)


def _unique(boxes: list[Mailbox]) -> list[Mailbox]:
    seen: set[str] = set()
    result = []
    for box in boxes:
        key = _address(box) or box.address
        if key not in seen:
            seen.add(key)
            result.append(box)
    return result


def is_outbound(parsed: ParsedEmail, own: frozenset[str]) -> bool:
    return parsed.sender is not None and _address(parsed.sender) in own


def fingerprint(parsed: ParsedEmail) -> str | None:
    """What every copy of one message shares, hashed; None for a message without a Message-ID (never reused)."""
    if parsed.message_id is None:
        return None
    sender = (_address(parsed.sender) or parsed.sender.address) if parsed.sender else ""
    recipients = sorted({_address(b) or b.address for b in [*parsed.to, *parsed.cc]})
    if parsed.date is not None:
        date = parsed.date.astimezone(UTC).isoformat()  # the instant, however written
    else:  # an alert mailer's constant Message-ID and no Date: what it says tells its messages apart
        date = "text:" + hashlib.sha256((parsed.text or parsed.html or "").encode("utf-8", "replace")).hexdigest()
    parts = [sender, ",".join(recipients), date]  # not the Subject: a gateway may tag one copy "[SPAM]"
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def facts(parsed: ParsedEmail, own: frozenset[str], occurred_at: datetime) -> MessageFacts:
    """What the threader needs: ids, subject, and the customer addresses (ours left out)."""
    outbound = is_outbound(parsed, own)
    boxes = (
        [*parsed.to, *parsed.cc] if outbound else [*([parsed.sender] if parsed.sender else []), *parsed.to, *parsed.cc]
    )
    customers = sorted({a for a in (_address(b) for b in boxes) if a and a not in own})
    references = list(parsed.references)
    if parsed.in_reply_to and parsed.in_reply_to not in references:
        references.append(parsed.in_reply_to)
    return MessageFacts(
        message_id=external_id(parsed),
        references=[r for r in references if r != parsed.message_id],
        subject=parsed.subject,
        participants=tuple(customers),
        thread_index=parsed.thread_index,
        occurred_at=occurred_at,
        fingerprint=fingerprint(parsed),
    )


def to_interaction(
    parsed: ParsedEmail,
    *,
    account: str,
    own: frozenset[str],
    occurred_at: datetime,
    received_at: datetime,
    placement: Placement,
) -> Interaction:
    outbound = is_outbound(parsed, own)
    recipients = []
    for box in _unique([*parsed.to, *parsed.cc]):
        if _address(box) in own:
            recipients.append(_party(box, PartyRole.us))
        else:
            recipients.append(_party(box, None if outbound else PartyRole.customer))
    sender = _party(parsed.sender, None) if parsed.sender else Party()
    metadata: dict[str, object] = {"thread_rule": placement.rule}
    if not sender.identifiers:  # no From, or none to trust: kept, on its conversation, linking nobody
        metadata[SENDER_UNKNOWN] = True
    if parsed.message_id is None:
        metadata["message_id_missing"] = True
    if placement.key is not None:
        metadata["message_id_reused"] = True
    if parsed.defects:
        metadata["parse_defects"] = parsed.defects
    if parsed.warnings:
        metadata["parse_warnings"] = parsed.warnings
    if parsed.forwarded:
        metadata["forwarded"] = parsed.forwarded
    if parsed.references:
        metadata["references"] = parsed.references
    inline = [a.sha256 for a in parsed.attachments if a.inline]
    if inline:
        metadata["inline_attachments"] = inline
    text, quoted = (parsed.text, None) if outbound or not parsed.text else split(parsed.text)
    ext = placement.key or external_id(parsed)
    parent = parsed.in_reply_to or (parsed.references[-1] if parsed.references else None)
    return Interaction.build(
        interaction_id=interaction_id_for("email", "", ext),
        channel=Channel.email,
        provider=Provider.imap,
        account=account,
        direction=Direction.outbound if outbound else Direction.inbound,
        occurred_at=occurred_at,
        received_at=received_at,
        external_id=ext,
        thread_key=placement.thread_key,
        in_reply_to=interaction_id_for("email", "", parent) if parent else None,
        sender=sender,
        recipients=recipients,
        subject=parsed.subject,
        text=text,
        html=parsed.html,
        quoted_text=quoted,
        attachments=[
            Attachment(name=a.name, content_type=a.content_type, size=a.size, sha256=a.sha256)
            for a in parsed.attachments
        ],
        metadata=metadata,
    )


#: Kafka's default record limit is 1 MiB (``sinks.kafka.clients.MAX_RECORD_BYTES``), counted in bytes: a record
#: above it would be refused on every retry. The rest of the megabyte is headroom for the key and headers.
MAX_INTERACTION_BYTES = 900_000


def encoded_size(interaction: Interaction) -> int:
    """The record's value size in bytes, as produced (UTF-8 JSON: Cyrillic takes 2 bytes a character, CJK 3)."""
    return len(interaction.model_dump_json().encode())


def fit(interaction: Interaction, limit: int = MAX_INTERACTION_BYTES) -> Interaction:
    """Keep a huge message under the broker's record limit: drop the HTML, the quoted history, then shorten the text.

    Sizes are bytes as produced, and the text is cut on a character boundary. What was cut is listed in
    ``metadata["truncated"]``; the full message stays on the mail server. Only those three can be cut: a message
    still over ``limit`` without them (thousands of recipients, attachments or References) is returned as it is,
    and the caller dead-letters it (:func:`encoded_size` says so).
    """
    if encoded_size(interaction) <= limit:
        return interaction
    cut: list[str] = []
    update: dict[str, object] = {}

    def trimmed() -> Interaction:
        return interaction.model_copy(update={**update, "metadata": {**interaction.metadata, "truncated": [*cut]}})

    size = encoded_size(interaction)
    for name in ("html", "quoted_text"):  # the quoted history is older mail, in the timeline already
        if getattr(interaction, name) is not None and size > limit:
            update[name] = None
            cut.append(name)
            size = encoded_size(trimmed())
    if size > limit and interaction.text:
        cut.append("text")
        kept = interaction.text.encode()
        update["text"] = ""
        rest = encoded_size(trimmed())  # the record without its text
        while size > limit and kept:
            # JSON escapes (quotes, control characters) make the text longer on the wire than in UTF-8: cut in
            # proportion, measure again. ``ignore`` drops a character the cut split, never half of it.
            per_wire_byte = len(kept) / max(1, size - rest)
            text = kept[: max(0, len(kept) - int((size - limit) * per_wire_byte) - 1024)].decode(errors="ignore")
            update["text"], kept = text, text.encode()
            size = encoded_size(trimmed())
    return trimmed()
