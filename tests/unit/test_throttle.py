"""The throttle of failed authentications and sign-ins: per address, sliding window, bounded memory."""

from __future__ import annotations

from console.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_the_limit_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = Throttle(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")
        clock.now += 1
    assert throttle.retry_after("10.0.0.1") == 57  # the first failure, 3 s ago, leaves in 57 s
    assert throttle.retry_after("10.0.0.2") is None  # another address is not affected
    clock.now += 56.5
    assert throttle.retry_after("10.0.0.1") == 1  # whole seconds, rounded up
    clock.now += 0.5
    assert throttle.retry_after("10.0.0.1") is None


def test_a_success_forgets_the_failures() -> None:
    throttle = Throttle(limit=2, window_s=60, clock=Clock())
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") is None


def test_remembers_a_bounded_number_of_addresses() -> None:
    throttle = Throttle(limit=1, window_s=60, clock=Clock(), max_clients=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._failures) == 100
    assert throttle.retry_after("10.0.3.231") is not None  # the most recent are kept
    assert throttle.retry_after("10.0.0.0") is None
