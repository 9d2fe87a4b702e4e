"""The ``omnitrail`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import psycopg
import uvicorn

from omnitrail import event_loop, logs, memory_tuning, registry
from omnitrail.deadletters import Filter
from omnitrail.http import Roles, build_app
from omnitrail.http_server import server_config
from omnitrail.runtime import Addresses, resolve
from omnitrail.settings import AppSettings
from schemas.config import load, reject_unknown_env
from schemas.errors import FatalError, RetriableError
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.media.settings import MediaSettings
from sinks.media.store import MediaStore

if TYPE_CHECKING:
    from omnitrail.imports.interaction_import import ImportSummary


def _settings() -> tuple[AppSettings, KafkaSettings]:
    reject_unknown_env(list(registry.SETTINGS_CLASSES))
    app_settings = load(AppSettings)
    logs.configure(app_settings.log_level, app_settings.log_format)
    return app_settings, load(KafkaSettings)


def _addresses() -> tuple[AppSettings, KafkaSettings, Addresses]:
    app_settings, kafka_settings = _settings()
    return app_settings, kafka_settings, resolve(app_settings, kafka_settings)


def _database_url() -> str:
    """PostgreSQL alone, for commands that need nothing else (no Kafka address asked for)."""
    from omnitrail.local_stack import read_state

    app_settings, _ = _settings()
    if app_settings.database_url is not None:
        return app_settings.database_url.get_secret_value()
    state = read_state(app_settings.data_dir)
    if state is None:
        raise FatalError(
            f"OMNITRAIL_DATABASE_URL unset and no `omnitrail up` is running with "
            f"OMNITRAIL_DATA_DIR={app_settings.data_dir}: start it, or set the variable"
        )
    return state.database_url


def _serve(roles: Roles) -> None:
    app_settings, kafka_settings, addresses = _addresses()

    async def serve() -> None:
        # Built inside the loop: aiokafka's producer refuses to be created outside a running one.
        config = server_config(build_app(app_settings, kafka_settings, addresses, roles), app_settings)
        memory_tuning.tune()
        await uvicorn.Server(config).serve()

    event_loop.run(serve())


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FatalError as exc:
            click.echo(f"omnitrail: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Cli)
@click.version_option(package_name="omnitrail", prog_name="omnitrail")
def main() -> None:
    """Omnitrail: every customer conversation, one schema, one timeline, exactly once."""


@main.command()
@click.option("--demo", is_flag=True, help="Also ingest a few sample interactions once ready.")
def up(demo: bool) -> None:
    """Run the whole stack: embedded broker/PostgreSQL unless configured, HTTP, pipeline."""
    from omnitrail import preflight
    from omnitrail import up as up_module

    app_settings, kafka_settings = _settings()
    preflight.check(app_settings)
    up_module.run(app_settings, kafka_settings, demo=demo)


@main.command()
def worker() -> None:
    """Run the pipeline worker: dedupe, identity, timeline (and the suggestions agent)."""
    from omnitrail import worker as worker_module

    worker_module.run(*_addresses())


@main.command()
def media() -> None:
    """Run the media stage: fetch and keep the attachments of stored interactions (scale like the worker)."""
    from omnitrail import media as media_module

    media_module.run(*_addresses())


@main.command()
@click.argument("channel", type=click.Choice(sorted(registry.CONNECTORS)))
@click.option(
    "--backfill-since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First re-read everything since DATE (YYYY-MM-DD), without duplicates (pull channels with dates: email).",
)
@click.argument("action", required=False, type=click.Choice(["authorize"]))
@click.argument("account", required=False)
def connector(channel: str, backfill_since: datetime | None, action: str | None, account: str | None) -> None:
    """Run one channel's connector, as operations deploy it.

    `omnitrail connector email authorize ACCOUNT` instead signs the OAuth 2.0 mailbox ACCOUNT (its username)
    in once by the device flow: it prints a URL and a code, waits for the approval and stores the refresh token.
    """
    if action is not None:
        if channel != "email" or account is None:
            raise click.UsageError("usage: omnitrail connector email authorize ACCOUNT")
        _authorize(account)
        return
    if backfill_since is not None and not registry.CONNECTORS[channel].supports_backfill:
        raise click.UsageError(f"--backfill-since does not apply to the {channel} connector")
    app_settings, _ = _settings()
    built = registry.build(channel, app_settings)
    if backfill_since is not None:
        built.backfill(backfill_since.date())
    _serve(Roles(connectors=[built]))


def _authorize(username: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    from connectors.email.authorize import authorize
    from connectors.email.settings import ImapSettings
    from sinks.checkpoint_store import PostgresCheckpoints

    _, _, addresses = _addresses()
    accounts = {a.username: a for a in load(ImapSettings).all_accounts()}
    if username not in accounts:
        raise FatalError(f"no email account with that username is configured ({len(accounts)} configured)")

    async def run() -> None:
        async with AsyncConnectionPool(
            addresses.database_url, min_size=1, max_size=1, open=False, kwargs={"autocommit": True}
        ) as pool:
            await authorize(accounts[username], PostgresCheckpoints(pool), click.echo)

    asyncio.run(run())


@main.command()
def console() -> None:
    """Run the console API."""
    _serve(Roles(console=True))


@main.command()
def migrate() -> None:
    """Apply pending database migrations (idempotent)."""
    from sinks import migrate as migrations

    _, _, addresses = _addresses()
    applied = asyncio.run(migrations.migrate(addresses.database_url))
    click.echo(f"applied: {applied or 'nothing, up to date'} (latest {migrations.LATEST})")


@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create every topic with its partitions, retention and compaction (idempotent)."""
    _, kafka_settings, addresses = _addresses()
    created = asyncio.run(clients.create_topics(kafka_settings, addresses.kafka_bootstrap))
    click.echo(f"created: {', '.join(created) or 'nothing, all exist'}")


