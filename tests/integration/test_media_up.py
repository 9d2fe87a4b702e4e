"""``omnitrail up`` runs the media stage and the console shows what it kept: an MMS sent the way Twilio
sends it (a photo, a voice note, an SVG with a script and no declared type) ends with its files kept,
on the timeline the API serves, published as ``interaction.updated``, and in the page as a thumbnail,
a player and a download; the SVG never runs, in Chromium. The GDPR export includes the files in a zip
on request, from the API and from ``omnitrail gdpr export --with-files``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from PIL import Image
from playwright.async_api import Browser, async_playwright, expect

from console.media_urls import MediaUrls
from console.session import COOKIE
from omnitrail import staff_commands
from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from tests import fresh
from tests.helpers import inbound_sms, resigned, signed
from tests.integration.console.test_browser import CHROMIUM_ARGS, signed_in
from tests.integration.console.test_sessions import sign_in
from tests.integration.stack import ADMIN, AGENT, Stack, StartStack, clean_env, eventually, read_topic, start_up
from tests.media_providers import FILES, Providers, running_providers

pytestmark = pytest.mark.integration
SID = "MM" + uuid.uuid4().hex
PHONE = "+351912777" + str(uuid.uuid4().int % 1000).zfill(3)


@pytest.fixture(scope="module")
async def providers() -> AsyncIterator[Providers]:
    async with running_providers() as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    private_broker: EmbeddedBroker, private_database_url: str, providers: Providers, start_stack: StartStack
) -> Stack:
    return start_stack(
        bootstrap=private_broker.bootstrap,
        database_url=private_database_url,
        OMNITRAIL_MEDIA_ENABLED="true",
        OMNITRAIL_MEDIA_ALLOWED_HOSTS="127.0.0.1,127.0.0.2",
        OMNITRAIL_MEDIA_ALLOW_HTTP="true",
    )


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, headers=AGENT, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
async def mms(stack: Stack, providers: Providers, api: httpx.AsyncClient) -> dict[str, Any]:
    """The MMS, sent once for the module; its timeline entry once all three attachments are recorded."""
    params = inbound_sms(
        SID,
        PHONE,
        "A caixa chegou partida",
        NumMedia="3",
        MediaUrl0=providers.twilio_url("photo", SID),
        MediaContentType0="image/jpeg",
        MediaUrl1=providers.twilio_url("voice", SID),
        MediaContentType1="audio/ogg",
        MediaUrl2=providers.twilio_url("disguised", SID),  # no declared type: kept, as bytes of no known type
    )
    body, headers = signed(f"{stack.url}/webhooks/twilio/messages", params)
    assert (await api.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200

    return await eventually(lambda: kept_on_timeline(api, PHONE), timeout=60, what="the three attachments recorded")


def kept_bytes(stack: Stack, sha256: str) -> bytes:
    return (stack.log_path.parent / ".omnitrail" / "media" / "sha256" / sha256[:2] / sha256).read_bytes()


def log_text(stack: Stack) -> str:
    return stack.log_path.read_text()


async def test_an_mms_is_fetched_kept_and_published(stack: Stack, mms: dict[str, Any], private_broker: Any) -> None:
    photo, voice, svg = (a["media"] for a in mms["attachments"])
    assert (photo["state"], photo["content_type"], photo["size"]) == ("stored", "image/png", len(FILES["photo"]))
    assert (voice["state"], voice["content_type"]) == ("stored", "audio/ogg")
    assert (svg["state"], svg["content_type"]) == ("stored", "application/octet-stream")
    assert kept_bytes(stack, photo["sha256"]) == FILES["photo"]  # in the folder store under OMNITRAIL_DATA_DIR

    async def published() -> list[dict[str, Any]]:
        events = [orjson.loads(v or b"") for _, v in await read_topic(private_broker.bootstrap, topics.TIMELINE)]
        return [e for e in events if e["type"] == "interaction.updated" and e["interaction"]["external_id"] == SID]

    events = await eventually(lambda: _at_least(published, 3), timeout=30, what="interaction.updated x3")
    assert {e["event_id"] for e in events} == {e["event_id"] for e in events[:3]}
    assert len(events) == 3
    assert "/Media/" not in log_text(stack)  # no media URL in the logs


async def _at_least(check: Any, n: int) -> Any:
    found = await check()
    return found if len(found) >= n else None


async def test_the_console_serves_a_thumbnail_inline_and_everything_else_as_a_sandboxed_download(
    api: httpx.AsyncClient, mms: dict[str, Any]
) -> None:
    base = f"/api/v1/interactions/{mms['interaction_id']}/attachments"
    photo = (await api.get(f"{base}/0")).json()
    voice = (await api.get(f"{base}/1")).json()
    svg = (await api.get(f"{base}/2")).json()
    assert (photo["kind"], voice["kind"], svg["kind"]) == ("image", "audio", "document")
    assert svg["thumbnail_url"] is None
    assert voice["thumbnail_url"] is None

    anonymous = httpx.AsyncClient(base_url=str(api.base_url), timeout=20)  # signed URLs need no token
    async with anonymous:
        thumb = await anonymous.get(photo["thumbnail_url"])
        assert thumb.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(thumb.content)).size == (64, 48)  # re-encoded by Pillow, never larger
        original = await anonymous.get(photo["url"])
        assert original.content == FILES["photo"]
        assert original.headers["content-disposition"].startswith("inline")
        for served in (await anonymous.get(svg["url"]), await anonymous.get(voice["url"])):
            assert served.headers["content-disposition"].startswith("attachment")
            assert served.headers["x-content-type-options"] == "nosniff"
            assert served.headers["content-security-policy"].startswith("sandbox")
        assert (await anonymous.get(svg["url"])).headers["content-type"] == "application/octet-stream"
        forged = svg["url"][:-4] + ("0000" if not svg["url"].endswith("0000") else "1111")
        assert (await anonymous.get(forged)).status_code == 403
        assert (await anonymous.get(f"{base}/0")).status_code == 401  # the API itself still wants a token
    assert (await api.get(f"{base}/3")).status_code == 404


async def test_a_url_one_console_process_issued_is_served_by_every_other_and_after_a_restart(
    stack: Stack,
    api: httpx.AsyncClient,
    mms: dict[str, Any],
    private_broker: EmbeddedBroker,
    private_database_url: str,
    tmp_path: Path,
) -> None:
    """Staff-only console processes (no API token) of the deployment, beside ``up`` (with tokens): every one
    signs media URLs with the deployment's secret, none with a key of its own or one derived from the tokens."""
    email, password = f"rui.{uuid.uuid4().hex[:8]}@acme.example", "s3cret-pass"
    await staff_commands.add(private_database_url, email=email, name="Rui", role="agent", password=password)
    processes: list[Stack] = []

    def console(name: str) -> Stack:
        (tmp_path / name).mkdir()
        processes.append(
            start_up(
                tmp_path / name,
                command="console",
                bootstrap=private_broker.bootstrap,
                database_url=private_database_url,
                OMNITRAIL_API_TOKENS="",  # staff only: the old key was this process's own random one
                OMNITRAIL_DATA_DIR=str(stack.log_path.parent / ".omnitrail"),  # the files up's media stage kept
            )
        )
        return processes[-1]

    attachment = f"/api/v1/interactions/{mms['interaction_id']}/attachments/0"
    try:
        one, two = console("one"), console("two")
        cookie, _ = await sign_in(one.url, email=email, password=password)
        async with httpx.AsyncClient(base_url=one.url, cookies={COOKIE: cookie}, timeout=20) as staff:
            url = (await staff.get(attachment)).json()["url"]
        async with httpx.AsyncClient(timeout=20) as anonymous:
            assert (await anonymous.get(two.url + url)).content == FILES["photo"]  # another console process
            assert (await anonymous.get(stack.url + url)).content == FILES["photo"]  # one with API tokens too
            one.stop()
            assert (await anonymous.get(console("one again").url + url)).content == FILES["photo"]  # a restart

            async with await psycopg.AsyncConnection.connect(private_database_url) as conn:
                row = await (await conn.execute("SELECT secret FROM console_session_secret")).fetchone()
            assert row is not None
            secret, token = bytes(row[0]), url.removeprefix("/media/")
            photo = mms["attachments"][0]["media"]
            signer = MediaUrls(secret, ttl_s=300)  # the stored secret is the one every process signs with
            assert (
                await anonymous.get(two.url + signer.url(photo["sha256"], "original", "image/png", "x.png"))
            ).content == FILES["photo"]
            expired = signer.url(photo["sha256"], "original", "image/png", "x.png", now=1e9)
            assert (await anonymous.get(two.url + expired)).status_code == 403
            refused = [
                # the old derivation, from up's API tokens (up accepted it): a token holder could forge URLs
                hmac.new(b"omnitrail-media-url-v1", b"admin-token\nagent-token", hashlib.sha256).digest(),
                hmac.new(b"omnitrail-console-session-v2", secret, hashlib.sha256).digest(),  # the cookies' key
                secret,
            ]
            for key in refused:
                assert (await anonymous.get(f"{stack.url}/media/{resigned(token, key)}")).status_code == 403
            tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
            assert (await anonymous.get(two.url + tampered)).status_code == 403
            fresh = (await api.get(attachment)).json()["url"]  # issued by up, served by a staff-only process
            assert (await anonymous.get(two.url + fresh)).content == FILES["photo"]
    finally:
        for running in processes:
            running.stop()


