"""``omnitrail up --demo``: a few sample interactions of one customer on two channels, so the API has data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.emitter import Emitter
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, Provider

_OURS = "+351210000000"


def sample() -> list[Interaction]:
    customer = Party(
        display_name="Ana Demo", identifiers=[Identifier(kind=IdentifierKind.phone, value="+351910000001")]
    )
    us = Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=_OURS)])
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    rows = [
        (Channel.sms, Direction.inbound, "Olá, a minha encomenda ainda não chegou."),
        (Channel.sms, Direction.outbound, "Olá Ana, vamos verificar e respondemos hoje."),
        (Channel.whatsapp, Direction.inbound, "Já chegou, obrigada!"),
    ]
    return [
        Interaction.build(
            channel=channel,
            provider=Provider.twilio,
            account=_OURS,
            direction=direction,
            occurred_at=start + timedelta(minutes=20 * n),
            received_at=start + timedelta(minutes=20 * n),
            external_id=f"SMDEMO{n:04d}",
            sender=customer if direction is Direction.inbound else us,
            recipients=[us if direction is Direction.inbound else customer],
            text=text,
            metadata={"demo": True},
        )
        for n, (channel, direction, text) in enumerate(rows)
    ]


async def ingest(emitter: Emitter) -> int:
    interactions = sample()
    await emitter.emit_many(interactions)
    return len(interactions)
