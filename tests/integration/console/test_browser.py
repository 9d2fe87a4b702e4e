"""The console page in a real headless Chromium (Debian's, driven by Playwright) against `omnitrail up`:
sign in, find a customer by a phone spelling, read one thread-grouped timeline across four channels,
watch a new SMS arrive live, see a possible duplicate once and assign it to a staff account, render a
hostile email without running its script, log a note in two taps at phone width, see the agent role
refused an admin action, and an admin merge (with a preview), unmerge and erase (with a confirmation).
Screenshots go to ``test-artifacts/console/``."""

from __future__ import annotations

import asyncio
import base64
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Dialog, Page, Route, async_playwright, expect

from omnitrail.local_stack import EmbeddedBroker, free_port
from schemas import topics
from schemas.ids import interaction_id_for
from tests.channel_payloads import meta_signed, wa_contact, wa_message, wa_reaction, whatsapp_payload, whatsapp_value
from tests.helpers import sms_interaction
from tests.integration.console.data import (
    STAFF_PASSWORD,
    Customer,
    a_customer,
    a_possible_duplicate,
    a_staff_account,
    chat_and_email,
    contact_of,
    sms,
    whatsapp,
)
from tests.integration.stack import AGENT, Stack, eventually, read_topic
from tests.interactions import produce

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"
#: axe-core, installed by npm from tests/package.json (`.ci/run` does it).
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Listener:
    """A tiny HTTP server that records every request: what the hostile email's script, handlers
    and remote image would call if they ever ran or loaded."""

    def __init__(self) -> None:
        self.port = free_port()
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode(errors="replace").split()
        self.paths.append(line[1] if len(line) > 1 else "?")
        gif = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nAccess-Control-Allow-Origin: *\r\n")
        writer.write(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(gif) + gif)
        await writer.drain()
        writer.close()


def hostile_email(listener: Listener) -> str:
    base = f"http://127.0.0.1:{listener.port}"
    return (
        "<p>Segue a fatura em anexo.</p>"
        f"<script>window.top.pwned = 1; fetch('{base}/script')</script>"
        f'<img src="{base}/pixel.gif" alt="tracking pixel">'
        f"<img src=\"x\" onerror=\"fetch('{base}/onerror'); parent.document.title = 'pwned'\">"
        f"<a href=\"javascript:fetch('{base}/javascript-link')\">Abrir fatura</a>"
        f'<iframe src="{base}/nested-frame"></iframe>'
        f"<svg><script>fetch('{base}/svg')</script></svg>"
    )


@pytest.fixture(scope="module")
async def listener() -> AsyncIterator[Listener]:
    server = Listener()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def customer(console_stack: Stack, broker: EmbeddedBroker, listener: Listener) -> Customer:
    person = a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, person, "Olá, a minha encomenda não chegou")
        await whatsapp(client, console_stack, person, "Envio a fatura por email")
        await produce(
            broker.bootstrap,
            chat_and_email(person, email_html=hostile_email(listener), email_subject="Fatura 2024-113"),
        )
        found = await contact_of(client, person.e164, channels=4)
    person.contact_id = found["contact_id"]
    return person


async def signed_in(browser: Browser, stack: Stack, token: str, **context: object) -> Page:
    page = await (await browser.new_context(**context)).new_page()  # type: ignore[arg-type]
    return await sign_in_with(page, stack, token)


async def sign_in_with(page: Page, stack: Stack, token: str) -> Page:
    """``page`` signed in to the console with an API token, on the home view."""
    await page.goto(stack.url + "/")
    await page.get_by_text("Sign in with an API token").click()  # staff sign in by email; tokens are folded away
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in with the token").click()
    await expect(page.get_by_role("search")).to_be_visible()
    return page


async def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now. The script is served as if it were
    the console's own (the page's CSP rightly refuses any other), without bypassing the CSP of anything else."""
    origin = page.url.split("/", 3)[:3]
    url = "/".join(origin) + "/static/axe-under-test.js"
    await page.route(url, lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    await page.evaluate(
        """(url) => new Promise((loaded, failed) => {
             const script = Object.assign(document.createElement("script"), {src: url, onload: loaded});
             script.onerror = () => failed(new Error("axe-core did not load"));
             document.head.append(script);
           })""",
        url,
    )
    violations = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .filter((v) => v.impact === "serious" || v.impact === "critical")
             .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)"""
    )
    return list(violations)


