"""The media stage against PostgreSQL and the providers' media endpoints on loopback: each channel's
credentials, redirects, the allow-list, the cap, lying types, expiries, retries; fetched once."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest
from prometheus_client import generate_latest
from psycopg_pool import AsyncConnectionPool

from connectors.email.inspect import Inspector
from connectors.email.session import Fetched
from connectors.testing import InMemoryEmitter
from omnitrail import deadletters
from omnitrail import media as media_process
from omnitrail.local_stack import free_port
from pipeline.media.fetch import AllowList, Fetcher
from pipeline.media.sources import Credentials, TelegramBot
from pipeline.media.stage import MediaStage, Policy
from pipeline.stages.timeline import build_events
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.interaction import Attachment, Channel, Interaction, Provider
from schemas.timeline import TimelineEvent
from sinks import contact_export, contact_store, erasure, export_archive, interaction_store, retention
from sinks.kafka.records import RawRecord, Record
from sinks.kafka.settings import KafkaSettings
from sinks.media import deletions
from sinks.media.settings import MediaSettings
from sinks.media.store import MediaStore
from tests.integration.stack import read_topic
from tests.interactions import interaction
from tests.media_providers import BOT_ID, BOT_TOKEN, FILES, GRAPH_TOKEN, TWILIO_TOKEN, Providers, running_providers
from tests.metrics_text import value

pytestmark = pytest.mark.integration
CAP = 3 * 1024 * 1024


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    async with running_providers() as running:
        yield running


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, kwargs={"autocommit": True}) as opened:
        yield opened


@dataclass
class Published:
    records: list[Record] = field(default_factory=list)

    async def publish(self, records: Any) -> None:
        self.records.extend(records)

    def updates(self, interaction_id: uuid.UUID) -> list[TimelineEvent]:
        events = [TimelineEvent.model_validate_json(v or b"") for t, _, v in self.records if t == topics.TIMELINE]
        return [e for e in events if e.interaction and e.interaction.interaction_id == interaction_id]

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v or b"") for t, _, v in self.records if t == topics.DEADLETTER]


def credentials(providers: Providers, *, twilio_token: str = TWILIO_TOKEN) -> Credentials:
    return Credentials(
        twilio_auth_token=twilio_token,
        graph_api_url=f"{providers.api}/v21.0",
        meta_access_token=GRAPH_TOKEN,
        telegram={BOT_ID: TelegramBot(BOT_TOKEN, f"{providers.api}/bot")},
    )


def s3_store(endpoint: str) -> MediaStore:
    """A fresh bucket on the S3 API server, through the store's own configuration path."""
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket=bucket)
    settings = MediaSettings(
        store="s3", s3_bucket=bucket, s3_endpoint=endpoint, s3_access_key_id="k", s3_secret_access_key="s"
    )
    return MediaStore.configured(settings, Path("unused"))


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "folder":
        return MediaStore.folder(tmp_path / "media")
    return s3_store(request.getfixturevalue("s3_server"))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as opened:
        yield opened


def stage(
    client: httpx.AsyncClient, pool: Any, published: Published, store: MediaStore, creds: Credentials, tmp_path: Path
) -> MediaStage:
    allowed = AllowList(("127.0.0.1", "127.0.0.2"), allow_http=True)
    fetcher = Fetcher(client, allowed, max_bytes=CAP, spool_dir=tmp_path / "spool")
    return MediaStage(pool, published.publish, store, fetcher, creds, Policy(attempts=3, retry_first_s=0.01))


def message(channel: Channel, provider: Provider, attachments: list[Attachment]) -> Interaction:
    return interaction(channel, "+351912000111", provider=provider, text="Veja a foto", attachments=attachments)


async def land(pool: Any, interaction: Interaction) -> RawRecord:
    """Store it as the worker does and return its ``interaction.added`` as the media stage fetches it."""
    contact = uuid.uuid4()
    document = interaction.model_dump_json()
    async with pool.connection() as conn, conn.transaction():
        await contact_store.create_contacts(conn, [(contact, None)])
        await interaction_store.insert(conn, [(contact, interaction, document)])
    event = build_events(added=[(contact, (interaction, document))], updated=[], created=[], snapshots=[])[0]
    return RawRecord(event.value, topics.TIMELINE, 0, 0, event.key)


async def stored(pool: Any, interaction_id: uuid.UUID) -> Interaction:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT document FROM interactions WHERE interaction_id = %s", (interaction_id,))
        row = await cur.fetchone()
    return Interaction.model_validate(row[0])


async def content(store: MediaStore, sha256: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256)])