def _files(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: archive.read(name) for name in archive.namelist() if name != "export.json"}


async def test_the_export_with_files_is_a_zip_of_the_export_and_each_kept_file(
    stack: Stack,
    api: httpx.AsyncClient,
    mms: dict[str, Any],
    private_broker: Any,
    private_database_url: str,
    tmp_path: Path,
) -> None:
    contact = (await api.get("/api/v1/contacts", params={"q": PHONE})).json()["items"][0]["contact_id"]
    url = f"/api/v1/contacts/{contact}/export"
    assert (await api.get(url, params={"include": "files"})).status_code == 403  # admin only, like the export
    zipped = await api.get(url, params={"include": "files"}, headers=ADMIN)
    plain = (await api.get(url, headers=ADMIN)).json()
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"
    assert zipped.headers["content-disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    document = json.loads(archive.read("export.json"))
    for section in set(plain) - {"exported_at", "audit"}:
        assert document[section] == plain[section], section
    assert plain["audit"][: len(document["audit"])] == document["audit"]  # the plain export audited after it
    assert document["audit"][-1]["action"] == "contact.export"  # audited like the export

    kept = {a["media"]["sha256"]: a["media"]["content_type"] for a in mms["attachments"]}
    files = _files(archive)
    assert {hashlib.sha256(content).hexdigest() for content in files.values()} == set(kept)
    assert {name.split("/")[1].split(".")[0] for name in files} == set(kept)
    photo = hashlib.sha256(FILES["photo"]).hexdigest()
    assert files[f"files/{photo}.png"] == FILES["photo"]

    # The operators' command writes the same zip, reading the files from the stack's folder store.
    target = tmp_path / "export.zip"
    env = clean_env(
        OMNITRAIL_DATABASE_URL=private_database_url,
        OMNITRAIL_KAFKA_BOOTSTRAP=private_broker.bootstrap,
        OMNITRAIL_DATA_DIR=str(stack.log_path.parent / ".omnitrail"),
    )
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omnitrail", "gdpr", "export", contact, "--with-files", str(target), env=env
    )
    assert await cli.wait() == 0
    with zipfile.ZipFile(target) as from_cli:
        assert _files(from_cli) == files
        assert json.loads(from_cli.read("export.json"))["interactions"] == plain["interactions"]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_chromium_shows_the_photo_and_player_and_never_runs_the_svg(
    browser: Browser, stack: Stack, api: httpx.AsyncClient, mms: dict[str, Any]
) -> None:
    page = await signed_in(browser, stack, "agent-token", accept_downloads=True)
    contact = (await api.get("/api/v1/contacts", params={"q": PHONE})).json()["items"][0]["contact_id"]
    await page.goto(f"{stack.url}/#contact={contact}")
    thumbnail = page.locator("#timeline img.thumbnail")
    await expect(thumbnail).to_have_count(1)
    await expect(thumbnail).to_be_visible()
    assert await thumbnail.evaluate("img => img.complete && img.naturalWidth") == 64
    await expect(page.locator("#timeline audio")).to_have_count(1)
    await expect(page.locator("#timeline a.download")).to_have_count(3)

    # The SVG's own URL, framed in the page and as an image: it downloads or shows nothing, and never runs.
    svg = (await api.get(f"/api/v1/interactions/{mms['interaction_id']}/attachments/2")).json()["url"]
    title = await page.title()
    await page.evaluate(
        """url => {
            const f = document.createElement('iframe'); f.src = url; document.body.append(f);
            const i = document.createElement('img'); i.id = 'svg-as-image'; i.src = url; document.body.append(i);
        }""",
        svg,
    )
    await page.wait_for_timeout(1500)
    assert await page.evaluate("window.pwned") is None
    assert await page.title() == title  # the SVG's script would have set "pwned"
    assert await page.locator("#svg-as-image").evaluate("img => img.naturalWidth") == 0
    await page.context.close()


