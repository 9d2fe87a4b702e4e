"""One import row -> one v1 interaction (provider ``import``), for CSV and JSON Lines.

CSV columns (header names, any case): ``channel``, ``direction`` (``inbound`` default),
``occurred_at`` (ISO 8601; without an offset it is read as UTC), ``external_id``, ``account``
(our side, ``import`` default), ``name``, ``email``, ``phone`` (several values in one cell
separated by ``;``), ``subject``, ``text``, ``thread_key``; every other non-empty column is kept
in ``metadata``. A JSON Lines row is a v1 interaction (``provider`` defaults to ``import``,
``interaction_id`` and ``received_at`` may be left out).

Ids are deterministic (channel + account + external id), so importing the same file again
produces the same ids and changes nothing in the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Direction, Interaction, Party, PartyRole, Provider
from schemas.interaction_input import field_errors, interaction_from_json

KNOWN_COLUMNS = (
    "channel",
    "direction",
    "occurred_at",
    "external_id",
    "account",
    "name",
    "email",
    "phone",
    "subject",
    "text",
    "thread_key",
)
_REQUIRED = ("channel", "occurred_at", "external_id")


def _occurred_at(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidPayload("occurred_at: not an ISO 8601 date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _identifiers(cells: dict[str, str], default_region: str) -> list[Identifier]:
    identifiers: list[Identifier] = []
    for kind in (IdentifierKind.email, IdentifierKind.phone):
        for n, raw in enumerate(v for v in cells.get(kind.value, "").split(";") if v.strip()):
            try:
                identifiers.append(Identifier.of(kind, raw, default_region=default_region))
            except InvalidPayload as exc:
                raise InvalidPayload(f"{kind.value} value {n + 1}: {exc.reason}") from None
    return identifiers


def from_csv(cells: dict[str, str], *, default_region: str, received_at: datetime) -> Interaction:
    cells = {k: v.strip() for k, v in cells.items()}
    missing = [name for name in _REQUIRED if not cells.get(name)]
    if missing:
        raise InvalidPayload(f"missing {', '.join(missing)}")
    identifiers = _identifiers(cells, default_region)
    if not identifiers:
        raise InvalidPayload("no email or phone to attach the interaction to")
    try:
        direction = Direction(cells.get("direction") or "inbound")
    except ValueError:
        raise InvalidPayload("direction: must be inbound or outbound") from None
    customer = Party(display_name=cells.get("name") or None, identifiers=identifiers)
    us = Party(role=PartyRole.us)
    try:
        return Interaction.build(
            channel=cells["channel"],
            provider=Provider.import_,
            account=cells.get("account") or "import",
            direction=direction,
            occurred_at=_occurred_at(cells["occurred_at"]),
            received_at=received_at,
            external_id=cells["external_id"],
            thread_key=cells.get("thread_key") or None,
            sender=customer if direction is Direction.inbound else us,
            recipients=[us if direction is Direction.inbound else customer],
            subject=cells.get("subject") or None,
            text=cells.get("text") or None,
            metadata={k: v for k, v in cells.items() if k not in KNOWN_COLUMNS and v},
        )
    except ValidationError as exc:
        raise InvalidPayload(field_errors(exc)) from None


def from_json(obj: Any, *, received_at: datetime) -> Interaction:
    if isinstance(obj, dict):
        obj = {"provider": Provider.import_.value, **obj}
    return interaction_from_json(obj, received_at=received_at)
