"""One error root for all of Omnitrail, sorted by what the caller must do.

::

    OmnitrailError
    ├── FatalError            configuration or programming fault: stop, tell the operator
    ├── RetriableError        transient (broker, database, network): retry after a backoff
    └── InvalidPayload        the input can never succeed: answer 400 / dead-letter it with ``reason``
        └── InvalidSignature  authenticity not proven: reject (403) before anything is parsed

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