async def tab_to(page: Page, condition: str, *, most: int = 80) -> None:
    """Press Tab until the focused element meets the JavaScript condition (on ``el``), as a keyboard user would."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"(() => {{ const el = document.activeElement; return !!({condition}); }})()"):
            return
    raise AssertionError(f"Tab never reached {condition}")


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (375, 812)])
async def test_every_page_has_no_serious_or_critical_accessibility_violations(
    browser: Browser, console_stack: Stack, customer: Customer, width: int, height: int
) -> None:
    assert AXE.is_file(), "npm ci --prefix tests installs axe-core"
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(console_stack.url + "/")
    found = {"sign-in": await serious_accessibility_violations(page)}
    await page.get_by_label("Email").fill("nobody@omnitrail.example")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await page.get_by_text("Sign in with an API token").click()
    found["sign-in refused"] = await serious_accessibility_violations(page)
    await page.get_by_label("API token").fill("admin-token")  # admin: every action on the page
    await page.get_by_role("button", name="Sign in with the token").click()
    await expect(page.get_by_role("heading", name="Open work")).to_be_visible()
    await expect(page.locator("#waiting li").first).to_be_visible()
    found["home"] = await serious_accessibility_violations(page)
    await page.screenshot(path=ARTIFACTS / f"home-{width}.png", full_page=True)
    await page.goto(f"{console_stack.url}/#contact={customer.contact_id}")
    await expect(page.locator("#timeline > li.thread")).to_have_count(4)
    await page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")  # all of it
    await expect(page.locator("#channels li").first).to_be_visible()
    found["contact"] = await serious_accessibility_violations(page)
    await page.screenshot(path=ARTIFACTS / f"contact-{width}.png", full_page=True)
    await context.close()
    assert found == {"sign-in": [], "sign-in refused": [], "home": [], "contact": []}


async def test_keyboard_only_search_timeline_and_note(browser: Browser, console_stack: Stack) -> None:
    person = a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, person, "Olá, a minha encomenda não chegou")
        await whatsapp(client, console_stack, person, "Envio a fatura por email")  # her name, from WhatsApp
        await contact_of(client, person.e164, channels=2)
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    await page.keyboard.type(person.national)  # the search field has the focus after sign-in
    await expect(page.locator("#results button")).to_have_count(1)
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.locator("#contact-name")).to_have_text(person.name)
    await expect(page.locator("#timeline > li.thread")).to_have_count(2)
    await tab_to(page, "el.matches('#timeline .entry')")  # each message is reachable and says what it is
    label = await page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label.split(", ")[:2] in ([person.name, "WhatsApp"], [person.name, "SMS"])
    await tab_to(page, "el.textContent === 'Add internal note'")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "note-text"
    await page.keyboard.type("Falei com ela ao telefone")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Save note"
    await page.keyboard.press("Enter")
    note = page.locator("#timeline .entry.note", has_text="Falei com ela ao telefone")
    await expect(note).to_have_count(1, timeout=30_000)  # through the pipeline, in the thread it was written on
    await expect(note.locator(".sender")).to_contain_text("Note by ")
    await page.context.close()


async def test_home_lists_open_work_live_and_opens_the_conversation(browser: Browser, console_stack: Stack) -> None:
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    await expect(page.get_by_role("heading", name="Open work")).to_be_visible()  # not a blank page
    waiting, thanked = a_customer(), a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, waiting, "Preciso de ajuda com a fatura")
        await sms(client, console_stack, thanked, "Muito obrigado pela ajuda!")
    item = page.locator("#waiting li", has_text="Preciso de ajuda com a fatura")
    await expect(item).to_be_visible(timeout=30_000)  # live: no reload
    await expect(item).to_contain_text(waiting.national)  # no name: the number, as people in Portugal write it
    await expect(item).to_contain_text("unassigned")
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await contact_of(client, thanked.e164)
    await page.reload()
    await expect(page.locator("#waiting li", has_text="Preciso de ajuda com a fatura")).to_be_visible()
    await expect(page.locator("#waiting li", has_text="Muito obrigado pela ajuda!")).to_have_count(0)
    await page.screenshot(path=ARTIFACTS / "desktop-home.png", full_page=True)
    await item.get_by_role("link").click()
    await expect(page.locator("#contact-name")).to_have_text(waiting.national)
    await expect(page.locator("#timeline .entry")).to_contain_text("Preciso de ajuda com a fatura")
    await page.get_by_role("link", name="← Open work").click()
    await expect(page.get_by_role("heading", name="Open work")).to_be_visible()
    await page.context.close()


class HeldStream:
    """A page's live stream request (a Playwright route handler), held until the test lets it connect."""

    def __init__(self) -> None:
        self.connecting, self.released = asyncio.Event(), asyncio.Event()

    async def __call__(self, route: Route) -> None:
        self.connecting.set()
        await self.released.wait()
        await route.continue_()


