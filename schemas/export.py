"""JSON Schema export of the public models, for consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.contact import Contact
from schemas.deadletter import DeadLetter
from schemas.interaction import SCHEMA_VERSION, Interaction
from schemas.suggestion import Suggestion
from schemas.timeline import TimelineEvent

EXPORTED: dict[str, type[BaseModel]] = {
    "interaction": Interaction,
    "contact": Contact,
    "timeline_event": TimelineEvent,
    "deadletter": DeadLetter,
    "suggestion": Suggestion,
}

#: Where the committed copies live; a test fails when the models drift from them.
COMMITTED_DIR = Path(__file__).parent / "json"


def render() -> dict[str, str]:
    """File name -> JSON text, deterministic (sorted keys, trailing newline)."""
    files: dict[str, str] = {}
    for name, model in EXPORTED.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://omnitrail.dev/schemas/{name}.v{SCHEMA_VERSION}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        files[f"{name}.v{SCHEMA_VERSION}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render().items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
