"""Staff passwords: argon2id, refused when short, and a hash made with weaker parameters is replaced."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from console import passwords


def test_a_password_verifies_only_itself_and_no_hash_verifies_nothing() -> None:
    stored = passwords.hash_password("s3cret-pass")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "s3cret-pass") == passwords.Verified(rehashed=None)
    assert passwords.verify(stored, "s3cret-pas") is None
    assert passwords.verify(None, "s3cret-pass") is None  # an unknown email (or an SSO-only account)
    assert passwords.verify("not a hash", "s3cret-pass") is None


def test_a_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        passwords.hash_password("short")


def test_a_hash_with_weaker_parameters_is_replaced_at_sign_in() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("s3cret-pass")
    verified = passwords.verify(weak, "s3cret-pass")
    assert verified is not None
    assert verified.rehashed is not None
    assert passwords.verify(verified.rehashed, "s3cret-pass") == passwords.Verified(rehashed=None)