async def test_an_erased_persons_files_leave_the_store_and_links_already_issued_stop_serving(
    stack: Stack, api: httpx.AsyncClient, providers: Providers
) -> None:
    phone, sid = fresh.phone(), "MM" + uuid.uuid4().hex
    params = inbound_sms(
        sid, phone, "Segue a foto", NumMedia="1", MediaUrl0=providers.twilio_url("erasable-photo", sid)
    )
    body, headers = signed(f"{stack.url}/webhooks/twilio/messages", params)
    assert (await api.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200
    kept = await eventually(lambda: kept_on_timeline(api, phone), timeout=60, what="the photo recorded")
    [attachment] = kept["attachments"]
    sha256 = attachment["media"]["sha256"]
    url = (await api.get(f"/api/v1/interactions/{kept['interaction_id']}/attachments/0")).json()["url"]
    anonymous = httpx.AsyncClient(base_url=str(api.base_url), timeout=20)
    async with anonymous:
        assert (await anonymous.get(url)).content == FILES["erasable-photo"]  # a link staff already hold
        contact = (await api.get("/api/v1/contacts", params={"q": phone})).json()["items"][0]["contact_id"]
        assert (await api.delete(f"/api/v1/contacts/{contact}", headers=ADMIN)).status_code == 200
        # Before: served until the media stage's next sweep, and by no process at all with the stage off.
        assert (await anonymous.get(url)).status_code == 404
        assert (await anonymous.head(url)).status_code == 404
    with pytest.raises(FileNotFoundError):
        kept_bytes(stack, sha256)  # gone from the store when the erasure answered, not at some later sweep


async def test_an_image_of_too_many_pixels_has_no_thumbnail_and_still_downloads(
    stack: Stack, api: httpx.AsyncClient, providers: Providers
) -> None:
    """A customer's tiny file of many pixels (a decompression bomb) is never decoded by the console."""
    phone, sid = fresh.phone(), "MM" + uuid.uuid4().hex
    params = inbound_sms(sid, phone, "Olhe isto", NumMedia="1", MediaUrl0=providers.twilio_url("huge", sid))
    body, headers = signed(f"{stack.url}/webhooks/twilio/messages", params)
    assert (await api.post("/webhooks/twilio/messages", content=body, headers=headers)).status_code == 200
    kept = await eventually(lambda: kept_on_timeline(api, phone), timeout=60, what="the image recorded")
    shown = (await api.get(f"/api/v1/interactions/{kept['interaction_id']}/attachments/0")).json()
    assert (shown["kind"], shown["content_type"]) == ("image", "image/png")
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=20) as anonymous:
        for _ in range(2):  # and the refusal is remembered: asked again, it answers the same
            refused = await anonymous.get(shown["thumbnail_url"])
            assert (refused.status_code, refused.json()["detail"]) == (404, "no thumbnail for this file")
        original = await anonymous.get(shown["url"])
        assert (original.status_code, original.content) == (200, FILES["huge"])


async def kept_on_timeline(api: httpx.AsyncClient, phone: str) -> dict[str, Any] | None:
    """The customer's newest timeline entry once every attachment of it is recorded (kept or not), else None."""
    found = (await api.get("/api/v1/contacts", params={"q": phone})).json()["items"]
    if not found:
        return None
    items = (await api.get(f"/api/v1/contacts/{found[0]['contact_id']}/timeline")).json()["items"]
    if items and all(a.get("media") for a in items[0]["attachments"]):
        return dict(items[0])
    return None
