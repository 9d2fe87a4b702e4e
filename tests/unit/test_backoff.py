"""The one backoff every retrying loop uses: doubling, capped, jittered down, reset after a success."""

from __future__ import annotations

from sinks.kafka.backoff import Backoff


def test_doubles_from_the_first_delay_up_to_the_cap_never_above_it() -> None:
    for _ in range(50):
        backoff = Backoff(1.0, 10.0)
        for nominal in [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]:
            delay = backoff.next()
            assert nominal / 2 <= delay <= nominal, (nominal, delay)


def test_waits_are_spread_so_processes_failing_together_do_not_retry_together() -> None:
    assert len({round(Backoff(1.0, 10.0).next(), 6) for _ in range(50)}) > 40


def test_a_success_starts_over_from_the_first_delay() -> None:
    backoff = Backoff(1.0, 60.0)
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 1.0


async def test_wait_sleeps_the_delay_it_returns() -> None:
    import time

    backoff = Backoff(0.02, 0.02)
    started = time.monotonic()
    slept = await backoff.wait()
    assert 0.01 <= slept <= 0.02
    assert time.monotonic() - started >= slept - 0.001
