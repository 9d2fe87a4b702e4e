"""Every `omnitrail up` log of this test session holds no email address, no phone number and none of the
message texts the tests sent.

It stands on its own: an `omnitrail up` of this module's own is sent traffic carrying each kind of personal
data the scan looks for (accepted, retried, refused, dead-lettered, searched for) and stopped, so its log is
complete. Run last in the whole suite (file order), the scan also covers every other stack's log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.identity_helpers import find_contact
from tests.integration.stack import AGENT, Stack, eventually, start_up
from tests.livechat_payloads import EVENTS_SECRET, omnitrail_signed, v1_interaction

pytestmark = pytest.mark.integration

#: One-label domains (root@localhost) and address literals too: the email connector keeps them.
EMAIL = re.compile(r"[\w.+-]+@(?:[\w-]+(?:\.[\w-]+)*|\[[^\]\s]*\])")
PHONE = re.compile(r"(?<![\w.:/=-])\+\d{8,15}\b")
#: Words of the message bodies, subjects and names the tests send (Portuguese, as the fixtures are).
TEXTS = ["Olá", "encomenda", "fatura", "morada", "mensagem", "pedido", "preciso de ajuda", "Maria", "texto antigo"]


@pytest.fixture(scope="module")
def own_log(broker: EmbeddedBroker, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The complete log of an `omnitrail up` that took this module's traffic, stopped."""
    stack = start_up(tmp_path_factory.mktemp("privacy"), bootstrap=broker.bootstrap, database_url=database_url)
    try:
        asyncio.run(_traffic(stack))
    finally:
        code = stack.stop()
    assert code == 0
    return stack.log_path


async def _traffic(stack: Stack) -> None:
    """Every kind of personal data the scan looks for, down the paths that log: a message and its retry, a
    forged one, one refused and dead-lettered, another system's event, and staff searching for the customer."""
    phone = fresh.phone()
    email = f"maria.{uuid.uuid4().hex[:8]}@example.pt"
    url = stack.url + "/webhooks/twilio/messages"
    message = inbound_sms(f"SM{uuid.uuid4().hex}", phone, body="Olá, preciso de ajuda com a encomenda e a fatura")
    unreadable = inbound_sms(f"SM{uuid.uuid4().hex}", "morada: Rua da Maria 1", body="mensagem sobre o pedido")
    event = v1_interaction(
        f"privacy-{uuid.uuid4().hex}",
        email,
        text="O pedido da Maria: texto antigo",
        recipients=[{"display_name": "Maria Silva", "identifiers": [{"kind": "email", "value": email}]}],
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as http:
        body, headers = signed(url, message)
        for _ in range(2):  # the provider's retry
            assert (await http.post(url, content=body, headers=headers)).status_code == 200
        body, headers = signed(url, message, token="wrong-token")
        assert (await http.post(url, content=body, headers=headers)).status_code == 403
        body, headers = signed(url, unreadable)
        assert (await http.post(url, content=body, headers=headers)).status_code == 400
        body, headers = omnitrail_signed([event], EVENTS_SECRET)
        assert (await http.post("/webhooks/events", content=body, headers=headers)).status_code == 200
        for q in (phone, email):
            contact = await eventually(functools.partial(find_contact, http, q), what="the customer found")
            timeline = await http.get(f"/api/v1/contacts/{contact['contact_id']}/timeline", headers=AGENT)
            assert timeline.status_code == 200


#: The logs our own processes write in this session's tests (`omnitrail up`, workers, connectors, subscribers);
#: not the test servers' (Dovecot, the OpenID provider), which log their users as they should.
OURS = ("omnitrail-up.log", "worker*.log", "connector.log", "sink.log")


def _readable(line: str) -> str:
    """A JSON log line as the words it holds: the renderer escapes non-ASCII ("Olá" is ``Ol\\u00e1``)."""
    try:
        return json.dumps(json.loads(line), ensure_ascii=False)
    except ValueError:
        return line


def test_session_logs_hold_no_personal_data(own_log: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = sorted({path for name in OURS for path in tmp_path_factory.getbasetemp().rglob(name)})
    assert own_log in logs
    assert "connector.dead_lettered" in own_log.read_text()  # the traffic went down the paths that log
    found: list[str] = []
    for path in logs:
        for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
            line = _readable(raw)
            hits = EMAIL.findall(line) + PHONE.findall(line) + [t for t in TEXTS if t.lower() in line.lower()]
            found += [f"{path.parent.name}/{path.name}:{number}: {hit}" for hit in hits]
    assert not found, "personal data in logs:\n" + "\n".join(found[:20])