@main.group()
def sink() -> None:
    """Downstream sinks besides the timeline topic."""


@sink.command("webhooks")
def sink_webhooks() -> None:
    """Deliver timeline events to the configured subscribers: signed POSTs, retried, kept when undelivered."""
    from omnitrail import subscriptions

    subscriptions.run(*_addresses())


@sink.command("deadletters")
@click.argument("subscriber", required=False)
def sink_deadletters(subscriber: str | None) -> None:
    """List the undelivered events of the subscribers (all, or one)."""
    from omnitrail import subscriptions

    _, _, addresses = _addresses()
    rows = asyncio.run(subscriptions.listing(addresses, subscriber))
    for row in rows:
        click.echo(
            f"{row.undelivered_id}\t{row.subscriber}\t{row.event_type}\t{row.event_id}\t"
            f"attempts={row.attempts}\t{row.last_error}\t{row.failed_at.isoformat()}"
        )
    click.echo(f"{len(rows)} undelivered event(s)", err=True)


@sink.command("redeliver")
@click.argument("subscriber")
def sink_redeliver(subscriber: str) -> None:
    """Send a subscriber's undelivered events again; those delivered are removed."""
    from omnitrail import subscriptions

    _, _, addresses = _addresses()
    delivered, failed = asyncio.run(subscriptions.redeliver(addresses, subscriber))
    click.echo(f"delivered: {delivered}, still failing: {failed}")


@main.group()
def schema() -> None:
    """The public schema."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write the JSON Schema of every public model to DIRECTORY."""
    from schemas.export import export

    for path in export(directory):
        click.echo(str(path))


@main.group()
def email() -> None:
    """Email tools."""


@email.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", default="support@inspect.invalid", show_default=True, help="The mailbox it arrived in.")
@click.option("--own", "own_addresses", default="", help="Our own addresses, comma-separated (default: --account).")
def email_inspect(files: tuple[Path, ...], account: str, own_addresses: str) -> None:
    """Run .eml/.mbox FILES through the IMAP connector's ingest path, offline: one JSON line per mail."""
    from connectors.email.inspect import Inspector, messages

    logs.configure("warning", "console")  # standard error: standard output is the JSON lines

    async def run() -> None:
        inspector = Inspector(account, [a.strip() for a in own_addresses.split(",") if a.strip()])
        for file in files:
            for n, raw in enumerate(messages(file)):
                result = await inspector.inspect(raw)
                click.echo(json.dumps({"file": str(file), "message": n, **result.as_json()}, ensure_ascii=False))

    asyncio.run(run())


@main.group("import")
def import_() -> None:
    """Bulk imports from files (streamed: any size)."""


