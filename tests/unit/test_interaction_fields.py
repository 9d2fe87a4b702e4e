"""Every field of the interaction model is classified once: content (retention purges it, redaction scrubs it)
or kept (structure, parties, timeline). A new field added without a decision fails here."""

from __future__ import annotations

from schemas import interaction_fields
from schemas.interaction import Interaction
from sinks import retention

CLASSES = {
    "structure": interaction_fields.STRUCTURE,
    "parties": interaction_fields.PARTIES,
    "timeline": interaction_fields.TIMELINE,
    "content": frozenset(interaction_fields.CONTENT),
}


def test_every_field_of_the_model_is_classified_exactly_once() -> None:
    fields = set(Interaction.model_fields)
    unclassified = fields - set().union(*CLASSES.values())
    assert not unclassified, f"classify these in schemas/interaction_fields.py: {sorted(unclassified)}"
    stale = set().union(*CLASSES.values()) - fields
    assert not stale, f"not fields of the model: {sorted(stale)}"
    for name in fields:
        owners = [c for c, members in CLASSES.items() if name in members]
        assert len(owners) == 1, (name, owners)


def test_retention_purges_every_content_field_what_a_shared_location_or_card_holds_included() -> None:
    assert set(retention.CONTENT) == set(interaction_fields.CONTENT)
    assert {"quoted_text", "location", "contact_cards"} <= set(retention.CONTENT)
