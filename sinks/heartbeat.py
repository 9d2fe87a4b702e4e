"""Worker heartbeats: how a process that does not run the pipeline knows whether it is alive."""

from __future__ import annotations

from sinks.connection import Conn


async def beat(conn: Conn, worker_id: str, assignment: str) -> None:
    await conn.execute(
        """
        INSERT INTO pipeline_workers (worker_id, heartbeat_at, assignment) VALUES (%s, now(), %s)
        ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), assignment = excluded.assignment
        """,
        (worker_id, assignment),
    )


async def forget(conn: Conn, worker_id: str) -> None:
    await conn.execute("DELETE FROM pipeline_workers WHERE worker_id = %s", (worker_id,))


async def live_workers(conn: Conn, *, within_seconds: float) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM pipeline_workers WHERE heartbeat_at > now() - make_interval(secs => %s)",
        (within_seconds,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0
