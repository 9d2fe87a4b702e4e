"""Interactions that arrive already in the v1 schema, from outside: other systems' webhooks, import files.

One place decides what such a JSON object must hold and how a rejection is worded, so the
``/webhooks/events`` route, ``omnitrail import interactions`` and the pipeline's decode stage
accept and refuse exactly the same things. Reasons name fields and error types, never values:
the values are personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.errors import InvalidPayload
from schemas.interaction import Interaction


def field_errors(exc: ValidationError, *, limit: int = 5) -> str:
    """``"sender.identifiers.0.value: value_error; ..."``: locations and error types, never the values."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}" for e in exc.errors()[:limit])


def validation_reason(exc: ValidationError, *, what: str = "invalid interaction") -> str:
    return f"{what}: {field_errors(exc)}"


def interaction_from_json(obj: Any, *, received_at: datetime) -> Interaction:
    """Validate one v1 interaction given as a JSON object; InvalidPayload's reason names the fields.

    ``received_at`` defaults to when we took it and ``interaction_id`` to the deterministic id
    (channel + account + external id), so a sender need not compute it and a resend is one row.
    An interaction naming no customer identifier could never be attached to a contact: refused here
    rather than dead-lettered later by the pipeline.
    """
    if not isinstance(obj, dict):
        raise InvalidPayload("an interaction must be a JSON object")
    fields = dict(obj)
    fields.setdefault("received_at", received_at)
    try:
        if "interaction_id" in fields:
            interaction = Interaction.model_validate(fields)
        else:
            for name in ("channel", "account", "external_id"):
                if not isinstance(fields.get(name), str):
                    raise InvalidPayload(f"{name}: missing")
            interaction = Interaction.build(**fields)
    except ValidationError as exc:
        raise InvalidPayload(field_errors(exc)) from None
    if not interaction.names_a_customer():
        raise InvalidPayload("interaction names no customer identifier to attach it to")
    return interaction
