"""Absence checks without a sleep: a marker record after the records under test, on each of their Kafka keys.

The records of one key share a partition, and the pipeline handles a partition in order; so once the marker
produced after them on that key is stored, every one of them has been handled, and a duplicate or an extra
row they were going to make is already there. Each marker is an SMS from a number of its own: it is stored
under the test's key and links nobody the test looks at.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from schemas.interaction import Channel
from sinks.connection import Conn
from tests.integration.rows import one
from tests.integration.stack import eventually
from tests.interactions import interaction, produce_keyed


async def pass_barrier(bootstrap: str, db: Conn, keys: Iterable[bytes]) -> None:
    """Produce a marker on each of ``keys`` (the Kafka keys the records under test were produced with) and
    wait until every marker is stored."""
    keys = sorted(set(keys))
    assert keys, "a barrier needs the keys of the records under test"
    markers = [(key, interaction(Channel.sms, f"+3519{random.randrange(10**7, 10**8)}")) for key in keys]
    await produce_keyed(bootstrap, markers)
    ids = [marker.interaction_id for _, marker in markers]

    async def all_stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return int((await one(cur))[0]) == len(ids)

    await eventually(all_stored, what=f"the {len(ids)} barrier marker(s) stored")
