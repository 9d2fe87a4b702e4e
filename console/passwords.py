"""Staff passwords: argon2id hashes (argon2-cffi, its default parameters, RFC 9106's second recommendation).

Verifying takes as long for an unknown email as for a wrong password (a dummy hash is checked), so
timing does not tell which emails have accounts. A hash made with weaker parameters than today's is
replaced on the next successful sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("no such account")
#: Shorter is refused when an account is made: NIST SP 800-63B's minimum for a chosen secret.
MIN_LENGTH = 8


@dataclass(frozen=True)
class Verified:
    #: A new hash of the same password to store, when the stored one's parameters are out of date.
    rehashed: str | None


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> Verified | None:
    """``Verified`` when ``password`` matches ``stored``; None otherwise (also for no hash at all)."""
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    return Verified(_HASHER.hash(password) if _HASHER.check_needs_rehash(stored) else None)
