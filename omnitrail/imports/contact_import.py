"""``omnitrail import contacts FILE``: a CRM export into contacts, through the same identity resolution as the worker.

Each batch of rows is one transaction: identities resolved by :func:`pipeline.resolver.resolve`
(so a record that carries identifiers of two existing contacts merges them exactly as an
interaction would, recorded as caused by ``import:<file>:<line>``), attribute values validated
against their definitions and upserted, review items opened, and the events put in the outbox,
which this command then drains itself (the worker only drains after its own batches).

Re-running the same file changes nothing: identifiers are already linked, attribute values
are equal (no write, no event), names are only set where a contact had none. A row naming an
identifier of an erased person is rejected (:mod:`omnitrail.imports.erased_people`): a re-run
after an erasure does not bring her back. It is checked in the batch's transaction after the
contacts the batch writes onto are locked, as the worker's erasure fence does, so an erasure that
commits meanwhile is seen (the batch is then written again without her row).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
from psycopg_pool import AsyncConnectionPool

from omnitrail.gdpr_settings import GdprSettings
from omnitrail.imports import erased_people
from omnitrail.imports.contact_rows import ContactRow, RejectedRow, attribute_columns, read_rows
from omnitrail.imports.rows import RowReader
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from pipeline import resolver, retry, reviews
from pipeline.identity_settings import IdentitySettings
from pipeline.stages.identity import Claim, Person
from pipeline.stages.policy import Policy
from schemas.attributes import AttributeDefinition, coerce
from schemas.config import load
from schemas.contact import AttributeValue
from schemas.errors import FatalError, InvalidPayload, RetriableError
from sinks import attribute_store, contact_store, outbox
from sinks.connection import Conn
from sinks.erasure import IdentifierHasher
from sinks.kafka import clients
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.records import Publish
from sinks.kafka.settings import KafkaSettings

BATCH_ROWS = 1000


@dataclass
class Summary:
    accepted: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    created: int = 0
    merged: int = 0
    changed: int = 0
    #: Rows rejected because they name an erased person (also in ``rejected``).
    erased: int = 0


@dataclass(frozen=True)
class _Typed:
    row: ContactRow
    attributes: dict[str, AttributeValue]


class ErasedMeanwhile(RetriableError):
    """A row of the batch names a person erased while the batch was being written: write it again."""


class ContactImport:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        publish: Publish,
        policy: Policy,
        default_region: str,
        *,
        hasher: IdentifierHasher | None,
    ) -> None:
        """``hasher``: the erasures' identifier hasher (None when no GDPR hash key is configured)."""
        self.pool = pool
        self.publish = publish
        self.policy = policy
        self.default_region = default_region
        self.hasher = hasher

    async def run(self, reader: RowReader, progress: Callable[[int], None] = lambda _: None) -> Summary:
        """Import every row; ``progress`` gets the bytes read since its last call."""
        async with self.pool.connection() as conn:
            known = await attribute_store.definitions(conn)
            await erased_people.check_configured(conn, self.hasher)
        missing = [c for c in attribute_columns(reader) if c not in known]
        if missing:
            hint = "; ".join(f"omnitrail attributes define {c} string" for c in missing)
            raise FatalError(f"column(s) {', '.join(missing)} are not defined attributes (define them: {hint})")
        path = reader.path
        summary = Summary()
        batch: list[_Typed] = []
        reported = 0
        for row in read_rows(reader, default_region=self.default_region):
            progress(reader.bytes_read - reported)
            reported = reader.bytes_read
            if isinstance(row, RejectedRow):
                summary.rejected.append(row)
                continue
            try:
                batch.append(_Typed(row, _typed(row, known)))
            except InvalidPayload as exc:
                summary.rejected.append(RejectedRow(row.line, exc.reason))
                continue
            if len(batch) >= BATCH_ROWS:
                await self._commit(path, batch, summary)
                batch = []
        if batch:
            await self._commit(path, batch, summary)
        return summary

    async def _commit(self, path: Path, batch: list[_Typed], summary: Summary) -> None:
        erased, counts = await retry.forever("contact import", lambda: self._write(path.name, batch))
        await retry.forever("outbox drain", lambda: outbox.drain(self.pool, self.publish))
        summary.rejected.extend(RejectedRow(line, erased_people.REASON) for line in erased)
        summary.erased += len(erased)
        summary.accepted += len(batch) - len(erased)
        summary.created += counts[0]
        summary.merged += counts[1]
        summary.changed += counts[2]

    async def _write(self, source: str, whole: list[_Typed]) -> tuple[list[int], tuple[int, int, int]]:
        """Write the batch but its rows naming an erased person; return those rows' lines and the counts."""
        async with self.pool.connection() as conn, conn.transaction():
            skip = await erased_people.erased(conn, [t.row for t in whole], self.hasher)
            batch = [t for n, t in enumerate(whole) if n not in skip]
            erased = [whole[n].row.line for n in sorted(skip)]
            if not batch:
                return erased, (0, 0, 0)
            counts = await self._resolve_and_write(conn, source, batch)
        return erased, counts

    async def _resolve_and_write(self, conn: Conn, source: str, batch: list[_Typed]) -> tuple[int, int, int]:
        claims = [Claim(n, tuple(t.row.identifiers), t.row.name) for n, t in enumerate(batch)]

        def cause(person: Person) -> str:
            return f"import:{source}:{batch[person.claims[0].ref].row.line}"

        found = await resolver.resolve(conn, claims, self.policy, source="import", cause=cause)
        # An erasure holding one of these contacts is waited for; one that committed since the check
        # above is seen by reading the erased identifiers again (nearly always: none, one statement).
        await contact_store.hold(conn, found.contacts())
        if await erased_people.erased(conn, [t.row for t in batch], self.hasher):
            raise ErasedMeanwhile("a person named by the batch was erased while it was written")
        await reviews.propose(conn, found, self.policy)
        # Values go to the record's own (home) contact, so an unmerge gives each contact its own back.
        values = [(found.attached[n][0], k, v) for n, t in enumerate(batch) for k, v in t.attributes.items()]
        changed = found.changed | {
            found.survivor(c) for c in await attribute_store.set_values(conn, values, source="import")
        }
        snaps = {s.contact_id: s for s in await contact_store.snapshots(conn, changed)}
        await outbox.append(conn, resolver.events(found, snaps, added=[], updated=[]))
        return len(found.created), len(found.merges), len(changed)


