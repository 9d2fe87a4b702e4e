"""Status callbacks, edits and reactions: they update the interaction they refer to, never add a row.

Updates arrive in any order, and possibly before their target:

- a status replaces the stored one only if it is later in :mod:`sinks.status_order` (so
  ``delivered`` before ``sent`` leaves ``delivered``, ``read`` beats ``delivered``, failures are
  final); a status carrying call details (duration, final call state) updates the row's ``call``;
- a reaction sets ``metadata.reactions.<customer|us>`` of its target to ``{"emoji", "at"}`` (one
  reaction per side, as the messaging apps keep it; ``emoji`` null once removed) unless a later
  reaction of that side is already there (on a tie, the one applied last wins);
- an edit sets the text and ``metadata.edited_at`` of its target unless a later edit is already
  there: a redelivered older edit (a restart, a rebalance, a replay) never brings old text back (on
  a tie, the one applied last wins; the same edit again changes nothing and is not published);
- an update whose target is not in the timeline yet is parked in ``parked_updates``; the batch that
  inserts the target passes its ids as ``landed`` and the parked updates are applied then, in the
  same transaction, and published as ``interaction.updated`` like any other (a park and an insert
  racing in two workers' transactions are caught up by the next batch, see ``_orphaned_targets``);
- an update whose target an erasure deleted (``erased_interactions``) is dropped, never parked: that
  target never lands again, and the update carries the person's data (an edit's text, a status's phone).
  Parked updates are kept :data:`PARKED_DAYS` days at most (:func:`expire`, run by every worker's
  heartbeat); an erasure deletes the ones about the person (:func:`forget`).

Target rows are locked (``FOR UPDATE``, in id order) so two workers cannot interleave a
read-compare-write on the same interaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from schemas.interaction import Direction, Interaction, InteractionKind
from sinks.connection import Conn
from sinks.status_order import supersedes

log = structlog.get_logger(__name__)

#: A parked update whose target has not landed in this many days never will (the race it waits out
#: lasts a transaction; a provider's receipt overtakes its message by seconds): it is deleted.
PARKED_DAYS = 30


@dataclass
class Applied:
    #: (contact id, update) for every update that changed its target: one ``interaction.updated`` each.
    changed: list[tuple[uuid.UUID, Interaction]] = field(default_factory=list)
    #: How many of the batch's own updates changed something (parked ones applied now excluded).
    from_batch: int = 0
    parked: int = 0
    #: Updates dropped because an erasure deleted their target.
    erased_targets: int = 0


async def apply(conn: Conn, updates: list[Interaction], *, landed: Collection[uuid.UUID] = ()) -> Applied:
    """Apply the batch's updates and those parked for the ``landed`` (just inserted) ids; park the rest."""
    earlier = await _take_parked(conn, {*landed, *await _orphaned_targets(conn)})
    pending = earlier + updates
    result = Applied()
    if not pending:
        return result
    targets = sorted({_target(u) for u in pending})
    # Events about an interaction go to the live contact its row's contact resolves to.
    cur = await conn.execute(
        "SELECT i.interaction_id, coalesce(c.merged_into, c.contact_id), i.delivery_status"
        "  FROM interactions i JOIN contacts c ON c.contact_id = i.contact_id"
        " WHERE i.interaction_id = ANY(%b) ORDER BY i.interaction_id FOR UPDATE OF i",
        (targets,),
    )
    found = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    current = {target: status for target, (_, status) in found.items()}
    own = {u.interaction_id for u in updates}
    to_park: list[Interaction] = []
    for update in pending:
        target = _target(update)
        if target not in found:
            to_park.append(update)
            continue
        if update.kind is InteractionKind.status:
            new = update.status.status if update.status else None
            if not supersedes(new, current[target]):
                continue  # older or equal news: the stored status stays
            current[target] = new
            await _set_status(conn, update)
        elif update.kind is InteractionKind.reaction:
            if not await _react(conn, update):
                continue  # an older reaction than the one stored
        elif not await _edit(conn, update):
            continue  # an older edit than the one stored (a redelivery), or the stored one again
        result.changed.append((found[target][0], update))
        result.from_batch += update.interaction_id in own
    if to_park:
        erased = await _erased(conn, sorted({_target(u) for u in to_park}))
        result.erased_targets = sum(_target(u) in erased for u in to_park)
        to_park = [u for u in to_park if _target(u) not in erased]
    await _park(conn, to_park)
    result.parked = len(to_park)
    if to_park or earlier or result.erased_targets:
        log.info(
            "updates.parked",
            parked=len(to_park),
            applied_from_parking=len(earlier),
            dropped_erased_target=result.erased_targets,
        )
    return result


def _target(update: Interaction) -> uuid.UUID:
    assert update.status is not None  # guaranteed by the model for status and edit kinds
    return update.status.target_interaction_id


async def _set_status(conn: Conn, update: Interaction) -> None:
    assert update.status is not None
    metadata: dict[str, Any] = {"delivery_status_at": update.occurred_at.isoformat()}
    if update.status.error_code:
        metadata["delivery_error_code"] = update.status.error_code
    call = update.call.model_dump_json() if update.call else None
    await conn.execute(
        """
        UPDATE interactions
           SET delivery_status = %s,
               document = jsonb_set(
                   CASE WHEN %s::jsonb IS NULL THEN document ELSE jsonb_set(document, '{call}', %s::jsonb) END,
                   '{metadata}', coalesce(document->'metadata', '{}'::jsonb) || %s::jsonb)
         WHERE interaction_id = %s
        """,
        (update.status.status, call, call, orjson.dumps(metadata).decode(), _target(update)),
    )