async def sms_published(stack: Stack, broker: EmbeddedBroker, person: Customer, text: str) -> None:
    """Post an SMS from ``person`` and wait until its interaction.added is on the timeline topic."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        sid = await sms(client, stack, person, text)
    added = str(interaction_id_for("sms", "+351210000000", sid))

    async def published() -> bool:
        events = [orjson.loads(v) for _, v in await read_topic(broker.bootstrap, topics.TIMELINE) if v]
        return any(e["type"] == "interaction.added" and e["interaction"]["interaction_id"] == added for e in events)

    await eventually(published, what="the message's interaction.added")


async def test_home_shows_a_message_published_while_its_live_stream_was_connecting(
    browser: Browser, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    """The home view loads the open work, then connects its live stream: a message whose event went out in
    between (a loaded machine, a reconnect) is shown once the stream is connected, not a minute later."""
    stream = HeldStream()
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.route("**/api/v1/events", stream)
    await sign_in_with(page, console_stack, "agent-token")
    await expect(page.locator("#waiting-count")).to_have_text(re.compile(r"\(\d+\)"))  # the open work, loaded
    await asyncio.wait_for(stream.connecting.wait(), 30)
    await sms_published(console_stack, broker, a_customer(), "Ainda estou à espera da fatura")
    stream.released.set()
    # Well within the page's one-minute refresh, which would show it anyway.
    await expect(page.locator("#waiting li", has_text="Ainda estou à espera da fatura")).to_be_visible(timeout=20_000)
    await page.context.close()


async def test_contact_page_shows_a_message_published_while_its_live_stream_was_connecting(
    browser: Browser, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    """The same on a contact's page: its timeline is loaded, then its stream connects."""
    person = a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, person, "Bom dia, a encomenda 55 não chegou")
        person.contact_id = (await contact_of(client, person.e164))["contact_id"]
    stream = HeldStream()
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    await page.route("**/api/v1/contacts/*/events", stream)
    await page.goto(f"{console_stack.url}/#contact={person.contact_id}")
    await expect(page.locator("#timeline .entry")).to_have_count(1)  # the timeline, loaded
    await asyncio.wait_for(stream.connecting.wait(), 30)
    await sms_published(console_stack, broker, person, "Afinal chegou à tarde")
    stream.released.set()
    await expect(page.locator("#timeline .entry", has_text="Afinal chegou à tarde")).to_be_visible(timeout=20_000)
    await page.context.close()


