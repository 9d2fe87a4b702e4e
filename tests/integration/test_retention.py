"""`omnitrail gdpr purge`: content of interactions older than their channel's maximum age is purged;
newer ones and channels without a maximum age keep theirs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas.interaction import Channel, ContactCard, Interaction, Location, Provider
from sinks.connection import Conn
from tests import fresh
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import Stack, clean_env, eventually
from tests.interactions import interaction, produce

pytestmark = pytest.mark.integration


def aged(interaction: Interaction, days: int) -> Interaction:
    at = datetime.now(UTC) - timedelta(days=days)
    return interaction.model_copy(update={"occurred_at": at, "received_at": at})


def old_email(n: int, days: int) -> Interaction:
    return interaction(
        Channel.email,
        f"old{n}@example.org",
        at=datetime.now(UTC) - timedelta(days=days),
        external_id=f"<retention-{n}@mail.example>",
        recipients=[],
        subject="Encomenda antiga",
        text="texto antigo",
    )


def purge(broker: EmbeddedBroker, database_url: str, *args: str) -> str:
    """``omnitrail gdpr purge`` with sms and whatsapp kept 365 days (email: no maximum age); its output."""
    env = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_GDPR_RETENTION_DAYS="sms=365, whatsapp=365",
        OMNITRAIL_LOG_LEVEL="warning",
    )
    done = subprocess.run(
        [sys.executable, "-m", "omnitrail", "gdpr", "purge", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def stored(broker: EmbeddedBroker, db: Conn, interactions: list[Interaction]) -> None:
    """Produce the interactions and wait until the worker stored them all."""
    await produce(broker.bootstrap, interactions)
    ids = [i.interaction_id for i in interactions]

    async def all_stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return bool((await one(cur))[0] == len(ids))

    await eventually(all_stored, what=f"the {len(ids)} interactions")


async def document(db: Conn, i: Interaction) -> dict[str, Any]:
    cur = await db.execute("SELECT document FROM interactions WHERE interaction_id = %s", (i.interaction_id,))
    doc: dict[str, Any] = (await one(cur))[0]
    return doc


async def test_purge_removes_old_content_per_channel(
    webhook_stack: Stack, broker: EmbeddedBroker, database_url: str, db: Conn
) -> None:
    n = random.randint(10**8, 10**9)
    old_sms = aged(sms_interaction(n, fresh.phone(), text="mensagem velha"), 400)
    new_sms = aged(sms_interaction(n + 1, fresh.phone(), text="mensagem nova"), 10)
    email = old_email(n, 400)
    await stored(broker, db, [old_sms, new_sms, email])

    assert "sms: would purge" in purge(broker, database_url, "--dry-run")
    cur = await db.execute(
        "SELECT document ? 'text' FROM interactions WHERE interaction_id = %s", (old_sms.interaction_id,)
    )
    assert (await one(cur))[0] is True  # a dry run changes nothing
    out = purge(broker, database_url)
    assert "older than 365 days" in out

    purged = await document(db, old_sms)
    assert "text" not in purged
    assert purged["interaction_id"] == str(old_sms.interaction_id)
    assert purged["channel"] == "sms"
    assert (await document(db, new_sms))["text"] == "mensagem nova"
    kept = await document(db, email)  # no maximum age for email
    assert (kept["text"], kept["subject"]) == ("texto antigo", "Encomenda antiga")
    assert "sms: purged 0" in purge(broker, database_url)  # idempotent


async def test_purge_removes_quoted_text_shared_locations_and_contact_cards(
    webhook_stack: Stack, broker: EmbeddedBroker, database_url: str, db: Conn
) -> None:
    customer, card_phone = fresh.phone(), fresh.phone()
    shared = aged(
        interaction(
            Channel.whatsapp,
            customer,
            name="Dora Keep",
            provider=Provider.meta,
            text="here I am",
            quoted_text="Dora wrote: my IBAN is PT50 0002 0123 1234 5678 9015 4",
            location=Location(latitude=38.7071, longitude=-9.1355, name="Home", address="Rua Y 3, Lisboa"),
            contact_cards=[ContactCard(name="Eve Card", phones=[card_phone])],
        ),
        400,
    )
    await stored(broker, db, [shared])

    purge(broker, database_url)

    purged = await document(db, shared)
    for personal in ("IBAN", "Rua Y", "38.7071", "Eve Card", card_phone, "here I am"):
        assert personal not in json.dumps(purged), personal
    assert not {"quoted_text", "location", "contact_cards"} & set(purged)
    # What the timeline needs stays: who, which channel, when.
    assert purged["sender"]["identifiers"] == [{"kind": "phone", "value": customer}]
    assert (purged["channel"], purged["direction"]) == ("whatsapp", "inbound")
    assert "whatsapp: would purge 0" in purge(broker, database_url, "--dry-run")  # nothing left to purge