@import_.command("interactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: from the extension.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def import_interactions(file: Path, fmt: str | None, batch_size: int) -> None:
    """Import interactions from a CSV or JSON Lines FILE; re-running it changes nothing.

    Exit status: 0 every row taken, 1 some rows rejected (listed with their line numbers) or none taken, 2 failure.
    """
    from aiokafka.errors import KafkaError

    from connectors.emitter import KafkaEmitter
    from omnitrail.imports.interaction_import import import_interactions as run
    from omnitrail.imports.rows import RowReader, detect_format

    app_settings, kafka_settings, addresses = _addresses()
    reader = RowReader(file, detect_format(file, fmt), region=app_settings.default_region)
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})

    async def produce() -> ImportSummary:
        producer = clients.producer(kafka_settings, addresses.kafka_bootstrap)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise FatalError(f"cannot reach Kafka at {addresses.kafka_bootstrap}: {type(exc).__name__}") from None
        try:
            with click.progressbar(length=reader.bytes_total, label=f"importing {file.name}", file=sys.stderr) as bar:
                return await run(
                    reader,
                    KafkaEmitter(producer),
                    default_region=app_settings.default_region,
                    batch_size=batch_size,
                    progress=bar.update,
                )
        finally:
            await producer.stop()

    try:
        summary = asyncio.run(produce())
    except RetriableError as exc:
        raise FatalError(f"{exc}; nothing is lost or duplicated by running the same import again") from None
    click.echo(summary.render())
    if not summary.accepted:
        click.echo(f"omnitrail: nothing was imported from {file.name}", err=True)
    sys.exit(1 if summary.rejected or not summary.accepted else 0)


@import_.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]), help="default: from the file name")
def import_contacts(file: Path, file_format: str | None) -> None:
    """Import contacts from CSV or JSON Lines (see README); re-running the same file changes nothing.

    Exit status: 0 some rows taken (rejected ones listed), 1 none taken, 2 failure."""
    from omnitrail.imports import contact_import
    from omnitrail.imports.rows import RowReader, detect_format

    app_settings, kafka_settings, addresses = _addresses()
    reader = RowReader(file, detect_format(file, file_format), region=app_settings.default_region)
    summary = asyncio.run(contact_import.run(app_settings, kafka_settings, addresses, reader))
    click.echo(
        f"accepted {summary.accepted} rows, rejected {len(summary.rejected)}"
        f"{f' ({summary.erased} naming an erased person)' if summary.erased else ''}; "
        f"contacts created {summary.created}, merged {summary.merged}, changed {summary.changed}"
    )
    for rejected in summary.rejected[:100]:
        click.echo(f"line {rejected.line}: {rejected.reason}")
    if len(summary.rejected) > 100:
        click.echo(f"... and {len(summary.rejected) - 100} more rejected rows")
    if not summary.accepted:
        click.echo(f"omnitrail: nothing was imported from {file.name}", err=True)
        sys.exit(1)


@main.group()
def attributes() -> None:
    """Custom contact attributes: definitions are data, usable at once without a restart."""


@attributes.command("define")
@click.argument("name")
@click.argument("kind", metavar="TYPE", type=click.Choice(["string", "number", "boolean", "date", "enum"]))
@click.option("--values", help="comma-separated allowed values (enum only)")
def attributes_define(name: str, kind: str, values: str | None) -> None:
    """Define attribute NAME of TYPE (idempotent; a different definition of the same name is refused)."""
    from omnitrail import attribute_commands

    _, _, addresses = _addresses()
    created = asyncio.run(attribute_commands.define(addresses.database_url, name, kind, values))
    click.echo(f"{'defined' if created else 'already defined'}: {name} ({kind})")


@attributes.command("list")
def attributes_list() -> None:
    """List attribute definitions."""
    from omnitrail import attribute_commands

    _, _, addresses = _addresses()
    for definition in asyncio.run(attribute_commands.listing(addresses.database_url)):
        extra = f" [{', '.join(definition.values)}]" if definition.values else ""
        click.echo(f"{definition.name}\t{definition.type.value}{extra}")


@main.group()
def staff() -> None:
    """Staff accounts: who signs in to the console (by email and password), as agent or admin."""


_ROLE = click.Choice(["agent", "admin"])


@staff.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The name shown on their notes and in the audit log.")
@click.option("--role", type=_ROLE, default="agent", show_default=True)
def staff_add(email: str, name: str, role: str) -> None:
    """Make an account for EMAIL. The password is asked for (twice, hidden) on a terminal, else read as the first
    line of standard input (never an argument: it would show in the process list and the shell's history)."""
    from omnitrail import staff_commands

    database_url = _database_url()
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    asyncio.run(staff_commands.add(database_url, email=email, name=name, role=role, password=password))
    click.echo(f"added: {email.strip().lower()} ({role})")


