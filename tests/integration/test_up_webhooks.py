"""`omnitrail up` with webhook subscribers: a Twilio SMS reaches a downstream receiver as a signed webhook."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from tests.helpers import inbound_sms, signed
from tests.integration.stack import eventually, start_up
from tests.metrics_text import samples
from tests.webhook_receiver import SECRETS, running_receivers

pytestmark = pytest.mark.integration


async def test_up_runs_the_webhook_sink_when_subscribers_are_configured(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    async with running_receivers() as receivers:
        subscriber = {
            "name": "ok",
            "url": f"{receivers.url}/hooks/ok",
            "secret": SECRETS["ok"],
            "event_types": ["interaction.added"],
            "channels": ["sms"],
        }
        stack = start_up(
            tmp_path,
            bootstrap=broker.bootstrap,
            database_url=database_url,
            OMNITRAIL_WEBHOOKS_SUBSCRIBERS=json.dumps([subscriber]),
            OMNITRAIL_WEBHOOKS_START_FROM="latest",
        )
        try:
            async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:

                async def sink_assigned() -> bool:
                    text = (await client.get("/metrics")).text
                    return any(
                        n == "omnitrail_consumer_lag" and lab["group"] == "omnitrail-webhooks-ok"
                        for n, lab, _ in samples(text)
                    )

                await eventually(sink_assigned, timeout=60, what="the sink inside `up` joined its group")
                url = stack.url + "/webhooks/twilio/messages"
                body, headers = signed(url, inbound_sms("SMupwebhook00000000000000000000001", "+351 934 567 890"))
                assert (
                    await client.post("/webhooks/twilio/messages", content=body, headers=headers)
                ).status_code == 200

                async def delivered() -> list[dict[str, object]]:
                    return [
                        e
                        for e in receivers.accepted["ok"]
                        if isinstance(e.get("interaction"), dict)
                        and e["interaction"]["external_id"] == "SMupwebhook00000000000000000000001"  # type: ignore[index]
                    ]

                [event] = await eventually(delivered, timeout=60, what="signed interaction.added at the receiver")
                assert event["type"] == "interaction.added"
                assert event["interaction"]["channel"] == "sms"  # type: ignore[index]
                assert receivers.bad_signatures == 0
        finally:
            code = stack.stop()
        assert code == 0