def _typed(row: ContactRow, known: dict[str, AttributeDefinition]) -> dict[str, AttributeValue]:
    typed = {}
    for name, raw in row.attributes.items():
        if name not in known:
            raise InvalidPayload(f"attribute {name} is not defined")
        typed[name] = coerce(known[name], raw)
    return typed


async def run(
    app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses, reader: RowReader
) -> Summary:
    """The command: its own pool and producer, a progress bar over the file.

    The file itself is read synchronously, a line at a time, between batches: the command has
    nothing else to do meanwhile, and each batch's database work is awaited.
    """
    policy = load(IdentitySettings).policy(app_settings.default_region)
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    producer = clients.producer(kafka_settings, addresses.kafka_bootstrap)
    await producer.start()
    try:
        async with AsyncConnectionPool(
            addresses.database_url, min_size=1, max_size=2, kwargs={"autocommit": True}
        ) as pool:
            job = ContactImport(
                pool,
                TopicPublisher(producer).publish,
                policy,
                app_settings.default_region,
                hasher=load(GdprSettings).hasher(),
            )
            label = f"importing {reader.path.name}"
            with click.progressbar(length=reader.bytes_total, label=label, file=sys.stderr) as bar:
                return await job.run(reader, progress=bar.update)
    finally:
        await producer.stop()