async def test_a_possible_duplicate_shows_once_links_both_contacts_and_is_assigned_to_a_staff_account(
    browser: Browser, console_stack: Stack, database_url: str
) -> None:
    named, unnamed = a_customer(), a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await whatsapp(client, console_stack, named, "Olá")
        await sms(client, console_stack, unnamed, "Olá")
        a = (await contact_of(client, named.e164))["contact_id"]
        b = (await contact_of(client, unnamed.e164))["contact_id"]
        review_id = await a_possible_duplicate(database_url, a, b)
        maria = await a_staff_account(database_url, "Maria Sousa")
        await a_staff_account(database_url, "Rui Lopes")

        async def on_home_view() -> bool:
            inbox = (await client.get("/api/v1/inbox", headers=AGENT)).json()
            return any(s["review_id"] == review_id for s in inbox["suggestions"])

        await eventually(on_home_view, what="the possible duplicate among the open suggestions")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(console_stack.url + "/")
    await page.get_by_label("Email").fill(maria)
    await page.get_by_label("Password").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    pair = page.locator("#open-suggestions li", has_text="Decide a possible duplicate contact").filter(
        has=page.get_by_role("link", name=named.name)
    )
    await expect(pair).to_have_count(1)  # once, naming both contacts, each a link to its page
    await expect(pair.get_by_role("link")).to_have_count(2)
    await expect(pair.get_by_role("link", name=unnamed.national)).to_have_count(1)
    for contact_id in (a, b):
        await expect(pair).not_to_contain_text(contact_id)  # the reason names the other contact, not its id
    await expect(pair).to_contain_text("unassigned")
    assert await serious_accessibility_violations(page) == []
    await page.screenshot(path=ARTIFACTS / "home-duplicate.png", full_page=True)

    await pair.get_by_role("link", name=unnamed.national).click()
    await expect(page.locator("#contact-name")).to_have_text(unnamed.national)
    mine = page.locator("#suggestion-list li", has_text="Decide a possible duplicate contact")
    await expect(mine.get_by_role("link", name=named.name)).to_be_visible()  # the other contact, by name
    await mine.get_by_text("Handle").click()
    await mine.get_by_label("Assign to colleague").select_option(label="Rui Lopes")  # a staff account
    await mine.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.locator("#status")).to_have_text("Assigned to Rui Lopes.")
    await expect(mine).to_contain_text("assigned to Rui Lopes")
    await mine.get_by_text("Handle").click()
    await mine.get_by_role("button", name="Assign to me").click()
    await expect(mine).to_contain_text("assigned to you")
    assert await serious_accessibility_violations(page) == []

    await mine.get_by_role("link", name=named.name).click()  # the other side: the same item, hers
    await expect(page.locator("#contact-name")).to_have_text(named.name)
    await expect(page.locator("#suggestion-list li", has_text="Decide a possible duplicate contact")).to_contain_text(
        "assigned to you"
    )
    await page.get_by_role("link", name="← Open work").click()
    await expect(pair.locator(".chip")).to_have_text("yours")
    await expect(page.locator("#open-suggestions li").first).to_contain_text("Decide a possible duplicate contact")
    await page.set_viewport_size({"width": 375, "height": 812})  # on a phone too
    assert await serious_accessibility_violations(page) == []
    await page.screenshot(path=ARTIFACTS / "phone-home-duplicate.png", full_page=True)
    await page.context.close()


async def test_search_by_phone_spelling_threads_across_channels_and_live_sms(
    browser: Browser, console_stack: Stack, customer: Customer
) -> None:
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    # Another spelling of the number than any channel used, typed and chosen with the keyboard only.
    await page.keyboard.type("00" + customer.e164.lstrip("+"))
    await expect(page.locator("#results button")).to_have_count(1)
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.locator("#contact-name")).to_have_text(customer.name)

    threads = page.locator("#timeline > li.thread")
    await expect(threads).to_have_count(4)  # the SMS and WhatsApp conversations, the chat session, the email
    badges = set(await page.locator("#timeline .thread-head .badge").all_inner_texts())
    assert {"SMS", "WhatsApp", "Chat", "Email"} <= badges
    await expect(page.locator(".thread-head", has_text="Fatura 2024-113")).to_be_visible()
    # One header per conversation: who it is with and whether it waits for us; the customer's bubble names her.
    sms_head = threads.filter(has_text="Olá, a minha encomenda não chegou").locator(".thread-head")
    await expect(sms_head).to_contain_text(f"With {customer.name}")  # the contact's name: Twilio gives an SMS none
    await expect(sms_head).to_contain_text("Waiting for our reply")
    first = threads.filter(has_text="Olá, a minha encomenda não chegou").locator(".entry").first
    await expect(first).to_have_class(re.compile(r"\binbound\b"))
    await expect(first.locator(".sender")).to_have_text(customer.name)
    sent = first.locator("time")
    assert await sent.inner_text() in ("just now", "1 minute ago") or "minutes ago" in await sent.inner_text()
    assert (await sent.get_attribute("title") or "").count(":") >= 2  # the exact time, to the second, on hover
    await page.screenshot(path=ARTIFACTS / "desktop-timeline.png", full_page=True)

    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, customer, "Já chegou, obrigada!")
    sms_thread = threads.filter(has_text="Olá, a minha encomenda não chegou")
    await expect(sms_thread.locator(".entry")).to_have_count(2, timeout=30_000)  # joined its conversation, live
    await expect(sms_thread.locator(".entry").last).to_contain_text("Já chegou, obrigada!")  # oldest to newest
    await expect(sms_head).to_contain_text("Closed by the customer")  # a closing thanks waits for nothing
    await expect(threads).to_have_count(4)

    await page.get_by_label("Search in timeline").fill("encomenda nao")  # accent-blind
    await expect(page.locator("#timeline .entry")).to_have_count(1)
    await expect(page.locator("#timeline .entry")).to_contain_text("não chegou")
    await page.context.close()


