"""The live-chat push connector: ``/webhooks/livechat`` (our event format) and ``/webhooks/livechat/chatwoot``.

Both routes go through the one webhook request path and the one timestamped signature check;
each is mounted only when its secret is configured.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.base import Connector
from connectors.json_batch import accepted
from connectors.livechat.chatwoot import CHATWOOT_SCHEME, normalize_chatwoot
from connectors.livechat.events import normalize_body
from connectors.livechat.settings import LivechatSettings
from connectors.timestamped_signature import TimestampedSignature
from connectors.webhook import Normalized, RawRequest, Route
from schemas.errors import FatalError
from schemas.interaction import Interaction


class LivechatConnector(Connector[LivechatSettings]):
    name: ClassVar[str] = "livechat"
    enabled_by: ClassVar[tuple[str, ...]] = ("secret", "chatwoot_secret")

    def __init__(self, settings: LivechatSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        if settings.secret is None and settings.chatwoot_secret is None:
            raise FatalError(
                "OMNITRAIL_LIVECHAT_SECRET or OMNITRAIL_LIVECHAT_CHATWOOT_SECRET is required for the livechat connector"
            )
        secret = settings.identity_secret
        self.identity_secret = secret.get_secret_value().encode() if secret else None
        self.signature = TimestampedSignature(settings.secret.get_secret_value()) if settings.secret else None
        self.chatwoot_signature = (
            TimestampedSignature(settings.chatwoot_secret.get_secret_value(), CHATWOOT_SCHEME)
            if settings.chatwoot_secret
            else None
        )

    def _normalize(self, raw: RawRequest) -> Normalized:
        return normalize_body(
            raw.body,
            account=self.settings.account,
            received_at=raw.received_at,
            default_region=self.default_region,
            identity_secret=self.identity_secret,
        )

    def _normalize_chatwoot(self, raw: RawRequest) -> list[Interaction]:
        return normalize_chatwoot(raw.body, received_at=raw.received_at, default_region=self.default_region)

    def routes(self) -> list[Route]:
        routes = []
        if self.signature is not None:
            summary = "Live-chat widget events (docs/livechat.md)"
            routes.append(
                Route("/webhooks/livechat", "livechat", summary, self.signature.verify, self._normalize, accepted)
            )
        if self.chatwoot_signature is not None:
            routes.append(
                Route(
                    "/webhooks/livechat/chatwoot",
                    "livechat.chatwoot",
                    "Chatwoot message_created webhook",
                    self.chatwoot_signature.verify,
                    self._normalize_chatwoot,
                    accepted,
                )
            )
        return routes