@staff.command("list")
def staff_list() -> None:
    """Every account: email, name, role, enabled or when it was disabled."""
    from omnitrail import staff_commands

    database_url = _database_url()
    for member in asyncio.run(staff_commands.listing(database_url)):
        state = f"disabled {member.disabled_at:%Y-%m-%d %H:%M}" if member.disabled_at else "enabled"
        click.echo(f"{member.email}\t{member.name}\t{member.role}\t{state}")


@staff.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Stop EMAIL from signing in; their console sessions end at once. Their rows keep naming them."""
    from omnitrail import staff_commands

    database_url = _database_url()
    ended = asyncio.run(staff_commands.disable(database_url, email))
    click.echo(f"disabled: {email.strip().lower()}; {ended} console session(s) ended")


@staff.command("set-role")
@click.argument("email")
@click.argument("role", type=_ROLE)
def staff_set_role(email: str, role: str) -> None:
    """Give EMAIL another role; their console sessions end (they sign in again with the new one)."""
    from omnitrail import staff_commands

    database_url = _database_url()
    ended = asyncio.run(staff_commands.set_role(database_url, email, role))
    click.echo(f"{email.strip().lower()} is now {role}; {ended} console session(s) ended")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _letter_filter(source: str | None, since: datetime | None, until: datetime | None, reason: str | None) -> Filter:
    return Filter(
        source=source,
        since=_utc(since) if since else None,
        until=_utc(until) if until else None,
        reason=reason,
    )


def _letter_options(command: Callable[..., None]) -> Callable[..., None]:
    """The filters ``deadletter list`` and ``replay`` share."""
    for option in reversed(
        [
            click.option("--source", help="Only this source: a route (twilio.messages) or pipeline.decode/stage."),
            click.option("--since", type=click.DateTime(_WHEN), help="Received at or after (UTC unless an offset)."),
            click.option("--until", type=click.DateTime(_WHEN), help="Received before."),
            click.option("--reason", help="Only reasons containing this text."),
        ]
    ):
        command = option(command)
    return command


_WHEN = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


@main.group()
def deadletter() -> None:
    """The dead-letter topic: what was refused, and re-driving it after a fix."""


@deadletter.command("list")
@_letter_options
@click.option("--with-raw", is_flag=True, help="Also print the raw payloads (personal data: only when needed).")
def deadletter_list(
    source: str | None, since: datetime | None, until: datetime | None, reason: str | None, with_raw: bool
) -> None:
    """List dead letters: when, where, why, size. No payloads unless --with-raw."""
    from omnitrail import deadletters

    app_settings, kafka_settings, addresses = _addresses()
    keep = _letter_filter(source, since, until, reason)
    letters = asyncio.run(deadletters.read(kafka_settings, addresses.kafka_bootstrap, keep))
    for letter in letters:
        click.echo(deadletters.describe(letter, with_raw=with_raw))
    click.echo(f"{len(letters)} dead letter(s)", err=True)
    _say_if_forgotten(app_settings, addresses)


def _say_if_forgotten(app_settings: AppSettings, addresses: Addresses) -> None:
    """What the embedded broker forgot: its topics live in memory, and an earlier run's records are gone."""
    from omnitrail.local_stack import memory_since

    since = memory_since(app_settings.data_dir, addresses.kafka_bootstrap)
    if since is not None:
        click.echo(
            f"note: the embedded broker keeps its topics in memory: nothing from before this omnitrail up "
            f"started ({since:%Y-%m-%d %H:%M:%S} UTC) is on them any more",
            err=True,
        )


@deadletter.command("replay")
@_letter_options
@click.option("--dry-run", is_flag=True, help="Say what would be produced, produce nothing.")
def deadletter_replay(
    source: str | None, since: datetime | None, until: datetime | None, reason: str | None, dry_run: bool
) -> None:
    """Re-drive dead letters: pipeline ones back to the interactions topic, connector ones through their connector."""
    from omnitrail import deadletters

    app_settings, kafka_settings, addresses = _addresses()
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    keep = _letter_filter(source, since, until, reason)
    letters = asyncio.run(deadletters.read(kafka_settings, addresses.kafka_bootstrap, keep))
    report, problems = asyncio.run(
        deadletters.replay(
            kafka_settings,
            addresses.kafka_bootstrap,
            addresses.database_url,
            letters,
            registry.enabled(app_settings),
            dry_run=dry_run,
        )
    )
    for problem in problems:
        click.echo(problem, err=True)
    verb = "would produce" if dry_run else "produced"
    click.echo(
        f"{len(letters)} dead letter(s): {verb} {report.produced} record(s); "
        f"{report.still_invalid} still invalid; {report.no_connector} without a configured connector"
    )


