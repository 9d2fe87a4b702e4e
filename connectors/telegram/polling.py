"""Polling mode: one bot's ``getUpdates`` loop, with the offset checkpointed after the broker ack.

The Bot API keeps an update until a ``getUpdates`` call asks for an offset above its id, so the
offset is both our checkpoint and Telegram's acknowledgement: it is saved (shared checkpoint
store, scope ``updates`` of the bot id) only after the broker acknowledged every interaction
and dead letter of the batch, and sent to Telegram on the next call. A crash in between
re-reads the batch, which maps to the same interaction ids.

python-telegram-bot does the HTTP (``Bot.get_updates`` against ``api_url``, PTB's ``base_url``,
so a self-hosted Bot API server works) and the parsing. ``get_updates`` parses a whole batch at
once, and one update it cannot parse would fail the batch forever (and PTB would log the batch,
personal data included); so the request object below hands PTB only the updates that parse and
keeps the others, which are dead-lettered one by one with their JSON and passed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from telegram import Bot, Update
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter, send_dead_letter
from connectors.telegram.settings import DEFAULT_BOT, BotConfig
from connectors.telegram.updates import normalize_update, parse_update
from schemas.deadletter import DeadLetter
from schemas.errors import FatalError, InvalidPayload, RetriableError
from schemas.interaction import Interaction

log = structlog.get_logger(__name__)
CONNECTOR = "telegram"
SCOPE = "updates"
#: The Bot API's maximum; a full batch means more may be waiting.
LIMIT = 100
#: Only what we store: Telegram then keeps the rest (callback queries, reactions...) off the wire.
ALLOWED_UPDATES = ("message", "edited_message", "message_reaction")


class _SievingRequest(HTTPXRequest):
    """The transport of ``getUpdates``: keeps the raw batch and passes PTB only what parses.

    ``do_request`` is PTB's extension point for transports (``post`` is final): it sees the
    response bytes before PTB parses them.
    """

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)
        self.raw: list[Any] = []
        self.unparsable: list[tuple[Any, str]] = []

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        try:
            answer = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return code, payload  # not ours to judge: PTB reports it
        result = answer.get("result") if isinstance(answer, dict) and answer.get("ok") is True else None
        if not isinstance(result, list):
            return code, payload
        self.raw, self.unparsable, parsable = result, [], []
        for item in result:
            try:
                parse_update(item)
            except InvalidPayload as exc:
                self.unparsable.append((item, exc.reason))
            else:
                parsable.append(item)
        return code, orjson.dumps({**answer, "result": parsable})


@dataclass
class Batch:
    """One ``getUpdates`` answer: the updates, the raw JSON by update id, the ones that did not parse."""

    offset: int | None
    updates: tuple[Update, ...]
    raw: dict[int, Any] = field(default_factory=dict)
    unparsable: list[tuple[Any, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.updates) + len(self.unparsable)

    def next_offset(self) -> int | None:
        """One above the highest update id seen: what confirms the whole batch to Telegram."""
        ids = [u for u in self.raw if isinstance(u, int)]
        return max(ids) + 1 if ids else self.offset


class BotPoller:
    def __init__(self, config: BotConfig, *, poll_timeout_s: int) -> None:
        self.config = config
        self.poll_timeout_s = poll_timeout_s
        self._request = _SievingRequest()
        self.bot = Bot(config.token.get_secret_value(), base_url=config.api_url, get_updates_request=self._request)
        self._started = False
        self._offset: int | None = None
        self._prefetched: Batch | None = None

    @property
    def token_setting(self) -> str:
        name = self.config.name
        return "OMNITRAIL_TELEGRAM_BOT_TOKEN" if name == DEFAULT_BOT else f"[telegram.bots.{name}] bot_token"

    async def _start(self) -> None:
        if self._started:
            return
        try:
            await self.bot.initialize()  # getMe: proves the token
            # A webhook and getUpdates exclude each other; polling mode means no webhook (as PTB's Updater does).
            await self.bot.delete_webhook(drop_pending_updates=False)
        except InvalidToken:
            # PTB's message repeats the token: say which setting, not what it holds.
            raise FatalError(f"{self.token_setting}: the Bot API rejected this bot token") from None
        self._started = True

    async def _fetch(self, offset: int | None, wait_s: int) -> Batch:
        try:
            updates = await self.bot.get_updates(
                offset=offset, limit=LIMIT, timeout=wait_s, allowed_updates=ALLOWED_UPDATES
            )
        except InvalidToken:
            raise FatalError(f"{self.token_setting}: the Bot API rejected this bot token") from None
        except RetryAfter:
            raise RetriableError("Bot API flood control") from None
        except BadRequest as exc:
            # A NetworkError subclass in PTB, but a request the API refuses is refused again.
            raise FatalError(f"the Bot API refused getUpdates: {exc.message}") from None
        raw = {item.get("update_id"): item for item in self._request.raw if isinstance(item, dict)}
        return Batch(offset, updates, {k: v for k, v in raw.items() if isinstance(k, int)}, self._request.unparsable)

    async def poll(self, emitter: Emitter, checkpoints: CheckpointStore) -> int:
        """Everything pending, batch by batch; each batch's offset saved after its broker ack."""
        await self._start()
        state = await checkpoints.load(CONNECTOR, self.config.bot_id, SCOPE)
        self._offset = int(state["offset"]) if state else None
        emitted = 0
        while True:
            batch, self._prefetched = self._prefetched, None
            if batch is None or batch.offset != self._offset:
                batch = await self._fetch(self._offset, 0)
            if batch.size == 0:
                return emitted
            emitted += await self._take(batch, emitter)
            next_offset = batch.next_offset()
            if next_offset is not None and next_offset != self._offset:
                await checkpoints.save(CONNECTOR, self.config.bot_id, SCOPE, {"offset": next_offset})
                self._offset = next_offset
            if batch.size < LIMIT:
                return emitted

    async def long_poll(self) -> None:
        """Block in ``getUpdates`` until something arrives or the timeout passes; keep what came for ``poll``.

        Nothing is confirmed to Telegram here (the offset is the saved one), so a batch dropped
        by a cancellation or a crash is simply fetched again.
        """
        await self._start()
        batch = await self._fetch(self._offset, self.poll_timeout_s)
        if batch.size:
            self._prefetched = batch

    async def _take(self, batch: Batch, emitter: Emitter) -> int:
        received_at = datetime.now(UTC)
        interactions: list[Interaction] = []
        rejected: list[tuple[Any, str]] = list(batch.unparsable)
        for update in batch.updates:
            try:
                interactions += normalize_update(update, bot_id=self.config.bot_id, received_at=received_at)
            except InvalidPayload as exc:
                rejected.append((batch.raw.get(update.update_id, update.to_dict()), exc.reason))
        # Dead letters first: everything of the batch is durable before the offset moves past it.
        for item, reason in rejected:
            letter = DeadLetter.of(
                orjson.dumps(item),
                reason,
                source=self.config.source,
                content_type="application/json",
                received_at=received_at,
            )
            await send_dead_letter(emitter, letter)
        if interactions:
            await emitter.emit_many(interactions)
        return len(interactions)

    async def close(self) -> None:
        self._started = False
        self._prefetched = None
        await self.bot.shutdown()