async def _edit(conn: Conn, update: Interaction) -> bool:
    cur = await conn.execute(
        """
        UPDATE interactions
           SET document = jsonb_set(jsonb_set(document, '{text}', to_jsonb(%s::text)),
                                    '{metadata,edited_at}', to_jsonb(%s::text))
         WHERE interaction_id = %s
           AND coalesce((document#>>'{metadata,edited_at}')::timestamptz < %s
                        OR ((document#>>'{metadata,edited_at}')::timestamptz = %s
                            AND document->>'text' IS DISTINCT FROM %s::text), true)
        """,
        (
            update.text,
            update.occurred_at.isoformat(),
            _target(update),
            update.occurred_at,
            update.occurred_at,
            update.text,
        ),
    )
    return cur.rowcount > 0


async def _react(conn: Conn, update: Interaction) -> bool:
    side = "customer" if update.direction is Direction.inbound else "us"
    reaction = orjson.dumps({"emoji": update.text or None, "at": update.occurred_at.isoformat()}).decode()
    cur = await conn.execute(
        """
        UPDATE interactions
           SET document = jsonb_set(document, '{metadata}', coalesce(document->'metadata', '{}'::jsonb)
                 || jsonb_build_object('reactions', coalesce(document#>'{metadata,reactions}', '{}'::jsonb)
                 || jsonb_build_object(%s::text, %s::jsonb)))
         WHERE interaction_id = %s
           AND coalesce((document#>>ARRAY['metadata', 'reactions', %s::text, 'at'])::timestamptz <= %s, true)
        """,
        (side, reaction, _target(update), side, update.occurred_at),
    )
    return cur.rowcount > 0


async def _park(conn: Conn, updates: list[Interaction]) -> None:
    if not updates:
        return
    await conn.execute(
        """
        INSERT INTO parked_updates (update_id, target_interaction_id, occurred_at, document)
        SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::timestamptz[], %b::jsonb[])
        ON CONFLICT (update_id) DO NOTHING
        """,
        (
            [u.interaction_id for u in updates],
            [_target(u) for u in updates],
            [u.occurred_at for u in updates],
            [u.model_dump_json() for u in updates],
        ),
    )


async def _erased(conn: Conn, targets: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these targets an erasure deleted (:mod:`sinks.erasure` records their ids)."""
    cur = await conn.execute(
        "SELECT interaction_id FROM erased_interactions WHERE interaction_id = ANY(%b)", (targets,)
    )
    return {row[0] for row in await cur.fetchall()}


async def _orphaned_targets(conn: Conn) -> list[uuid.UUID]:
    """Targets that landed while their update was being parked by a concurrent transaction.

    A worker inserting a message cannot see a status another worker parks in the same instant
    (and vice versa), so each batch also picks up recently parked updates whose target exists
    now. Only the last hour is looked at: the race lasts one transaction, and a bounded window
    keeps this cheap when updates for messages that never come accumulate.
    """
    cur = await conn.execute(
        """
        SELECT DISTINCT p.target_interaction_id FROM parked_updates p
         WHERE p.parked_at > clock_timestamp() - interval '1 hour'
           AND EXISTS (SELECT 1 FROM interactions i WHERE i.interaction_id = p.target_interaction_id)
         LIMIT 500
        """
    )
    return [row[0] for row in await cur.fetchall()]


async def _take_parked(conn: Conn, landed: Collection[uuid.UUID]) -> list[Interaction]:
    """Remove and return the updates parked for these targets, oldest event first."""
    if not landed:
        return []
    cur = await conn.execute(
        "DELETE FROM parked_updates WHERE target_interaction_id = ANY(%b) RETURNING occurred_at, update_id, document",
        (list(landed),),
    )
    rows = sorted(await cur.fetchall(), key=lambda r: (r[0], r[1]))
    return [Interaction.model_validate(r[2]) for r in rows]


async def forget(conn: Conn, interaction_ids: list[uuid.UUID], identifier_keys: list[str]) -> int:
    """Delete the parked updates aimed at these (erased) interactions or naming one of these identifiers
    (``kind:value``) in any party; return how many."""
    cur = await conn.execute(
        """
        DELETE FROM parked_updates p
         WHERE p.target_interaction_id = ANY(%b)
            OR EXISTS (SELECT 1 FROM jsonb_path_query(p.document, 'lax $.**.identifiers[*]') AS i
                        WHERE (i->>'kind') || ':' || (i->>'value') = ANY(%b::text[]))
        """,
        (interaction_ids, identifier_keys),
    )
    return cur.rowcount


async def expire(conn: Conn, *, days: int = PARKED_DAYS) -> int:
    """Delete the updates parked more than ``days`` ago (their target never came); return how many."""
    cur = await conn.execute(
        "DELETE FROM parked_updates WHERE parked_at < clock_timestamp() - make_interval(days => %s)", (days,)
    )
    if cur.rowcount:
        log.info("updates.parked_expired", expired=cur.rowcount, days=days)
    return cur.rowcount
