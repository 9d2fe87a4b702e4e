"""Event ids are published and stored: the text fast path writes exactly what ``event_id_for`` gives."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import event_id_for, event_id_text_for


@given(st.text(min_size=1), st.lists(st.text(), max_size=3))
def test_the_text_of_an_event_id_is_the_uuid5_written_out(event_type: str, parts: list[str]) -> None:
    assert event_id_text_for(event_type, *parts) == str(event_id_for(event_type, *parts))


def test_an_event_id_never_changes() -> None:
    # Published ids: consumers drop republished copies by them, across releases.
    text = event_id_text_for("interaction.added", "00000000-0000-0000-0000-000000000001")
    assert text == "7d1cb0ee-1b59-503f-b5b2-6cc8f6bd2d70"
    assert uuid.UUID(text).version == 5
