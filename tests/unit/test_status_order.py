from __future__ import annotations

import pytest

from sinks.status_order import supersedes


@pytest.mark.parametrize(
    ("new", "current", "wins"),
    [
        ("sent", None, True),
        ("delivered", "sent", True),
        ("sent", "delivered", False),  # a late "sent" does not undo "delivered"
        ("read", "delivered", True),
        ("delivered", "read", False),
        ("failed", "sent", True),
        ("delivered", "failed", False),  # failures are final
        ("undelivered", "failed", False),  # the first final state stays
        ("read", "read", False),  # a repeat changes nothing
        ("completed", "ringing", True),
        ("ringing", "completed", False),
        ("in-progress", "ringing", True),
        ("something-new", None, True),
        ("something-new", "sent", False),
    ],
)
def test_only_a_later_state_replaces_the_stored_one(new: str, current: str | None, wins: bool) -> None:
    assert supersedes(new, current) is wins
