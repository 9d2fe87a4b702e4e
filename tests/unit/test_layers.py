"""The layers of docs/architecture.md hold: no package imports one it may not (data flows one way)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Package -> the packages of ours it may import (docs/architecture.md, "Layers").
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),
    "sinks": {"schemas"},
    "connectors": {"schemas", "sinks.kafka"},
    "pipeline": {"schemas", "sinks"},
    "console": {"schemas", "sinks", "pipeline", "connectors"},
    "omnitrail": {"schemas", "sinks", "connectors", "pipeline", "console"},
}
#: Pure stages: values in, values out (a fetched record is a value: ``sinks.kafka.records``); the consumers do the I/O.
PURE = ("pipeline/stages", {"schemas", "pipeline.stages", "sinks.kafka.records"})
IO = ("psycopg", "psycopg_pool", "aiokafka", "httpx")


def imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def ours(module: str) -> bool:
    return module.split(".")[0] in ALLOWED


def permitted(module: str, allowed: set[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def test_no_import_runs_upward() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package, allowed in ALLOWED.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in imports(path)
        if ours(module) and module.split(".")[0] != package and not permitted(module, allowed)
    ]
    assert wrong == []


def test_pipeline_stages_do_no_io() -> None:
    folder, allowed = PURE
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for module in imports(path)
        if (ours(module) and not permitted(module, allowed)) or module.split(".")[0] in IO
    ]
    assert wrong == []
