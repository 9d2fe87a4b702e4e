"""How long ago each pull connector last advanced its checkpoint, as a Prometheus gauge.

Pull connectors (IMAP, Telegram, ...) record where they resume in ``connector_checkpoints``
only after the broker acknowledged everything before it. A checkpoint that stops moving means
a connector that stopped ingesting (credentials revoked, provider down, process wedged) while
its process may still look healthy, which is what the ``OmnitrailCheckpointStale`` alert is for.
The pipeline worker reports it because every deployment runs a worker with a database pool;
the label is the connector name only (accounts can be mailboxes: personal data stays out).
"""

from __future__ import annotations

from prometheus_client import Gauge

from sinks.connection import Conn

CHECKPOINT_AGE = Gauge(
    "omnitrail_checkpoint_age_seconds",
    "Seconds since the least recently advanced checkpoint of each pull connector was written",
    ["connector"],
)


async def report(conn: Conn) -> dict[str, float]:
    """Read the oldest checkpoint of every connector and set the gauge; return what was set."""
    cur = await conn.execute(
        "SELECT connector, extract(epoch FROM now() - min(updated_at))::float8"
        " FROM connector_checkpoints GROUP BY connector"
    )
    ages = {str(connector): max(0.0, float(age)) for connector, age in await cur.fetchall()}
    for connector, age in ages.items():
        CHECKPOINT_AGE.labels(connector).set(age)
    return ages
