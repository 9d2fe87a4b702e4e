"""Other systems (``/webhooks/events``): interactions already in the v1 schema, one or a JSON array.

An ERP's quotes, a call centre's calls or a shop's messages join the timeline with no new code:
the sender posts v1 interactions signed like live chat (``X-Omnitrail-Signature``) with its own
secret. ``interaction_id`` and ``received_at`` may be left out (deterministic id, time taken);
each invalid item is dead-lettered alone and the rest are ingested.
"""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.base import Connector
from connectors.events.settings import EventsSettings
from connectors.json_batch import accepted, normalize_json_batch
from connectors.timestamped_signature import TimestampedSignature
from connectors.webhook import Normalized, RawRequest, Route
from schemas.errors import FatalError
from schemas.interaction import Interaction
from schemas.interaction_input import interaction_from_json


class EventsConnector(Connector[EventsSettings]):
    """Items arrive normalized (the v1 schema refuses non-canonical identifiers): the default region is not used."""

    name: ClassVar[str] = "events"
    enabled_by: ClassVar[tuple[str, ...]] = ("secret",)

    def __init__(self, settings: EventsSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        if settings.secret is None:
            raise FatalError("OMNITRAIL_EVENTS_SECRET is required for the events connector")
        self.signature = TimestampedSignature(settings.secret.get_secret_value())

    @staticmethod
    def _normalize(raw: RawRequest) -> Normalized:
        def parse(item: Any) -> Interaction:
            return interaction_from_json(item, received_at=raw.received_at)

        return normalize_json_batch(raw.body, parse, what="interaction")

    def routes(self) -> list[Route]:
        summary = "Interactions from other systems, in the v1 schema (one or a JSON array)"
        return [Route("/webhooks/events", "events", summary, self.signature.verify, self._normalize, accepted)]
