"""The console as one piece: its page and ``/api/v1`` routes, their guards, and the live feed.

A process that serves the console builds one :class:`Console` from what it shares with the rest
of the process (the database, the emitter notes go through, the outbox drain, the Kafka client
options of the live feed, the GDPR hasher) and installs it on its app; the console reads its own
settings (``OMNITRAIL_CONSOLE_*``, ``OMNITRAIL_AUTH_*``) and knows its own modules. The live feed
runs as long as the process serves: :meth:`Console.run` is one of its lifespan tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from connectors.emitter import Emitter
from console.audit import Audit
from console.auth import Role, TokenAuth
from console.live_feed import TimelineFeed
from console.notes import NoteWriter
from console.oidc import OidcSignIn
from console.request_guard import RequestGuard
from console.routes import (
    attachments,
    attributes,
    audit,
    contacts,
    email_html,
    gdpr,
    identity,
    inbox,
    live,
    notes,
    page,
    sessions,
    staff,
    suggestion_handling,
    suggestions,
)
from console.settings import AuthSettings, ConsoleSettings
from console.signing import DeploymentSecret
from console.throttle import Throttle
from schemas.config import load
from sinks.connection import ConnectionFactory
from sinks.erasure import IdentifierHasher
from sinks.media.settings import MediaSettings
from sinks.media.store import MediaStore
from sinks.outbox import Drain


class Console:
    def __init__(
        self,
        *,
        tokens: dict[str, Role],
        connection: ConnectionFactory,
        emitter: Emitter,
        drain: Drain,
        kafka_options: dict[str, Any],
        hasher: IdentifierHasher | None,
        default_region: str,
        secure_cookie: bool,
        public_url: str,
        max_body_bytes: int,
        body_timeout_s: float,
        data_dir: Path,
    ) -> None:
        settings, limits, media = load(ConsoleSettings), load(AuthSettings), load(MediaSettings)
        self.feed = TimelineFeed(kafka_options, buffer=settings.live_buffer, check_s=settings.live_check_s)
        #: Signs session cookies and media URLs, each with a key of its own (console/signing.py).
        secret = DeploymentSecret(
            settings.session_secret.get_secret_value().encode() if settings.session_secret else None, connection
        )
        self.auth = TokenAuth(
            tokens,
            connection,
            session_lifetime_s=settings.session_hours * 3600,
            secret=secret,
            throttle=Throttle(limit=limits.max_failures, window_s=limits.failure_window_s),
        )
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        record = Audit(connection, self.auth)
        writer = NoteWriter(connection, emitter)
        store = MediaStore.configured(media, data_dir)
        signins = Throttle(limit=settings.signin_failures, window_s=settings.signin_window_s)
        self.router = APIRouter()
        for routes in (
            contacts.router(connection, record, default_region=default_region),
            suggestions.router(connection, record, default_region=default_region),
            notes.router(record, writer),
            suggestion_handling.router(connection, record, writer, default_region=default_region),
            staff.router(connection, record),
            email_html.router(connection, record),
            live.router(connection, record, self.feed, self.auth),
            inbox.router(connection, record, self.feed, self.auth, default_region=default_region),
            audit.router(connection, self.auth),
            sessions.router(self.auth),
            page.router(self.auth, signins, secure_cookie=secure_cookie, oidc=_single_sign_on(settings, public_url)),
            gdpr.router(connection, record, hasher=hasher, drain=drain, store=store),
            identity.router(connection, record, drain, default_region=default_region),
            attributes.router(connection, record, drain),
            attachments.router(connection, record, store, secret, ttl_s=media.url_ttl_s),
        ):
            self.router.include_router(routes)

    def install(self, app: FastAPI) -> None:
        """Serve the console on ``app``: routes, the page's static files, and the request guard in front."""
        app.add_middleware(
            RequestGuard, auth=self.auth, max_body_bytes=self.max_body_bytes, body_timeout_s=self.body_timeout_s
        )
        app.include_router(self.router)
        app.mount("/static", page.static_files, name="static")

    async def run(self) -> None:
        """The live feed, until cancelled."""
        await self.feed.run()


def _single_sign_on(settings: ConsoleSettings, public_url: str) -> OidcSignIn | None:
    if not settings.oidc_issuer:
        return None
    secret = settings.oidc_client_secret.get_secret_value()
    return OidcSignIn(settings.oidc_issuer, settings.oidc_client_id, secret, f"{public_url}/signin/oidc/callback")
