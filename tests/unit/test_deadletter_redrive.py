"""Replay of a webhook dead letter whose normalizer raises: that letter is still invalid, the replay goes on.

On receipt such a payload is dead-lettered with ``cannot be normalized (<type>)`` (never a 5xx a
provider would retry forever); replaying it before the normalizer is fixed must say so again
rather than stop the whole replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from connectors.base import AnyConnector, Replayer
from connectors.deadletter_bodies import DeadLetterBodies
from connectors.webhook import RawRequest
from omnitrail.deadletters import Letter, _redrive, describe
from schemas.deadletter import DeadLetter
from schemas.interaction import Interaction


class RaisingConnector:
    """What ``_redrive`` asks of a connector: its replayers; this one's normalizer has a bug."""

    def replayers(self) -> Mapping[str, Replayer]:
        async def replay(raw: RawRequest) -> list[Interaction]:
            missing: dict[str, Interaction] = {}
            return [missing["missing"]]  # a KeyError, as a normalizer bug would raise

        return {"twilio.voice": replay}


async def test_a_normalizer_that_raises_leaves_the_letter_still_invalid() -> None:
    letter = DeadLetter.of(b"CallSid=CA1", "cannot be normalized (KeyError)", source="twilio.voice", content_type=None)
    outcome: Any = await _redrive(letter, [cast(AnyConnector, RaisingConnector())])
    assert outcome == "cannot be normalized (KeyError)"


async def test_a_letter_whose_bytes_were_set_aside_in_a_file_is_not_replayed_empty(tmp_path: Path) -> None:
    body = b"{" + b'"x": 1, ' * 150_000 + b'"y": 2}'  # over 1 MiB once base64: too large for the topic
    letter = DeadLetter.of(body, "not a valid event", source="twilio.voice", content_type="application/json")
    set_aside = DeadLetterBodies(tmp_path).set_aside(letter)
    assert set_aside.raw_sha256 is not None
    assert set_aside.raw_file is not None
    assert (tmp_path / set_aside.raw_sha256).read_bytes() == body
    outcome: Any = await _redrive(set_aside, [cast(AnyConnector, RaisingConnector())])
    assert isinstance(outcome, str)
    assert set_aside.raw_file in outcome
    line = describe(Letter(0, 0, set_aside))
    assert f"({len(body)} bytes in {set_aside.raw_file}" in line
