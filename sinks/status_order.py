"""The order of delivery and call states: which status may replace which.

Providers deliver status callbacks in any order and repeat them (Twilio, WhatsApp Cloud API,
and Twilio's call progress events alike). The stored status therefore only ever moves forward:
``delivered`` arriving before ``sent`` stays ``delivered``, ``read`` beats ``delivered``, and a
failure is final. A status we do not know ranks lowest, so it can fill an empty status but never
overwrite a known one.
"""

from __future__ import annotations

#: Final states: nothing replaces them (not even another final state: the first one wins).
_FINAL = 100
_RANK: dict[str, int] = {
    # messages (Twilio MessageStatus, WhatsApp Cloud API statuses[].status)
    "accepted": 10,
    "scheduled": 10,
    "queued": 20,
    "sending": 30,
    "sent": 40,
    "partially_delivered": 50,
    "delivered": 60,
    "read": 70,
    "played": 70,  # WhatsApp: a voice message was played (implies read)
    "failed": _FINAL,
    "undelivered": _FINAL,
    "canceled": _FINAL,
    "deleted": _FINAL,
    # calls (Twilio CallStatus)
    "initiated": 10,
    "ringing": 20,
    "in-progress": 30,
    "completed": _FINAL,
    "busy": _FINAL,
    "no-answer": _FINAL,
}
_UNKNOWN = 0


def rank(status: str | None) -> int:
    if status is None:
        return -1
    return _RANK.get(status.lower(), _UNKNOWN)


def supersedes(new: str | None, current: str | None) -> bool:
    """Whether ``new`` may replace ``current``: strictly later, and ``current`` not final."""
    if new is None:
        return False
    if rank(current) >= _FINAL:
        return False
    return rank(new) > rank(current)