async def test_hostile_email_renders_without_running_script_and_images_load_on_request(
    browser: Browser, console_stack: Stack, customer: Customer, listener: Listener
) -> None:
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    await page.goto(f"{console_stack.url}/#contact={customer.contact_id}")
    frame_element = page.locator("iframe.email")
    await expect(frame_element).to_have_count(1)
    assert await frame_element.get_attribute("sandbox") == ""
    frame = page.frame_locator("iframe.email")
    await expect(frame.get_by_text("Segue a fatura em anexo.")).to_be_visible()
    anchor = frame.get_by_text("Abrir fatura")
    assert await anchor.get_attribute("href") is None  # the javascript: URL did not survive sanitizing
    await anchor.click()
    await page.wait_for_timeout(1500)  # time for any handler, script or image to fire
    assert listener.paths == []  # no script, no handler, no remote image, no nested frame, no link
    assert await page.evaluate("window.pwned") is None
    assert await page.title() == f"{customer.name} · Omnitrail console"  # the email did not reach the page
    await page.screenshot(path=ARTIFACTS / "email-images-blocked.png")

    await page.get_by_role("button", name="Load images").click()
    await expect(frame.get_by_text("Segue a fatura em anexo.")).to_be_visible()
    for _ in range(50):
        if listener.paths:
            break
        await page.wait_for_timeout(100)
    assert listener.paths == ["/pixel.gif"]  # the image the viewer asked for, and still nothing else
    assert await page.evaluate("window.pwned") is None
    await page.context.close()


async def test_phone_width_two_tap_note_no_horizontal_scroll_and_no_admin_actions_for_agents(
    browser: Browser, console_stack: Stack, customer: Customer
) -> None:
    page = await signed_in(
        browser, console_stack, "agent-token", viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )
    await page.goto(f"{console_stack.url}/#contact={customer.contact_id}")
    await expect(page.locator("#timeline > li.thread")).to_have_count(4)
    # The conversation starts on the first screen: details and filters collapsed, no admin actions for an agent.
    assert not await page.locator("#about").evaluate("d => d.open")
    assert not await page.locator("#filter-box").evaluate("d => d.open")
    await expect(page.get_by_text("Admin actions")).to_have_count(0)
    first_bubble = await page.locator("#timeline .entry").first.bounding_box()
    assert first_bubble is not None
    assert first_bubble["y"] + 40 < 812
    await page.get_by_role("button", name="+ Note").tap()  # tap one
    await page.keyboard.type("Visita à loja: troca feita")
    await page.get_by_role("button", name="Save note").tap()  # tap two
    note = page.locator("#timeline .entry.kind-note", has_text="Visita à loja: troca feita")
    await expect(note).to_have_count(1, timeout=30_000)  # through the pipeline, live
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.screenshot(path=ARTIFACTS / "phone-375.png", full_page=True)
    await page.context.close()

    admin = await signed_in(browser, console_stack, "admin-token", viewport={"width": 375, "height": 812})
    await admin.goto(f"{console_stack.url}/#contact={customer.contact_id}")
    await admin.get_by_text("Admin actions").click()
    await admin.get_by_role("button", name="Audit log").click()
    await expect(admin.locator("#audit-box li", has_text="note.add")).to_have_count(1)
    assert await admin.evaluate("document.documentElement.scrollWidth") <= 375
    await admin.screenshot(path=ARTIFACTS / "phone-admin-audit.png", full_page=True)
    await admin.context.close()


