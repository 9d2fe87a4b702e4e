"""Other systems (``/webhooks/events``): interactions already in the v1 schema, one or a JSON array.

An ERP's quotes, a call centre's calls or a shop's messages join the timeline with no new code:
the sender posts v1 interactions signed like live chat (``X-Omnitrail-Signature``) with its own
secret. ``interaction_id`` and ``received_at`` may be left out (deterministic id, time taken);
each invalid item is dead-lettered alone and the rest are ingested.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from fastapi import APIRouter, Request, Response

from connectors.base import PushConnector
from connectors.events.settings import EventsSettings
from connectors.json_batch import accepted, normalize_json_batch
from connectors.timestamped_signature import TimestampedSignature
from connectors.webhook import Normalized, RawRequest, WebhookIngest
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError
from schemas.interaction import Interaction
from schemas.interaction_input import interaction_from_json


class EventsConnector(PushConnector):
    name: ClassVar[str] = "events"
    settings_cls: ClassVar[type[EventsSettings]] = EventsSettings

    def __init__(self, settings: EventsSettings) -> None:
        if settings.secret is None:
            raise FatalError("OMNITRAIL_EVENTS_SECRET is required for the events connector")
        self.signature = TimestampedSignature(settings.secret.get_secret_value())

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        # Items arrive normalized (the v1 schema refuses non-canonical identifiers): no region needed.
        assert isinstance(settings, EventsSettings)
        return cls(settings)

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, EventsSettings) and settings.secret is not None

    @staticmethod
    def _normalize(raw: RawRequest) -> Normalized:
        def parse(item: Any) -> Interaction:
            return interaction_from_json(item, received_at=raw.received_at)

        return normalize_json_batch(raw.body, parse, what="interaction")

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks", tags=["webhooks"])

        @router.post("/events", summary="Interactions from other systems, in the v1 schema (one or a JSON array)")
        async def events(request: Request) -> Response:
            return await ingest.handle(
                request, source="events", verify=self.signature.verify, normalize=self._normalize, respond=accepted
            )

        return router
