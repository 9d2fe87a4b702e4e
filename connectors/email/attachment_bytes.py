"""An email's attachment bytes, for the media stage: found again in the raw message by their SHA-256.

The parser (:mod:`connectors.email.mime`) keeps only each attachment's metadata and hash, and the
interaction travels on Kafka without the bytes (a broker record has a size limit, a mail with
attachments often exceeds it). When the process keeps media (``omnitrail`` wires the object store
in), the connector writes each attachment's bytes there, content-addressed, before it produces the
interaction; the media stage then finds them by the attachment's ``sha256``. Every leaf part is
decoded and hashed, and those whose hash an attachment names are kept, so which parts count as
attachments is decided in one place, the parser.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Awaitable, Callable, Iterator

#: Keeps bytes under their SHA-256 (the object store's ``put_bytes``).
Keep = Callable[[str, bytes], Awaitable[None]]


def payloads(raw: bytes, wanted: set[str]) -> Iterator[tuple[str, bytes]]:
    """(sha256, bytes) of each leaf part of ``raw`` whose decoded bytes hash to one of ``wanted``."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)  # the fast parser: bytes only
    for part in message.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in wanted:
            wanted.discard(digest)
            yield digest, data
