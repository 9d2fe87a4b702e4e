"""Live timeline for open pages: one timeline-topic consumer per console process, fanned out to
server-sent-event streams by contact.

The consumer has no group and commits nothing: it starts at the end of every partition and
only forwards what arrives while pages are open (a page loads history through the timeline
API, then listens, and loads the newest again once its stream is connected: what was published
in between came as no event). Each stream follows its contact *and every contact merged into it* (read
when the stream opens): the pipeline keys events by the surviving contact, so interactions of
a merged-away identifier arrive under the survivor the page already follows.

A slow client never slows the others: each has a bounded queue, and one that overflows is
closed (the page reconnects and reloads the newest entries).

A stream's sign-in is checked when it opens and again at least every :data:`CHECK_S` (and before an
event once the last check is older than that): one that was signed out, revoked, disabled, demoted or
has expired ends (as does one whose check cannot reach the database); the page reconnects, and the
reconnect is authenticated afresh. A session's stream ends at the session's expiry at the latest.

The home view's stream (every contact) carries only each event's ``type`` and ``contact_id``: the page
reloads its open work on them, and no agent is sent every customer's messages. A contact's stream
carries whole events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer
from fastapi.responses import StreamingResponse

from console.auth import Principal
from schemas import topics
from sinks.kafka.backoff import Backoff

log = structlog.get_logger(__name__)
#: How often an open stream re-checks its sign-in and, when idle, sends a keep-alive (seconds).
CHECK_S = 15.0
_CLOSED = b""  # put on a stream's queue when it fell too far behind


@dataclass(eq=False)
class Subscriber:
    #: The contacts followed; None follows every contact (the home view), getting each event's type and contact only.
    members: set[uuid.UUID] | None
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(maxsize=256))


class TimelineFeed:
    def __init__(self, consumer_options: dict[str, Any], *, buffer: int = 256, check_s: float = CHECK_S) -> None:
        self._options = consumer_options
        self._buffer = buffer
        self._check_s = check_s
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, members: set[uuid.UUID] | None) -> Subscriber:
        subscriber = Subscriber(None if members is None else set(members), asyncio.Queue(maxsize=self._buffer))
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def dispatch(self, value: bytes) -> None:
        try:
            event = orjson.loads(value)
            contact_id = uuid.UUID(str(event["contact_id"]))
        except (ValueError, KeyError, TypeError):
            return  # not ours to judge: the timeline topic's producers validate what they write
        outline: bytes | None = None  # what the home view gets: which contact changed, and how
        for subscriber in list(self._subscribers):
            if subscriber.members is None:
                if outline is None:
                    outline = orjson.dumps({"type": event.get("type"), "contact_id": str(contact_id)})
                sent = outline
            elif contact_id in subscriber.members:
                sent = value
            else:
                continue
            try:
                subscriber.queue.put_nowait(sent)
            except asyncio.QueueFull:
                log.warning("live.subscriber_dropped", reason="queue full")
                self._subscribers.discard(subscriber)
                while not subscriber.queue.empty():  # make room for the close marker the stream waits on
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(_CLOSED)

    async def run(self) -> None:
        """Forward timeline events until cancelled; reconnect after broker trouble."""
        backoff = Backoff(1.0, 5.0)
        while True:
            consumer = AIOKafkaConsumer(
                topics.TIMELINE, group_id=None, enable_auto_commit=False, auto_offset_reset="latest", **self._options
            )
            try:
                await consumer.start()
                await consumer.seek_to_end()
                backoff.reset()
                async for record in consumer:
                    if record.value is not None:
                        self.dispatch(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any broker fault: wait, then start a fresh consumer
                log.warning("live.consumer_failed", error=type(exc).__name__)
                await backoff.wait()
            finally:
                await consumer.stop()

    def response(
        self, subscriber: Subscriber, who: Principal, still_allowed: Callable[[Principal], Awaitable[bool]]
    ) -> StreamingResponse:
        """The page's server-sent-event response for ``subscriber``, opened by ``who``: it ends once
        ``still_allowed(who)`` says no (or fails), or at the end of ``who``'s session."""
        return StreamingResponse(
            self.stream(subscriber, lambda: still_allowed(who), until=who.session.expires_at if who.session else None),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def stream(
        self, subscriber: Subscriber, allowed: Callable[[], Awaitable[bool]], *, until: float | None = None
    ) -> AsyncIterator[bytes]:
        """The server-sent events of one open page, until it falls behind or goes away, ``allowed()`` (its
        sign-in, re-checked every ``check_s``) says no or fails, or ``until`` (a session's expiry, epoch seconds)
        has passed."""
        try:
            yield b"retry: 2000\n: connected\n\n"
            checked = time.monotonic()
            while True:
                timeout = self._check_s - (time.monotonic() - checked)
                if until is not None:
                    timeout = min(timeout, until - time.time())
                try:
                    value = await asyncio.wait_for(subscriber.queue.get(), max(0.0, timeout))
                except TimeoutError:
                    value = None
                if value == _CLOSED or (until is not None and time.time() >= until):  # dropped, or expired
                    return
                if time.monotonic() - checked >= self._check_s:
                    if not await _still(allowed):
                        return
                    checked = time.monotonic()
                if value is None:
                    yield b": keep-alive\n\n"
                    continue
                event_type = orjson.loads(value).get("type", "message")
                yield b"event: " + str(event_type).encode() + b"\ndata: " + value + b"\n\n"
        finally:
            self.unsubscribe(subscriber)


async def _still(allowed: Callable[[], Awaitable[bool]]) -> bool:
    """Whether the stream's sign-in still counts; not when that cannot be told (the page reconnects)."""
    try:
        if await allowed():
            return True
        log.info("live.stream_ended", reason="sign-in no longer valid")
    except Exception as exc:  # the database unreachable, a pool timeout: send nothing more
        log.warning("live.stream_ended", reason="sign-in check failed", error=type(exc).__name__)
    return False
