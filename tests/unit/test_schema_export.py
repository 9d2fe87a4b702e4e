from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from omnitrail.cli import main
from schemas.export import COMMITTED_DIR, render


def test_committed_json_schema_matches_the_models() -> None:
    """Fails when a model changes without `omnitrail schema export schemas/json` being committed."""
    rendered = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED_DIR.glob("*.json")}
    assert set(committed) == set(rendered)
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} drifted: run `omnitrail schema export schemas/json`"


def test_schema_export_command_writes_valid_json_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    interaction = json.loads((tmp_path / "interaction.v1.json").read_text())
    assert interaction["$schema"].endswith("2020-12/schema")
    assert {"interaction_id", "channel", "occurred_at", "sender"} <= set(interaction["required"])
