"""Customer phone numbers no other test of the session was given.

The integration tests share one database and one broker, so two tests handed the same random number
would have one customer of two strangers, and each test's assertions about that customer's contact
could fail. With a few hundred random mobiles per session that happened about once in 700 sessions:
numbers are drawn at random (a rerun never meets an earlier run's data) but never twice.
"""

from __future__ import annotations

import random

_given: set[str] = set()


def phone() -> str:
    """A Portuguese mobile in E.164 (``+3519XXXXXXXX``) not given before in this process."""
    while (e164 := f"+3519{random.randint(10**7, 10**8 - 1)}") in _given:
        continue
    _given.add(e164)
    return e164


def national(e164: str) -> str:
    """A Portuguese mobile as people write it: ``+351912345678`` -> ``912 345 678``."""
    digits = e164.removeprefix("+351")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
