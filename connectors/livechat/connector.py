"""The live-chat push connector: ``/webhooks/livechat`` (our event format) and ``/webhooks/livechat/chatwoot``.

Both routes go through the one webhook path (:class:`WebhookIngest`) and the one timestamped
signature check; each is mounted only when its secret is configured.
"""

from __future__ import annotations

from typing import ClassVar, Self

from fastapi import APIRouter, Request, Response

from connectors.base import PushConnector
from connectors.json_batch import accepted
from connectors.livechat.chatwoot import CHATWOOT_SCHEME, normalize_chatwoot
from connectors.livechat.events import normalize_body
from connectors.livechat.settings import LivechatSettings
from connectors.timestamped_signature import TimestampedSignature
from connectors.webhook import Normalized, RawRequest, WebhookIngest
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError
from schemas.interaction import Interaction


class LivechatConnector(PushConnector):
    name: ClassVar[str] = "livechat"
    settings_cls: ClassVar[type[LivechatSettings]] = LivechatSettings

    def __init__(self, settings: LivechatSettings, *, default_region: str) -> None:
        if settings.secret is None and settings.chatwoot_secret is None:
            raise FatalError(
                "OMNITRAIL_LIVECHAT_SECRET or OMNITRAIL_LIVECHAT_CHATWOOT_SECRET is required for the livechat connector"
            )
        self.settings = settings
        self.default_region = default_region
        self.signature = TimestampedSignature(settings.secret.get_secret_value()) if settings.secret else None
        self.chatwoot_signature = (
            TimestampedSignature(settings.chatwoot_secret.get_secret_value(), CHATWOOT_SCHEME)
            if settings.chatwoot_secret
            else None
        )

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        assert isinstance(settings, LivechatSettings)
        return cls(settings, default_region=default_region)

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, LivechatSettings) and (
            settings.secret is not None or settings.chatwoot_secret is not None
        )

    def _normalize(self, raw: RawRequest) -> Normalized:
        return normalize_body(
            raw.body, account=self.settings.account, received_at=raw.received_at, default_region=self.default_region
        )

    def _normalize_chatwoot(self, raw: RawRequest) -> list[Interaction]:
        return normalize_chatwoot(raw.body, received_at=raw.received_at, default_region=self.default_region)

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks/livechat", tags=["webhooks"])
        if (signature := self.signature) is not None:

            @router.post("", summary="Live-chat widget events (docs/livechat.md)")
            async def livechat(request: Request) -> Response:
                return await ingest.handle(
                    request, source="livechat", verify=signature.verify, normalize=self._normalize, respond=accepted
                )

        if (chatwoot := self.chatwoot_signature) is not None:

            @router.post("/chatwoot", summary="Chatwoot message_created webhook")
            async def chatwoot_hook(request: Request) -> Response:
                return await ingest.handle(
                    request,
                    source="livechat.chatwoot",
                    verify=chatwoot.verify,
                    normalize=self._normalize_chatwoot,
                    respond=accepted,
                )

        return router
