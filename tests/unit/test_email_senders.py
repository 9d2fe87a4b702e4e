"""Sender addresses as real mail writes them: a one-label domain is kept."""

from __future__ import annotations

import asyncio

import pytest

from connectors.email.inspect import Inspector, Result
from tests import email_corpus as corpus


def _inspect(raw: bytes) -> Result:
    return asyncio.run(Inspector(corpus.SUPPORT).inspect(raw))


@pytest.mark.parametrize("sender", ["root@localhost", "Redacted@Redacted", "helpdesk@intranet"])
def test_mail_from_a_one_label_domain_reaches_the_timeline_with_its_sender(sender: str) -> None:
    result = _inspect(corpus.simple("one-label", 1, sender=sender))
    assert result.dead_letter is None
    assert result.interaction is not None
    assert result.interaction.sender.display_name == "Cliente 1"
    assert [i.key for i in result.interaction.sender.identifiers] == [f"email:{sender.lower()}"]
    assert result.interaction.text == "Mensagem 1."
