"""The worker receives the suggestion settings and runs the agent unless disabled; the settings
class is registered, so its variables are known and its typos are refused."""

from __future__ import annotations

import pytest

from omnitrail import worker
from omnitrail.registry import SETTINGS_CLASSES
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from pipeline.suggestion_settings import SuggestionSettings
from schemas.config import reject_unknown_env
from schemas.errors import FatalError
from sinks.kafka.settings import KafkaSettings

ADDRESSES = Addresses("127.0.0.1:9", "postgresql://nobody@127.0.0.1:9/none", idempotence=False)


def agent_names(settings: SuggestionSettings) -> set[str]:
    return set(worker.build(AppSettings(), KafkaSettings(), ADDRESSES, settings).agents)


def test_worker_runs_the_suggestions_agent_next_to_the_interactions_agent() -> None:
    assert agent_names(SuggestionSettings()) == {"interactions", "suggestions"}
    assert agent_names(SuggestionSettings(enabled=False)) == {"interactions"}


def test_suggestion_variables_are_known_and_typos_refused() -> None:
    reject_unknown_env(list(SETTINGS_CLASSES), {"OMNITRAIL_SUGGESTIONS_SLA_S": "{}"})
    with pytest.raises(FatalError, match="OMNITRAIL_SUGGESTIONS_SLA"):
        reject_unknown_env(list(SETTINGS_CLASSES), {"OMNITRAIL_SUGGESTIONS_SLA": "{}"})