def metric(name: str, **labels: str) -> float:
    """A metric of this process as ``omnitrail media`` serves it on its metrics port (the default registry)."""
    return value(generate_latest().decode(), name, **labels)


async def test_each_channel_is_fetched_with_its_credentials_kept_and_published(
    client: httpx.AsyncClient, pool: Any, providers: Providers, store: MediaStore, tmp_path: Path
) -> None:
    published = Published()
    media = stage(client, pool, published, store, credentials(providers), tmp_path)
    twilio = message(
        Channel.mms, Provider.twilio, [Attachment(content_type="image/jpeg", location=providers.twilio_url("photo"))]
    )
    whatsapp = message(
        Channel.whatsapp, Provider.meta, [Attachment(content_type="audio/ogg", location="whatsapp-media:1234567890")]
    )
    telegram = message(
        Channel.telegram,
        Provider.telegram,
        [Attachment(name="invoice.pdf", content_type="application/pdf", location=f"telegram:{BOT_ID}:document")],
    )
    messenger = message(Channel.messenger, Provider.meta, [Attachment(location=providers.cdn_url("photo"))])
    records = [await land(pool, i) for i in (twilio, whatsapp, telegram, messenger)]
    channels = {"mms": "photo", "whatsapp": "voice", "telegram": "document", "messenger": "photo"}
    fetched = {c: metric("omnitrail_media_kept_total", channel=c, source="fetched") for c in channels}
    stored_bytes = {c: metric("omnitrail_media_stored_bytes_total", channel=c, source="fetched") for c in channels}

    await media.handle_records(records)

    expected = {
        twilio.interaction_id: ("photo", "image/png"),
        whatsapp.interaction_id: ("voice", "audio/ogg"),
        telegram.interaction_id: ("document", "application/pdf"),
        messenger.interaction_id: ("photo", "image/png"),
    }
    for interaction_id, (name, sniffed) in expected.items():
        kept = (await stored(pool, interaction_id)).attachments[0].media
        assert kept is not None
        assert (kept.state, kept.content_type, kept.size) == ("stored", sniffed, len(FILES[name]))
        assert kept.sha256 == hashlib.sha256(FILES[name]).hexdigest()
        assert await content(store, kept.sha256) == FILES[name]
        [update] = published.updates(interaction_id)
        assert update.type == "interaction.updated"
        assert update.interaction is not None
        assert update.interaction.attachments[0].media == kept
    assert providers.leaked == 0  # Twilio's credentials did not follow its redirect to the CDN
    assert published.dead_letters() == []
    for channel, name in channels.items():
        assert metric("omnitrail_media_kept_total", channel=channel, source="fetched") == fetched[channel] + 1
        assert metric("omnitrail_media_stored_bytes_total", channel=channel, source="fetched") == stored_bytes[
            channel
        ] + len(FILES[name])
    assert "127.0.0" not in generate_latest().decode()  # no URL in a label

    # Redelivered (a restart before the commit): nothing is fetched or published again.
    hits, count = sum(providers.hits.values()), len(published.records)
    await media.handle_records(records)
    assert (sum(providers.hits.values()), len(published.records)) == (hits, count)