@main.group()
def gdpr() -> None:
    """Data-subject requests: erasure and export."""


@gdpr.command("erase")
@click.argument("contact", type=click.UUID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def gdpr_erase(contact: uuid.UUID, yes: bool) -> None:
    """Erase the personal data of CONTACT (and of every contact merged into it). Irreversible."""
    from omnitrail import gdpr as gdpr_module
    from omnitrail.gdpr_settings import GdprSettings

    app_settings, kafka_settings, addresses = _addresses()
    hasher = load(GdprSettings).require_hasher()
    if not yes:
        click.confirm(f"Erase every personal datum of contact {contact}? This cannot be undone", abort=True)
    store = MediaStore.configured(load(MediaSettings), app_settings.data_dir)
    done = asyncio.run(gdpr_module.erase(kafka_settings, addresses, contact, hasher, store))
    if done is None:
        raise FatalError(f"no such contact: {contact}")
    click.echo(
        f"erased {done.contact_id} (erasure {done.erasure_id}): {len(done.erased_contact_ids)} contact id(s), "
        f"{done.identifier_count} identifier(s), {done.interactions_erased} interaction(s); her identifiers taken "
        f"out of {done.interactions_redacted} interaction(s) of other customers"
    )


@gdpr.command("export")
@click.argument("contact", type=click.UUID)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option(
    "--with-files",
    "zip_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a zip here: export.json and each kept file her interactions reference (files/<sha256>.<ext>).",
)
def gdpr_export(contact: uuid.UUID, output: Path | None, zip_path: Path | None) -> None:
    """Everything held about CONTACT, as JSON (format omnitrail.contact-export.v1), and with --with-files her files."""
    from omnitrail import gdpr as gdpr_module
    from sinks.export_archive import text

    app_settings, _, addresses = _addresses()
    if zip_path is None:
        document = asyncio.run(gdpr_module.export(addresses, contact))
    else:
        store = MediaStore.configured(load(MediaSettings), app_settings.data_dir)
        archived = asyncio.run(gdpr_module.export_with_files(addresses, contact, store, zip_path))
        document = None if archived is None else archived[0]
        if archived is not None:
            click.echo(f"written: {zip_path} (export.json and {archived[1]} file(s))", err=True)
    if document is None:
        raise FatalError(f"no such contact: {contact}")
    if output is not None:
        output.write_text(text(document) + "\n", encoding="utf-8")
        click.echo(f"written: {output}", err=True)
    elif zip_path is None:
        click.echo(text(document))


@gdpr.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be purged, change nothing.")
def gdpr_purge(dry_run: bool) -> None:
    """Purge interaction content older than each channel's OMNITRAIL_GDPR_RETENTION_DAYS (run it daily)."""
    from omnitrail import gdpr as gdpr_module
    from omnitrail.gdpr_settings import GdprSettings

    app_settings, _, addresses = _addresses()
    max_age = {channel.value: age for channel, age in load(GdprSettings).retention().items()}
    if not max_age:
        raise FatalError("OMNITRAIL_GDPR_RETENTION_DAYS is empty: no channel has a maximum age")
    store = MediaStore.configured(load(MediaSettings), app_settings.data_dir)
    counts = asyncio.run(gdpr_module.purge(addresses, max_age, store, dry_run=dry_run))
    verb = "would purge" if dry_run else "purged"
    for channel, count in counts.items():
        click.echo(f"{channel}: {verb} {count} interaction(s) older than {max_age[channel].days} days")


@main.command("verify")
@click.option("--since", type=click.DateTime(_WHEN), required=True, help="Received at or after (UTC unless an offset).")
@click.option("--until", type=click.DateTime(_WHEN), help="Received before (default: now).")
def verify_command(since: datetime, until: datetime | None) -> None:
    """Reconcile the interactions topic with the timeline over a time range: gaps and duplicates (exit 1 if any)."""
    from omnitrail import verify as reconciliation

    app_settings, kafka_settings, addresses = _addresses()
    start = _utc(since)
    end = _utc(until) if until is not None else datetime.now(UTC)

    async def run() -> reconciliation.Report:
        async with await psycopg.AsyncConnection.connect(addresses.database_url, autocommit=True) as conn:
            return await reconciliation.verify(conn, kafka_settings, addresses.kafka_bootstrap, since=start, until=end)

    report = asyncio.run(run())
    for line in report.lines():
        click.echo(line)
    if report.gone_from_topic:
        _say_if_forgotten(app_settings, addresses)
    if not report.ok:
        sys.exit(1)
