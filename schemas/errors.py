"""One error root for all of Omnitrail, sorted by what the caller must do.

::

    OmnitrailError
    ├── FatalError            configuration or programming fault: stop, tell the operator
    ├── RetriableError        transient (broker, database, network): retry after a backoff
    └── InvalidPayload        the input can never succeed: answer 400 / dead-letter it with ``reason``
        ├── InvalidSignature  authenticity not proven: reject (403) before anything is parsed
        │   └── UnknownSigningKey  signed with a key this deployment lacks: 503, the provider retries
        └── RecordTooLarge    over the broker's record size limit: never retried, never spooled

It lives in ``schemas`` because every layer raises or maps these and ``schemas``
is the one package everybody may import.
"""

from __future__ import annotations


class OmnitrailError(Exception):
    """Root of every error Omnitrail raises on purpose."""


class FatalError(OmnitrailError):
    """Retrying cannot help: misconfiguration or a bug. The process should stop."""


class RetriableError(OmnitrailError):
    """A transient fault; the same call may succeed after a backoff."""


class InvalidPayload(OmnitrailError):
    """The payload cannot be normalized. ``reason`` is safe to show and to log (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidSignature(InvalidPayload):
    """The request's signature does not verify; nothing of it may be parsed or stored."""


class UnknownSigningKey(InvalidSignature):
    """The request says it is signed with a key this deployment does not hold (usually a key the operator made
    at the provider and has not configured here yet, during a rotation). Nothing of it is parsed or stored, and
    it is never checked with another key; answered 503, a fault of ours, which the provider's fallback URL and
    configured retries act on (a 403 is final)."""


class RecordTooLarge(InvalidPayload):
    """A record over the broker's size limit (``sinks.kafka.clients.MAX_RECORD_BYTES``, or the broker's own):
    no retry can produce it, so it is never spooled or retried; the caller dead-letters it instead."""
