"""Which receiver answers are retried, which are final, and how long the sink waits in between."""

from __future__ import annotations

import httpx
import pytest

from sinks.subscriptions.delivery import Deliverer
from sinks.subscriptions.settings import Subscriber, SubscriptionSettings

SUBSCRIBER = Subscriber(name="crm", url="https://crm.example/hook", secret="0123456789abcdef-secret")


def deliverer(answers: list[int | Exception], seen: list[httpx.Request], **settings: float) -> Deliverer:
    """A deliverer whose receiver gives these answers in turn (an exception: no answer at all)."""

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, headers={"Retry-After": "0"} if answer == 429 else {})

    values: dict[str, float] = {"max_attempts": 4, "backoff_initial_s": 0.001, "backoff_max_s": 0.002, **settings}
    config = SubscriptionSettings(**values)  # type: ignore[arg-type]
    return Deliverer(httpx.AsyncClient(transport=httpx.MockTransport(respond)), config)


async def test_server_errors_timeouts_and_429_are_retried_until_accepted() -> None:
    seen: list[httpx.Request] = []
    result = await deliverer([503, 429, httpx.ConnectTimeout("slow"), 204], seen).deliver(
        SUBSCRIBER, b"{}", event_id="e1", event_type="interaction.added"
    )
    assert (result.delivered, result.attempts, result.last_status) == (True, 4, 204)
    assert all(r.headers["Omnitrail-Signature"].startswith("v1=") for r in seen)  # every attempt is signed


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_a_final_4xx_is_not_retried(status: int) -> None:
    seen: list[httpx.Request] = []
    result = await deliverer([status], seen).deliver(SUBSCRIBER, b"{}", event_id="e1", event_type="contact.created")
    assert (result.delivered, result.attempts, result.last_error) == (False, 1, f"HTTP {status}")
    assert len(seen) == 1


async def test_gives_up_after_max_attempts() -> None:
    seen: list[httpx.Request] = []
    result = await deliverer([500], seen).deliver(SUBSCRIBER, b"{}", event_id="e1", event_type="contact.created")
    assert (result.delivered, result.attempts, result.last_status) == (False, 4, 500)
    assert len(seen) == 4
