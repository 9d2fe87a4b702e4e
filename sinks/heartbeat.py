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


async def held_partitions(conn: Conn, *, within_seconds: float) -> set[int]:
    """Partitions of the interactions topic that workers with a fresh heartbeat hold."""
    cur = await conn.execute(
        "SELECT assignment FROM pipeline_workers"
        " WHERE heartbeat_at > now() - make_interval(secs => %s) AND assignment <> ''",
        (within_seconds,),
    )
    return {int(p) for (assignment,) in await cur.fetchall() for p in str(assignment).split(",")}
