"""One customer on four channels, produced the way each arrives: signed Twilio webhooks for SMS
and WhatsApp, v1 interactions straight onto the interactions topic for live chat and email; staff
accounts and possible duplicates (identity review items) as the CLI and the worker make them."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from console.passwords import hash_password
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Interaction
from sinks import staff_store
from tests import fresh
from tests.helpers import inbound_sms, signed
from tests.integration.stack import AGENT, Stack, eventually
from tests.interactions import interaction

MAILBOX = "support@omnitrail.example"
#: How often the console stack's open live streams re-check their sign-in (OMNITRAIL_CONSOLE_LIVE_CHECK_S).
LIVE_CHECK_S = 1.0


@dataclass
class Customer:
    national: str
    e164: str
    email: str
    name: str
    contact_id: str = ""


def a_customer() -> Customer:
    e164, tag = fresh.phone(), uuid.uuid4().hex[:8]
    return Customer(fresh.national(e164), e164, f"ana.{tag}@example.pt", f"Ana {tag}")


async def post_twilio(client: httpx.AsyncClient, stack: Stack, params: dict[str, str]) -> None:
    body, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    response = await client.post("/webhooks/twilio/messages", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def sms(client: httpx.AsyncClient, stack: Stack, customer: Customer, text: str) -> str:
    sid = f"SM{uuid.uuid4().hex}"
    await post_twilio(client, stack, inbound_sms(sid, customer.national, body=text))
    return sid


async def whatsapp(client: httpx.AsyncClient, stack: Stack, customer: Customer, text: str) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    params = inbound_sms(sid, f"whatsapp:{customer.e164}", body=text, ProfileName=customer.name)
    params.update(To="whatsapp:+14155238886", WaId=customer.e164.lstrip("+"))
    await post_twilio(client, stack, params)


def chat_and_email(customer: Customer, *, email_html: str, email_subject: str) -> list[Interaction]:
    """A live chat whose visitor party carries email and phone (produced straight to the topic, as a trusted
    system would: it links them; the live-chat route would keep an unvouched form's values unverified),
    then an email."""
    now = datetime.now(UTC)
    visitor = [
        Identifier(kind=IdentifierKind.livechat, value=f"visitor-{customer.email}"),
        Identifier(kind=IdentifierKind.email, value=customer.email),
        Identifier(kind=IdentifierKind.phone, value=customer.e164),
    ]
    chat = interaction(
        Channel.livechat,
        visitor,
        account="website",
        name=customer.name,
        at=now - timedelta(minutes=30),
        received_at=now,
        external_id=f"chat-{uuid.uuid4().hex}",
        thread_key=f"livechat:session:{uuid.uuid4().hex[:12]}",
        recipients=[],
        text="Hello, I wrote you an email about the invoice.",
    )
    email = interaction(
        Channel.email,
        customer.email,
        account=MAILBOX,
        name=customer.name,
        at=now - timedelta(minutes=20),
        received_at=now,
        external_id=f"<{uuid.uuid4().hex}@mail.example.pt>",
        thread_key=f"email:{uuid.uuid4().hex[:16]}",
        subject=email_subject,
        text="Invoice attached.",
        html=email_html,
    )
    return [chat, email]


async def contact_of(client: httpx.AsyncClient, q: str, *, channels: int = 1) -> dict[str, Any]:
    """The contact found by q once its timeline holds interactions of at least ``channels`` channels."""

    async def check() -> dict[str, Any] | None:
        found = (await client.get("/api/v1/contacts", params={"q": q}, headers=AGENT)).json()["items"]
        if len(found) != 1:
            return None
        items = (await client.get(f"/api/v1/contacts/{found[0]['contact_id']}/timeline", headers=AGENT)).json()
        return found[0] if len({i["channel"] for i in items["items"]}) >= channels else None

    return await eventually(check, what=f"a contact with {channels} channels")


STAFF_PASSWORD = "s3cret-pass"


async def a_staff_account(database_url: str, name: str) -> str:
    """An enabled agent account (as ``omnitrail staff add`` makes it); its id, the email."""
    email = f"{name.split()[0].lower()}.{uuid.uuid4().hex[:8]}@acme.example"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await staff_store.add(conn, email=email, name=name, role="agent", password_hash=hash_password(STAFF_PASSWORD))
    return email


async def a_possible_duplicate(database_url: str, first: str, second: str) -> str:
    """An open identity review item between two contacts (as the worker opens one on weak evidence); its id."""
    review_id = uuid.uuid4()
    a, b = sorted([uuid.UUID(first), uuid.UUID(second)])
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
            (review_id, a, b),
        )
    return str(review_id)


@dataclass
class LiveStream:
    """A page's open server-sent-event stream: the events received so far (as sent), and when it ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended_at: float | None = None  # time.monotonic() when the response ended
    reading: asyncio.Task[None] | None = None

    async def ended(self, timeout: float) -> float:
        """Wait for the response to end on its own (a failed read raises here); when it did."""
        assert self.reading is not None
        await asyncio.wait_for(asyncio.shield(self.reading), timeout)
        assert self.ended_at is not None
        return self.ended_at

    def open(self) -> bool:
        return self.reading is not None and not self.reading.done()

    async def close(self) -> None:
        if self.reading is not None and not self.reading.done():
            self.reading.cancel()
            await asyncio.gather(self.reading, return_exceptions=True)


async def live_stream(url: str, path: str, **auth: Any) -> LiveStream:
    """Open ``path`` (``/api/v1/events`` or a contact's) as the page does, with ``cookies=`` or ``headers=``,
    once its subscription to the feed is in place (its ``: connected`` line): later events reach it."""
    stream = LiveStream()

    async def read() -> None:
        browser = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=120), **auth)
        async with browser, browser.stream("GET", path) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line == ": connected":
                    stream.connected.set()
                elif line.startswith("data: "):
                    stream.events.append(orjson.loads(line[6:]))
        stream.ended_at = time.monotonic()

    stream.reading = asyncio.create_task(read())
    opened = asyncio.create_task(stream.connected.wait())
    await asyncio.wait([opened, stream.reading], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    opened.cancel()
    if stream.reading.done():
        stream.reading.result()  # the stream ended before it opened: its error
    assert stream.connected.is_set(), f"{path} did not open within 60 s"
    return stream
