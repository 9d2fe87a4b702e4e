"""The v1 schemas stay compatible with what v1 consumers were promised (schemas/json/baseline/).

Fails when a model change would break existing consumers; additive optional fields and new enum
values pass. To change a model incompatibly, ship a v2 (see docs/operations.md, "Schema versions").
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.compatibility import breaking_changes
from schemas.export import COMMITTED_DIR, render

BASELINE_DIR = COMMITTED_DIR / "baseline"


def baseline(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((BASELINE_DIR / name).read_text(encoding="utf-8"))
    return loaded


def test_current_models_do_not_break_v1_consumers() -> None:
    rendered = {name: json.loads(text) for name, text in render().items()}
    promised = sorted(p.name for p in BASELINE_DIR.glob("*.json"))
    assert promised, "the v1 baseline must be committed"
    for name in promised:
        assert name in rendered, f"{name}: a published schema disappeared"
        problems = breaking_changes(baseline(name), rendered[name])
        assert not problems, f"{name} breaks v1 consumers:\n" + "\n".join(problems)


def _interaction_props(schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schema["$defs"]["Interaction"]["properties"]
    return props


def _mutated(change: str) -> dict[str, Any]:
    schema = copy.deepcopy(baseline("timeline_event.v1.json"))
    interaction = schema["$defs"]["Interaction"]
    if change == "remove property":
        del interaction["properties"]["thread_key"]
    elif change == "new required property":
        interaction["properties"]["tenant"] = {"type": "string"}
        interaction["required"].append("tenant")
    elif change == "required made optional":
        interaction["required"].remove("occurred_at")
    elif change == "narrowed type":
        interaction["properties"]["subject"] = {"type": "string"}  # was string or null
    elif change == "widened type":
        interaction["properties"]["occurred_at"] = {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
        }
    elif change == "removed enum value":
        schema["$defs"]["Channel"]["enum"].remove("voice")
    elif change == "optional property added":
        interaction["properties"]["language"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    elif change == "enum value added":
        schema["$defs"]["Channel"]["enum"].append("x")
        schema["$defs"]["TimelineEventType"]["enum"].append("contact.consent_changed")
    return schema


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("remove property", "thread_key: property removed"),
        ("new required property", "tenant: new required property"),
        ("required made optional", "occurred_at: was required"),
        ("narrowed type", "subject: no longer accepts null"),
        ("widened type", "occurred_at: may now be null"),
        ("removed enum value", "enum value 'voice' removed"),
    ],
)
def test_breaking_changes_are_caught(change: str, expected: str) -> None:
    problems = breaking_changes(baseline("timeline_event.v1.json"), _mutated(change))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("change", ["optional property added", "enum value added"])
def test_additive_changes_pass(change: str) -> None:
    assert breaking_changes(baseline("timeline_event.v1.json"), _mutated(change)) == []
