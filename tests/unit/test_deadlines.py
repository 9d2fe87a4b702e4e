"""Deadlines with one timer: each wait is cut off after its own time, never before, and as asyncio.timeout would."""

from __future__ import annotations

import asyncio

import pytest

from connectors.deadlines import Deadlines


async def waited(deadlines: Deadlines, seconds: float) -> str:
    try:
        async with deadlines():
            await asyncio.sleep(seconds)
    except TimeoutError:
        return "timed out"
    return "done"


async def test_each_wait_has_its_own_deadline_and_quick_ones_finish() -> None:
    deadlines = Deadlines(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    slow = asyncio.create_task(waited(deadlines, 5))
    await asyncio.sleep(0.1)  # a second wait, begun later, ends later
    later = asyncio.create_task(waited(deadlines, 5))
    quick = [asyncio.create_task(waited(deadlines, 0.01)) for _ in range(5)]
    assert await asyncio.gather(*quick) == ["done"] * 5
    assert await slow == "timed out"
    first = loop.time() - started
    assert await later == "timed out"
    second = loop.time() - started
    # Never before its own deadline, in the order they began; the upper bound leaves room for a loaded machine.
    assert 0.2 <= first < second < 2.0
    assert second >= 0.3


async def test_no_deadline_never_times_out() -> None:
    assert await waited(Deadlines(None), 0.05) == "done"


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    task = asyncio.create_task(waited(Deadlines(5), 5))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_error_inside_passes_through_and_later_waits_still_time_out() -> None:
    deadlines = Deadlines(0.05)
    with pytest.raises(KeyError):
        async with deadlines():
            raise KeyError("x")
    assert await waited(deadlines, 1) == "timed out"


def test_a_new_event_loop_gets_deadlines_of_its_own() -> None:
    deadlines = Deadlines(0.05)
    assert asyncio.run(waited(deadlines, 0.01)) == "done"  # leaves a timer on a loop that is now closed
    assert asyncio.run(waited(deadlines, 1)) == "timed out"
