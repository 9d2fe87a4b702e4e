"""Deterministic ids: the same source event always gets the same id, on any machine, forever.

A redelivery (Twilio retrying a webhook, an IMAP resync, a replayed topic) maps to
the id it had the first time, which is what makes the database write idempotent.
"""

from __future__ import annotations

import hashlib
import uuid

from schemas.text import storable

#: Namespace of every Omnitrail UUIDv5. Never change it: ids are stored and published.
OMNITRAIL_NAMESPACE = uuid.UUID("6f6d6e69-7472-6169-6c00-000000000001")
_CONTACT_NAMESPACE = uuid.uuid5(OMNITRAIL_NAMESPACE, "contact")
_EVENT_NAMESPACE = uuid.uuid5(OMNITRAIL_NAMESPACE, "timeline-event")


def interaction_id_for(channel: str, account: str, external_id: str) -> uuid.UUID:
    """UUIDv5 of channel + account + the provider's own id for the event.

    Of the storable spelling (:mod:`schemas.text`), the one the interaction keeps: the id can be computed
    again from the stored row, and a lone surrogate in a provider id cannot make it fail.
    """
    return uuid.uuid5(OMNITRAIL_NAMESPACE, storable(f"{channel}\x1f{account}\x1f{external_id}"))


def contact_id_for(identifier_key: str) -> uuid.UUID:
    """The id a contact gets when it is created from this identifier (``kind:value``).

    Deterministic so that two workers creating the contact for the same new person at
    the same moment pick the same id and the database keeps one row.
    """
    return uuid.uuid5(_CONTACT_NAMESPACE, identifier_key)


def event_id_for(event_type: str, *parts: str) -> uuid.UUID:
    """Stable id of a timeline event, so a consumer can drop a republished copy."""
    return uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join((event_type, *parts)))


_EVENT_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


def event_id_text_for(event_type: str, *parts: str) -> str:
    """``str(event_id_for(...))`` without the ``UUID`` object: the worker writes one per interaction
    event straight into the event's JSON, and ``uuid5`` + ``str`` were ~3% of its CPU. Same bytes:
    SHA-1 of namespace + name, the version (5) and RFC 4122 variant bits set as ``uuid.UUID`` sets them."""
    name = "\x1f".join((event_type, *parts)).encode()
    digest = bytearray(hashlib.sha1(_EVENT_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
