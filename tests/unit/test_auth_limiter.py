"""Failed-authentication limiter: per address, sliding window, bounded memory."""

from __future__ import annotations

from console.auth_limiter import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_max_failures_until_the_window_moves_on() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
        clock.now += 1
    wait = limiter.retry_after("10.0.0.1")
    assert wait is not None
    assert 0 < wait <= 60
    assert limiter.retry_after("10.0.0.2") is None  # another address is not affected
    clock.now += 58  # the first failure leaves the window
    assert limiter.retry_after("10.0.0.1") is None


def test_remembers_a_bounded_number_of_addresses() -> None:
    limiter = FailureLimiter(1, 60, clock=Clock(), max_addresses=100)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._failures) == 100
    assert limiter.retry_after("10.0.3.231") is not None  # the most recent are kept
    assert limiter.retry_after("10.0.0.0") is None
