"""Which refused IMAP logins are worth retrying: RFC 5530 response codes, as imapclient reports them."""

from __future__ import annotations

import pytest
from imapclient.exceptions import LoginError

from connectors.email.session import LoginUnavailable, _raise_if_temporary


@pytest.mark.parametrize(
    "answer",
    [
        b"[UNAVAILABLE] Temporary authentication failure. [mx1:2026-12-06 09:29:33]",
        b"[INUSE] Mailbox in use by another session",
        b"[LIMIT] Too many simultaneous logins",
        b"[SERVERBUG] Internal error occurred",
    ],
)
def test_a_login_that_failed_for_now_is_retried_and_names_only_its_code(answer: bytes) -> None:
    with pytest.raises(LoginUnavailable) as raised:
        _raise_if_temporary(LoginError(str(answer)))
    code = answer.decode().split("]")[0] + "]"
    assert str(raised.value) == f"IMAP login temporarily unavailable ({code})"


@pytest.mark.parametrize(
    "answer",
    [
        b"[AUTHENTICATIONFAILED] Authentication failed.",
        b"[AUTHORIZATIONFAILED] Not authorized",
        b"[EXPIRED] Password expired",
        b"Invalid credentials (Failure)",
        b"LOGIN command error: BAD [b'Error in IMAP command LOGIN: Invalid arguments.']",
    ],
)
def test_any_other_answer_is_a_refused_login(answer: bytes) -> None:
    _raise_if_temporary(LoginError(str(answer)))  # returns: the caller reports a refused login