async def test_long_history_loads_older_pages_on_scroll(
    browser: Browser, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    person = a_customer()
    now = datetime.now(UTC)
    history = [
        sms_interaction(random.randint(10**8, 10**9), person.e164, text=f"Mensagem {n:02d}").model_copy(
            update={"occurred_at": now - timedelta(hours=n)}
        )
        for n in range(40)
    ]
    await produce(broker.bootstrap, history)
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        found = await contact_of(client, person.e164)
        cid = found["contact_id"]

        async def stored() -> bool:
            page = await client.get(f"/api/v1/contacts/{cid}/timeline", params={"limit": 100}, headers=AGENT)
            return len(page.json()["items"]) == 40

        await eventually(stored, what="forty messages stored")
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 800, "height": 700})
    await page.goto(f"{console_stack.url}/#contact={cid}")
    entries = page.locator("#timeline .entry")
    await expect(entries).to_have_count(30)  # the first page
    await expect(entries.first).to_contain_text("Mensagem 00")  # newest first
    await page.locator("#more").scroll_into_view_if_needed()
    await expect(entries).to_have_count(40)
    await expect(entries.last).to_contain_text("Mensagem 39")
    await expect(page.locator("#more")).to_have_text("Beginning of the history.")
    await page.context.close()


async def test_admin_merges_with_a_preview_unmerges_and_erases_with_confirmation(
    browser: Browser, console_stack: Stack
) -> None:
    ana, rui = a_customer(), a_customer()
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        await sms(client, console_stack, ana, "Olá, sou a Ana")
        await sms(client, console_stack, rui, "Olá, sou o Rui")
        ana_id = (await contact_of(client, ana.e164))["contact_id"]
        rui_id = (await contact_of(client, rui.e164))["contact_id"]

        async def resolves_to(contact: str) -> str:
            response = await client.get(f"/api/v1/contacts/{contact}", headers=AGENT)
            return str(response.json()["contact_id"]) if response.status_code == 200 else str(response.status_code)

        page = await signed_in(browser, console_stack, "admin-token", viewport={"width": 1280, "height": 900})
        await page.goto(f"{console_stack.url}/#contact={ana_id}")
        await expect(page.locator("#timeline .entry")).to_have_count(1)
        await page.locator("details.admin summary").click()
        await page.get_by_role("button", name="Merge…").click()
        await page.get_by_label("The other contact").fill(rui_id)
        await page.get_by_role("button", name="Preview").click()
        preview = page.locator("#merge-result")
        await expect(preview).to_contain_text(ana.e164)  # both people's identifiers, before anything changes
        await expect(preview).to_contain_text(rui.e164)
        assert await resolves_to(rui_id) == rui_id
        await page.get_by_role("button", name="Merge into this contact").click()
        await expect(page.locator("#admin-status")).to_have_text("Merged.")
        assert {await resolves_to(rui_id), await resolves_to(ana_id)} == {ana_id}
        await expect(page.locator("#timeline .entry")).to_have_count(2)  # one history now
        await page.screenshot(path=ARTIFACTS / "admin-merged.png", full_page=True)

        await page.get_by_role("button", name="Unmerge").click()
        await expect(page.locator("#admin-status")).to_have_text("Unmerged.")
        assert await resolves_to(rui_id) == rui_id
        await expect(page.locator("#timeline .entry")).to_have_count(1)  # Ana's own history again

        dialogs: list[str] = []

        async def answer(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            await (dialog.dismiss() if len(dialogs) == 1 else dialog.accept())

        page.on("dialog", answer)
        await page.get_by_role("button", name="Erase…").click()  # asked, and declined: nothing happens
        await page.wait_for_timeout(300)
        assert await resolves_to(ana_id) == ana_id
        await page.get_by_role("button", name="Erase…").click()  # asked again, confirmed
        await expect(page.locator("#admin-status")).to_have_text("Erased.")
        assert len(dialogs) == 2
        assert "cannot be undone" in dialogs[0]
        search = await client.get("/api/v1/contacts", params={"q": ana.e164}, headers=AGENT)
        assert search.json()["items"] == []  # nothing findable by her number any more
        await page.context.close()


async def test_a_reply_shows_its_new_text_expands_its_quote_and_lists_repairs(
    browser: Browser, console_stack: Stack, broker: EmbeddedBroker
) -> None:
    person = a_customer()
    (_, email) = chat_and_email(
        person, email_html="<p>Ainda não recebi.</p><blockquote>Antigo</blockquote>", email_subject="Re: Fatura"
    )
    reply = email.model_copy(
        update={
            "text": "Ainda não recebi.",
            "quoted_text": "Em seg., 2 de mar. de 2026 às 10:02, Suporte escreveu:\n> Já corrigimos a fatura.",
            "metadata": {"parse_warnings": ["header From: trailing dot removed from the domain"]},
        }
    )
    await produce(broker.bootstrap, [reply])
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:
        found = await contact_of(client, person.email)
    page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
    await page.goto(f"{console_stack.url}/#contact={found['contact_id']}")
    entry = page.locator("#timeline .entry")
    await expect(entry.locator("p.text")).to_have_text("Ainda não recebi.")
    quoted = entry.get_by_text("Já corrigimos a fatura.")
    await expect(quoted).to_be_hidden()
    await entry.get_by_text("Show quoted text").click()
    await expect(quoted).to_be_visible()
    await expect(entry.locator(".repairs")).to_have_text(
        "Repaired while reading: header From: trailing dot removed from the domain"
    )
    await page.context.close()


async def test_whatsapp_reactions_locations_cards_and_unsupported_content_are_shown(
    browser: Browser, console_stack: Stack
) -> None:
    person = a_customer()
    wa_id, message, live = person.e164[1:], f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    username = f"ana.{uuid.uuid4().hex[:8]}"
    place = {"latitude": 38.7223, "longitude": -9.1393, "name": "Loja Baixa", "address": "Rua Augusta 1, Lisboa"}
    card = {
        "name": {"formatted_name": "Rui Costa"},
        "phones": [{"phone": "+351 934 000 000"}],
        "org": {"company": "Costa Lda"},
    }
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=10) as client:

        async def meta(*messages: dict[str, Any]) -> None:
            payload = whatsapp_payload(
                whatsapp_value(
                    contacts=[wa_contact(wa_id, person.name, user_id=f"PT.{wa_id}", username=username)],
                    messages=list(messages),
                )
            )
            body, headers = meta_signed(payload)
            assert (await client.post("/webhooks/meta", content=body, headers=headers)).status_code == 200

        await meta(
            wa_message(message, wa_id, "text", text={"body": "A encomenda chegou"}, timestamp=1763888400),
            wa_message(f"wamid.{uuid.uuid4().hex}", wa_id, "location", location=place, timestamp=1763888410),
            wa_message(f"wamid.{uuid.uuid4().hex}", wa_id, "contacts", contacts=[card], timestamp=1763888420),
            wa_message(f"wamid.{uuid.uuid4().hex}", wa_id, "unsupported", timestamp=1763888430),
            wa_reaction(f"wamid.{uuid.uuid4().hex}", wa_id, message, "👍", timestamp=1763888440),
        )
        found = await contact_of(client, person.e164)

        async def settled() -> bool | None:
            items = (await client.get(f"/api/v1/contacts/{found['contact_id']}/timeline", headers=AGENT)).json()[
                "items"
            ]
            reacted = [i for i in items if (i["metadata"].get("reactions") or {}).get("customer")]
            return (len(items) == 4 and len(reacted) == 1) or None

        await eventually(settled, what="four entries, the reaction on its message")
        page = await signed_in(browser, console_stack, "agent-token", viewport={"width": 1280, "height": 900})
        await page.keyboard.type("@" + username)  # found by the username the customer shows
        await expect(page.locator("#results button")).to_have_count(1)
        await page.locator("#results button").click()
        await expect(page.locator("#identifiers")).to_contain_text(f"WhatsApp user {username}")
        await expect(page.locator("#identifiers")).to_contain_text(f"WhatsApp ID PT.{wa_id}")
        entries = page.locator("#timeline .entry")
        await expect(entries).to_have_count(4)  # the reaction is on its message, not an entry of its own
        text = entries.filter(has_text="A encomenda chegou")
        await expect(text.locator(".reactions")).to_have_text("👍")
        link = page.get_by_role("link", name="Loja Baixa, Rua Augusta 1, Lisboa")
        await expect(link).to_have_attribute(
            "href", "https://www.openstreetmap.org/?mlat=38.7223&mlon=-9.1393#map=17/38.7223/-9.1393"
        )
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(page.locator(".cards")).to_have_text("👤 Rui Costa · Costa Lda · +351 934 000 000")
        await expect(page.get_by_text("Content not supported by the provider")).to_be_visible()
        # Live: a new reaction replaces the customer's on the same entry; no new entry.
        await meta(wa_reaction(live, wa_id, message, "❤️", timestamp=1763888500))
        await expect(text.locator(".reactions")).to_have_text("❤️")
        await expect(entries).to_have_count(4)
        await page.screenshot(path=str(ARTIFACTS / "whatsapp-content.png"), full_page=True)
        await page.context.close()
