"""Fan-out of timeline events to live pages, without a broker (the integration tests use one)."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest

from console.live_feed import TimelineFeed


def event(contact_id: uuid.UUID, text: str) -> bytes:
    return orjson.dumps({"type": "interaction.added", "contact_id": str(contact_id), "interaction": {"text": text}})


def test_each_page_gets_only_its_contacts_and_their_merged_members() -> None:
    survivor, merged, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    feed = TimelineFeed({}, buffer=10)
    page = feed.subscribe({survivor, merged})
    other = feed.subscribe({stranger})
    for contact, text in ((survivor, "a"), (stranger, "b"), (merged, "c")):
        feed.dispatch(event(contact, text))
    feed.dispatch(b"not json")
    assert [orjson.loads(page.queue.get_nowait())["interaction"]["text"] for _ in range(2)] == ["a", "c"]
    assert page.queue.empty()
    assert orjson.loads(other.queue.get_nowait())["interaction"]["text"] == "b"


def test_a_page_that_falls_behind_is_closed_without_slowing_the_others() -> None:
    contact = uuid.uuid4()
    feed = TimelineFeed({}, buffer=2)
    slow = feed.subscribe({contact})
    fast = feed.subscribe({contact})
    for n in range(3):
        feed.dispatch(event(contact, str(n)))
        fast.queue.get_nowait()
    assert slow.queue.get_nowait() == b""  # the close marker, and nothing else
    assert slow.queue.empty()
    feed.dispatch(event(contact, "later"))
    assert slow.queue.empty()  # unsubscribed
    assert orjson.loads(fast.queue.get_nowait())["interaction"]["text"] == "later"


def test_the_home_view_gets_each_events_type_and_contact_only() -> None:
    contact = uuid.uuid4()
    feed = TimelineFeed({}, buffer=10)
    home, page = feed.subscribe(None), feed.subscribe({contact})
    feed.dispatch(event(contact, "my card number"))
    assert orjson.loads(home.queue.get_nowait()) == {"type": "interaction.added", "contact_id": str(contact)}
    assert orjson.loads(page.queue.get_nowait())["interaction"]["text"] == "my card number"


async def sent(feed: TimelineFeed, answer: bool | Exception, until: float | None = None) -> list[bytes]:
    """Everything a contact's stream sends, until it ends by itself (5 s at most), while its sign-in check answers
    ``answer`` (an exception is raised, as a database fault would)."""
    subscriber = feed.subscribe({uuid.uuid4()})

    async def allowed() -> bool:
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with asyncio.timeout(5):
        lines = [line async for line in feed.stream(subscriber, allowed, until=until)]
    assert subscriber not in feed._subscribers  # nothing more is queued for it
    return lines


@pytest.mark.parametrize("answer", [False, OSError("database unreachable")])
async def test_a_stream_ends_at_the_first_check_that_does_not_allow_it(answer: bool | Exception) -> None:
    assert await sent(TimelineFeed({}, check_s=0.05), answer) == [b"retry: 2000\n: connected\n\n"]


async def test_a_session_stream_ends_when_its_session_expires() -> None:
    started = time.monotonic()
    lines = await sent(TimelineFeed({}, check_s=60), True, until=time.time() + 0.2)
    assert lines == [b"retry: 2000\n: connected\n\n"]
    assert time.monotonic() - started < 1
