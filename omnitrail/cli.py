"""The ``omnitrail`` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
import uvicorn

from omnitrail import kafka, logs, registry
from omnitrail.http import Roles, build_app
from omnitrail.runtime import Addresses, resolve
from omnitrail.settings import AppSettings, KafkaSettings
from schemas.config import load, reject_unknown_env
from schemas.errors import FatalError


def _settings() -> tuple[AppSettings, KafkaSettings]:
    reject_unknown_env(list(registry.SETTINGS_CLASSES))
    app = load(AppSettings)
    logs.configure(app.log_level, app.log_format)
    return app, load(KafkaSettings)


def _addresses() -> tuple[AppSettings, KafkaSettings, Addresses]:
    app, kafka_settings = _settings()
    return app, kafka_settings, resolve(app, kafka_settings)


def _serve(roles: Roles) -> None:
    app, kafka_settings, addresses = _addresses()
    http = build_app(app, kafka_settings, addresses, roles)
    uvicorn.run(http, host=app.http_host, port=app.http_port, log_config=None, access_log=False)


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FatalError as exc:
            click.echo(f"omnitrail: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Cli)
def main() -> None:
    """Omnitrail: every customer conversation, one schema, one timeline, exactly once."""


@main.command()
@click.option("--demo", is_flag=True, help="Also ingest a few sample interactions once ready.")
def up(demo: bool) -> None:
    """Run the whole stack: embedded broker/PostgreSQL unless configured, HTTP, pipeline."""
    from omnitrail import up as up_module

    app, kafka_settings = _settings()
    up_module.run(app, kafka_settings, demo=demo)


@main.command()
def worker() -> None:
    """Run the pipeline worker (faust): dedupe, identity, timeline."""
    from omnitrail import worker as worker_module

    worker_module.run(*_addresses())


@main.command()
@click.argument("channel", type=click.Choice(sorted(registry.PUSH_CONNECTORS)))
def connector(channel: str) -> None:
    """Run one channel's connector, as operations deploy it."""
    app, _ = _settings()
    _serve(Roles(connectors=[registry.build_push(channel, app)]))


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
    created = asyncio.run(kafka.create_topics(kafka_settings, addresses.kafka_bootstrap))
    click.echo(f"created: {', '.join(created) or 'nothing, all exist'}")


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
