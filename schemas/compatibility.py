"""Which schema changes break existing consumers (and producers), checked against a frozen baseline.

The policy (docs/operations.md, "Schema versions") in one table::

    change within v1                           verdict   why
    new optional property                      allowed   consumers ignore properties they do not know
    new enum value (channel, event type, ...)  allowed   consumers treat unknown values as unknown
    property removed                           breaking  consumers read it
    required property made optional/nullable   breaking  consumers rely on its presence
    new required property                      breaking  records already on the topic (and older
                                                         producers) do not have it
    type changed (narrowed or widened)         breaking  old records fail / consumers get surprises
    enum value removed                         breaking  records already on the topic become invalid

Anything breaking ships as a new version: new topic names (``*.v2``) and new schema files,
produced side by side with v1 until consumers moved. :func:`breaking_changes` compares two
JSON Schemas (as :func:`schemas.export.render` writes them) and lists every breaking change;
the committed baseline in ``schemas/json/baseline/`` is what v1 consumers were promised.
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every change from ``old`` to ``new`` that would break a consumer or an old record; empty if none."""
    problems: list[str] = []
    _compare(_Side(old), old, _Side(new), new, "$", problems, set())
    return problems


class _Side:
    """One schema document: resolves local ``$ref``s against its root."""

    def __init__(self, root: Schema) -> None:
        self.root = root

    def resolve(self, node: Schema) -> Schema:
        seen = 0
        while "$ref" in node and seen < 32:
            target: Any = self.root
            for part in str(node["$ref"]).removeprefix("#/").split("/"):
                target = target[part]
            node, seen = target, seen + 1
        return node

    def branches(self, node: Schema) -> dict[str, Schema]:
        """The alternatives a value may take, by kind ("null", "string/date-time", "enum", "object", ...)."""
        node = self.resolve(node)
        alternatives = node.get("anyOf") or node.get("oneOf")
        if alternatives:
            found: dict[str, Schema] = {}
            for branch in alternatives:
                found.update(self.branches(branch))
            return found
        return {_kind(node): node}


def _kind(node: Schema) -> str:
    if "enum" in node:
        return "enum"
    if "const" in node:
        return "const " + json.dumps(node["const"])
    kind = node.get("type", "any")
    kind = "|".join(sorted(kind)) if isinstance(kind, list) else str(kind)
    return f"{kind}/{node['format']}" if "format" in node else kind


def _compare(
    old_side: _Side,
    old: Schema,
    new_side: _Side,
    new: Schema,
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    old_branches, new_branches = old_side.branches(old), new_side.branches(new)
    for kind in sorted(set(old_branches) - set(new_branches)):
        problems.append(f"{path}: no longer accepts {kind} (records already written become invalid)")
    for kind in sorted(set(new_branches) - set(old_branches)):
        problems.append(f"{path}: may now be {kind} (consumers do not expect it)")
    for kind in sorted(set(old_branches) & set(new_branches)):
        before, after = old_branches[kind], new_branches[kind]
        if kind == "enum":
            for gone in [v for v in before["enum"] if v not in after["enum"]]:
                problems.append(f"{path}: enum value {gone!r} removed")
        elif kind == "object":
            _compare_object(old_side, before, new_side, after, path, problems, seen)
        elif kind == "array" and "items" in before and "items" in after:
            _compare(old_side, before["items"], new_side, after["items"], f"{path}[]", problems, seen)


def _compare_object(
    old_side: _Side,
    old: Schema,
    new_side: _Side,
    new: Schema,
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    old_props: dict[str, Schema] = old.get("properties", {})
    new_props: dict[str, Schema] = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props):
        where = f"{path}.{name}"
        if name not in new_props:
            problems.append(f"{where}: property removed")
            continue
        if name in old_required and name not in new_required:
            problems.append(f"{where}: was required, may now be absent")
        _compare(old_side, old_props[name], new_side, new_props[name], where, problems, seen)
    for name in sorted(new_required - old_required):
        problems.append(f"{path}.{name}: new required property (records already written lack it)")
