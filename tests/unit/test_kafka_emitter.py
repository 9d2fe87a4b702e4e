"""An emitter that gives up on a request's records leaves no unretrieved broker errors behind."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from connectors.emitter import KafkaEmitter, Record
from schemas.errors import RetriableError


class Producer:
    """Hands out one acknowledgement future per record, as aiokafka's ``send`` does; the test settles them."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, **_: object) -> asyncio.Future[Any]:
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]


async def test_records_given_up_on_leave_no_never_retrieved_error() -> None:
    unretrieved: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unretrieved.append(context))
    producer = Producer()
    emitter = KafkaEmitter(producer)
    records = [Record("t", None, b"x")] * 3

    sending = asyncio.create_task(emitter.send_all(records))
    await asyncio.sleep(0)
    producer.acks[0].set_exception(KafkaTimeoutError())  # the first fails: the request gives up on all three
    with pytest.raises(RetriableError):
        await sending
    waiting = asyncio.create_task(emitter.send_all(records))
    await asyncio.sleep(0)
    waiting.cancel()  # the caller's deadline
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for ack in producer.acks[1:]:  # the broker fails the ones nobody waited for, later
        if not ack.done():
            ack.set_exception(KafkaTimeoutError())
    del sending, waiting
    producer.acks.clear()
    await asyncio.sleep(0)
    gc.collect()  # an unretrieved exception is reported when its future is collected
    await asyncio.sleep(0)
    assert [c["message"] for c in unretrieved] == []
