"""The console's home view (``/api/v1/inbox``) on a broker and database of its own: what it lists is exactly
what this module made, whichever tests ran before (each adds waiting conversations and suggestions to the
shared database, and the inbox shows only the newest of those)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from console.session import fingerprint
from omnitrail.local_stack import EmbeddedBroker
from tests.integration.console.data import a_customer, chat_and_email, contact_of, sms
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack, eventually
from tests.interactions import produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    return private_broker


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    return private_database_url


@pytest.fixture(scope="module")
def console_stack(start_stack: StartStack) -> Stack:
    """This module's ``omnitrail up`` (the package's runs on the shared broker and database)."""
    return start_stack(OMNITRAIL_SUGGESTIONS_TICK_INTERVAL_S="2")


async def test_inbox_lists_waiting_conversations_and_suggestions_mine_first_and_not_a_closing_thanks(
    client: httpx.AsyncClient, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    ana, rui, eva = a_customer(), a_customer(), a_customer()
    # Two chats 30 minutes old, unanswered: past the live-chat SLA, each opens an "unanswered" suggestion.
    await produce(
        broker.bootstrap, [chat_and_email(p, email_html="<p>hi</p>", email_subject="Hi")[0] for p in (ana, rui)]
    )
    ids = {p.email: (await contact_of(client, p.email))["contact_id"] for p in (ana, rui)}
    await sms(client, console_stack, eva, "Já chegou, obrigada!")  # a closing thanks: nothing to answer
    eva_id = (await contact_of(client, eva.e164))["contact_id"]

    async def inbox_with_both() -> dict[str, Any] | None:
        inbox = (await client.get("/api/v1/inbox", headers=AGENT)).json()
        mine = {s["contact_id"] for s in inbox["suggestions"] if s["rule"] == "unanswered"}
        return inbox if set(ids.values()) <= mine else None

    inbox = await eventually(inbox_with_both, what="both suggestions in the inbox")
    assert inbox["me"] == fingerprint("agent-token")
    waiting = [c["contact_id"] for c in inbox["conversations"]]
    assert sorted(waiting) == sorted(ids.values())  # exactly: the database holds only this module's conversations
    assert eva_id not in waiting
    # The older one (Ana's, produced first, same time) assigned to me comes first; unassigned after.
    [ana_s] = [s for s in inbox["suggestions"] if s["contact_id"] == ids[ana.email] and s["rule"] == "unanswered"]
    assigned = await client.post(
        f"/api/v1/suggestions/{ana_s['suggestion_id']}/assign", json={"assignee": inbox["me"]}, headers=AGENT
    )
    assert assigned.status_code == 200
    inbox = (await client.get("/api/v1/inbox", headers=AGENT)).json()
    assert inbox["suggestions"][0]["suggestion_id"] == ana_s["suggestion_id"]
    assert inbox["suggestions"][0]["mine"] is True
    assert inbox["suggestions"][0]["display_name"] == ana.name
    assert inbox["conversations"][0]["contact_id"] == ids[ana.email]
    assert inbox["conversations"][0]["preview"] == "Hello, I wrote you an email about the invoice."
    ranks = [0 if s["mine"] else 1 if s["assignee"] is None else 2 for s in inbox["suggestions"]]
    assert ranks == sorted(ranks)
    # For someone else it is a colleague's: after every unassigned suggestion.
    others = (await client.get("/api/v1/inbox", headers=ADMIN)).json()["suggestions"]
    [ana_for_admin] = [n for n, s in enumerate(others) if s["suggestion_id"] == ana_s["suggestion_id"]]
    assert others[ana_for_admin]["mine"] is False
    assert ana_for_admin > max(n for n, s in enumerate(others) if s["assignee"] is None)
