"""Replay of a webhook dead letter whose normalizer raises: that letter is still invalid, the replay goes on.

On receipt such a payload is dead-lettered with ``cannot be normalized (<type>)`` (never a 5xx a
provider would retry forever); replaying it before the normalizer is fixed must say so again
rather than stop the whole replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from connectors.base import AnyConnector, Replayer
from connectors.webhook import RawRequest
from omnitrail.deadletters import _redrive
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