async def test_bad_media_is_recorded_with_its_reason_and_dead_lettered_never_lost(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    providers.big_bytes = CAP + 2 * 1024 * 1024
    store = MediaStore.folder(tmp_path / "media")
    published = Published()
    media = stage(client, pool, published, store, credentials(providers), tmp_path)
    cases = {
        "not found": Attachment(location=providers.twilio_url("gone")),
        "expired": Attachment(location=providers.cdn_url("photo", expires_in=-60)),
        "over the cap": Attachment(location=providers.cdn_url("big")),
        "lies": Attachment(content_type="image/jpeg", location=providers.cdn_url("disguised")),
        "elsewhere": Attachment(location=providers.twilio_url("elsewhere")),
        "arbitrary": Attachment(location="http://127.0.0.9/secret"),
        "flaky": Attachment(location=providers.twilio_url("flaky")),
    }
    twilio = message(Channel.mms, Provider.twilio, [cases["not found"], cases["elsewhere"], cases["flaky"]])
    meta = message(
        Channel.messenger, Provider.meta, [cases[k] for k in ("expired", "over the cap", "lies", "arbitrary")]
    )
    records = [await land(pool, twilio), await land(pool, meta)]
    causes = [("mms", "refused"), ("messenger", "refused"), ("messenger", "type_mismatch"), ("mms", "unavailable")]
    failed = {k: metric("omnitrail_media_failed_total", channel=k[0], reason=k[1]) for k in causes}

    await media.handle_records(records)  # returns: nothing here may stop the stage

    got = (await stored(pool, twilio.interaction_id)).attachments + (
        await stored(pool, meta.interaction_id)
    ).attachments
    reasons = [(a.media.state, a.media.reason) for a in got if a.media]
    assert len(reasons) == 7
    assert reasons[0] == ("failed", "provider answered HTTP 404 (not found: deleted or the link expired)")
    assert reasons[1] == ("failed", "not fetched: the host is not an allowed media host")
    assert reasons[2][0] == "stored"  # 503 twice, then kept on the third try
    assert reasons[3] == ("failed", "provider answered HTTP 403 (forbidden: credentials refused or the link expired)")
    assert reasons[4] == ("failed", f"over the size cap of {CAP} bytes")
    assert reasons[5] == (
        "failed",
        "the content is not the type claimed: claimed image/jpeg, the bytes are application/octet-stream",
    )
    assert reasons[6] == ("failed", "not fetched: the host is not an allowed media host")
    letters = published.dead_letters()
    assert len(letters) == 6
    assert {letter.source for letter in letters} == {"media.fetch"}
    assert all(letter.raw == records[0].value or letter.raw == records[1].value for letter in letters)
    assert all("127.0.0" not in letter.reason and "token" not in letter.reason for letter in letters)
    assert not any((tmp_path / "spool").iterdir())  # nothing half-fetched left behind
    counted = {k: metric("omnitrail_media_failed_total", channel=k[0], reason=k[1]) - failed[k] for k in causes}
    assert counted == {k: n for k, n in zip(causes, (2, 3, 1, 0), strict=True)}


async def test_a_provider_down_through_every_try_is_recorded_unavailable(
    pool: Any, providers: Providers, tmp_path: Path
) -> None:
    """503 on every try, or nothing listening: tried ``attempts`` times, then recorded, counted, dead-lettered."""
    settings = MediaSettings(attempts=3, retry_first_s=0.01, timeout_s=5, allowed_hosts="127.0.0.2", allow_http=True)
    published = Published()
    fetch = media_process.fetcher(settings, tmp_path / "spool")
    media = MediaStage(
        pool,
        published.publish,
        MediaStore.folder(tmp_path / "media"),
        fetch,
        credentials(providers),
        media_process.policy(settings),
    )
    closed = f"http://127.0.0.2:{free_port()}/cdn/photo"  # a port nothing listens on: refused
    down = message(
        Channel.messenger, Provider.meta, [Attachment(location=providers.cdn_url("down")), Attachment(location=closed)]
    )
    record = await land(pool, down)
    unavailable = metric("omnitrail_media_failed_total", channel="messenger", reason="unavailable")
    try:
        await media.handle_records([record])
    finally:
        await fetch.client.aclose()

    busy, unreachable = (
        (a.media.state, a.media.reason) for a in (await stored(pool, down.interaction_id)).attachments if a.media
    )
    assert busy == ("failed", "provider answered HTTP 503 (3 tries)")
    assert unreachable == ("failed", "provider unreachable: ConnectError (3 tries)")
    assert providers.hits["/cdn/down"] == 3
    assert metric("omnitrail_media_failed_total", channel="messenger", reason="unavailable") == unavailable + 2
    assert [(letter.reason, letter.raw) for letter in published.dead_letters()] == [
        ("attachment 0: provider answered HTTP 503 (3 tries)", record.value),
        ("attachment 1: provider unreachable: ConnectError (3 tries)", record.value),
    ]


async def test_wrong_credentials_are_a_recorded_401(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    published = Published()
    media = stage(
        client, pool, published, MediaStore.folder(tmp_path / "m"), credentials(providers, twilio_token="old"), tmp_path
    )
    twilio = message(Channel.sms, Provider.twilio, [Attachment(location=providers.twilio_url("photo"))])
    await media.handle_records([await land(pool, twilio)])
    kept = (await stored(pool, twilio.interaction_id)).attachments[0].media
    assert kept is not None
    assert (kept.state, kept.reason) == ("failed", "provider answered HTTP 401 (credentials refused)")
    assert [orjson.loads(letter.raw)["type"] for letter in published.dead_letters()] == ["interaction.added"]


async def test_a_large_file_goes_up_to_s3_in_parts_and_comes_back_whole(s3_server: str, tmp_path: Path) -> None:
    store = s3_store(s3_server)
    data = bytes(range(256)) * (48 * 1024)  # 12 MiB: more than one 5 MiB part
    path = tmp_path / "big"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert not await store.has(digest)
    await store.put(digest, path)
    await store.put(digest, path)  # content-addressed: already there, nothing sent again
    assert (await store.has(digest), await store.size(digest)) == (True, len(data))
    assert hashlib.sha256(await content(store, digest)).hexdigest() == digest
    await store.delete([digest, "0" * 64])
    assert not await store.has(digest)
    with pytest.raises(FileNotFoundError):
        await content(store, digest)


async def sender_of(pool: Any, interaction: Interaction) -> uuid.UUID:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT contact_id FROM interactions WHERE interaction_id = %s", (interaction.interaction_id,)
        )
        return uuid.UUID(str((await cur.fetchone())[0]))


async def erase_whoever_sent(pool: Any, interaction: Interaction) -> None:
    contact = await sender_of(pool, interaction)
    async with pool.connection() as conn:
        await erasure.erase(conn, contact, erasure.IdentifierHasher(b"k" * 32), requested_by="test")


async def test_erasure_and_retention_delete_the_files_nobody_else_references(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    store = MediaStore.folder(tmp_path / "media")
    media = stage(client, pool, Published(), store, credentials(providers), tmp_path)
    # Files no other test keeps (the database is the session's: a file other tests reference stays).
    photo = hashlib.sha256(FILES["erasable-photo"]).hexdigest()
    voice = hashlib.sha256(FILES["erasable-note"]).hexdigest()
    hers = message(Channel.mms, Provider.twilio, [Attachment(location=providers.twilio_url("erasable-photo"))])
    # Someone else sent the same photo: the one file serves both, and outlives her erasure.
    theirs = message(Channel.messenger, Provider.meta, [Attachment(location=providers.cdn_url("erasable-photo"))])
    old = message(Channel.telegram, Provider.telegram, [Attachment(location=f"telegram:{BOT_ID}:erasable-note")])
    records = [await land(pool, i) for i in (hers, theirs, old)]
    await media.handle_records(records)
    assert (await store.has(photo), await store.has(voice)) == (True, True)

    await erase_whoever_sent(pool, hers)
    await deletions.sweep(pool.connection, store)
    assert await store.has(photo)  # still someone else's

    await erase_whoever_sent(pool, theirs)
    swept = metric("omnitrail_media_swept_files_total")
    assert await media.sweep() == 1
    assert not await store.has(photo)  # nobody's any more
    assert metric("omnitrail_media_swept_files_total") == swept + 1

    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE interactions SET occurred_at = %s WHERE interaction_id = %s",
            (datetime(2020, 1, 1, tzinfo=UTC), old.interaction_id),
        )
        await retention.purge(conn, {"telegram": timedelta(days=365)}, now=datetime.now(UTC))
    assert await deletions.sweep(pool.connection, store) == 1
    assert not await store.has(voice)


async def test_the_export_zip_holds_the_files_of_her_interactions_and_nobody_elses(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    store = MediaStore.folder(tmp_path / "media")
    media = stage(client, pool, Published(), store, credentials(providers), tmp_path)
    photo, voice = (hashlib.sha256(FILES[name]).hexdigest() for name in ("photo", "voice"))
    hers = message(Channel.mms, Provider.twilio, [Attachment(location=providers.twilio_url("photo"))])
    # Someone else sent the same photo (one file serves both) and a voice note of their own.
    theirs = message(
        Channel.mms,
        Provider.twilio,
        [Attachment(location=providers.twilio_url("photo")), Attachment(location=providers.twilio_url("voice"))],
    )
    await media.handle_records([await land(pool, i) for i in (hers, theirs)])

    async def zipped(interaction: Interaction) -> zipfile.ZipFile:
        async with pool.connection() as conn:
            document = await contact_export.export(conn, await sender_of(pool, interaction))
        assert document is not None
        out = io.BytesIO()
        await export_archive.write(document, store, out)
        archive = zipfile.ZipFile(out)
        assert json.loads(archive.read("export.json")) == document
        return archive

    mine = await zipped(hers)
    assert mine.namelist() == ["export.json", f"files/{photo}.png"]
    assert mine.read(f"files/{photo}.png") == FILES["photo"]
    other = await zipped(theirs)
    files = {name: other.read(name) for name in other.namelist()[1:]}
    assert {hashlib.sha256(content).hexdigest() for content in files.values()} == {photo, voice}


def mail_with_attachments() -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Silva <ana.media@example.pt>"
    message["To"] = "support@inspect.invalid"
    message["Subject"] = "Fatura e foto"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.pt>"
    message.set_content("Seguem a fatura e a foto.")
    message.add_attachment(FILES["document"], maintype="application", subtype="pdf", filename="fatura.pdf")
    message.add_attachment(FILES["disguised"], maintype="image", subtype="png", filename="foto.png")
    return message.as_bytes()


async def test_email_attachments_are_kept_by_the_connector_and_recorded_by_the_stage(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    store = MediaStore.folder(tmp_path / "media")
    inspector = Inspector()
    inspector.connector.keep_attachments(store.put_bytes)
    emitted = InMemoryEmitter()
    await inspector.connector.ingest(inspector.account, [Fetched(1, mail_with_attachments(), None)], emitted)
    [mail] = emitted.interactions
    assert all(a.location is None and a.media is None for a in mail.attachments)  # bytes never on Kafka
    published = Published()

    def counted() -> dict[str, float]:
        return {
            "kept carried": metric("omnitrail_media_kept_total", channel="email", source="carried"),
            "bytes carried": metric("omnitrail_media_stored_bytes_total", channel="email", source="carried"),
            "kept fetched": metric("omnitrail_media_kept_total", channel="email", source="fetched"),
            "type_mismatch": metric("omnitrail_media_failed_total", channel="email", reason="type_mismatch"),
        }

    before = counted()
    await stage(client, pool, published, store, credentials(providers), tmp_path).handle_records(
        [await land(pool, mail)]
    )

    pdf, disguised = (await stored(pool, mail.interaction_id)).attachments
    assert pdf.media is not None
    assert (pdf.media.state, pdf.media.content_type, pdf.media.size) == (
        "stored",
        "application/pdf",
        len(FILES["document"]),
    )
    assert await content(store, pdf.media.sha256 or "") == FILES["document"]
    assert disguised.media is not None
    assert (disguised.media.state, disguised.media.reason) == (
        "failed",
        "the content is not the type claimed: claimed image/png, the bytes are application/octet-stream",
    )
    assert sum(providers.hits.values()) == 0  # nothing fetched: the bytes came with the mail
    # Counted as what happened: the PDF kept (carried, not fetched) beside the lie that failed.
    assert {k: n - before[k] for k, n in counted().items()} == {
        "kept carried": 1,
        "bytes carried": len(FILES["document"]),
        "kept fetched": 0,
        "type_mismatch": 1,
    }


async def test_an_interaction_the_stage_cannot_read_is_dead_lettered_and_the_batch_goes_on(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path
) -> None:
    published = Published()
    media = stage(client, pool, published, MediaStore.folder(tmp_path / "m"), credentials(providers), tmp_path)
    broken = message(Channel.mms, Provider.twilio, [Attachment(location=providers.twilio_url("photo"))])
    fine = message(Channel.mms, Provider.twilio, [Attachment(location=providers.twilio_url("photo"))])
    records = [await land(pool, broken), await land(pool, fine)]
    async with pool.connection() as conn:  # a row no model reads any more (a hand edit, a bad migration)
        await conn.execute(
            "UPDATE interactions SET document = jsonb_set(document, '{attachments,0,size}', '-1')"
            " WHERE interaction_id = %s",
            (broken.interaction_id,),
        )
    await media.handle_records(records)  # returns: the consumer commits, no crash loop
    [letter] = published.dead_letters()
    assert (letter.reason, letter.raw) == ("media stage error: ValidationError", records[0].value)
    kept = (await stored(pool, fine.interaction_id)).attachments[0].media
    assert kept is not None
    assert kept.state == "stored"


async def test_a_replayed_media_dead_letter_is_tried_again_after_the_fix(
    client: httpx.AsyncClient, pool: Any, providers: Providers, tmp_path: Path, broker: Any, database_url: str
) -> None:
    store = MediaStore.folder(tmp_path / "m")
    published = Published()
    expired_token = stage(client, pool, published, store, credentials(providers, twilio_token="old"), tmp_path)
    twilio = message(Channel.sms, Provider.twilio, [Attachment(location=providers.twilio_url("photo"))])
    record = await land(pool, twilio)
    await expired_token.handle_records([record])
    [letter] = published.dead_letters()

    report, problems = await deadletters.replay(
        KafkaSettings(idempotence=False),
        broker.bootstrap,
        database_url,
        [deadletters.Letter(0, 0, letter)],
        [],
        dry_run=False,
    )
    assert (report.produced, problems) == (1, [])
    assert (await stored(pool, twilio.interaction_id)).attachments[0].media is None  # to be tried again
    produced = [v for _, v in await read_topic(broker.bootstrap, topics.TIMELINE)]
    assert record.value in produced

    # The operator fixed the token; the stage takes the replayed event and keeps the photo.
    fixed = stage(client, pool, Published(), store, credentials(providers), tmp_path)
    await fixed.handle_records([record])
    kept = (await stored(pool, twilio.interaction_id)).attachments[0].media
    assert kept is not None
    assert kept.state == "stored"
