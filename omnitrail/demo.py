"""``omnitrail up --demo``: a customer worth looking at in the console.

Ana Silva, over the last three days: a live chat in which she gives her email and phone (the
site vouches for her: one contact across channels), an email thread about a late order (her
question, our answer, her reply quoting it), an SMS conversation (our shipping notice, her closing "thanks"),
a WhatsApp message still waiting for a reply, and a staff note. Then a second contact with the
same full name writes from another address, which opens an identity review: a merge suggestion
on both contacts. Ids derive from fixed external ids, so running ``--demo`` again adds nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from connectors.emitter import Emitter
from connectors.twilio.messages import thread_key_for
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, InteractionKind, Party, PartyRole, Provider

NAME = "Ana Silva"
PHONE = "+351912345678"
EMAIL = "ana.silva@example.pt"
OTHER_EMAIL = "ana.silva@empresa.example"
_NUMBER = "+351210000000"
_WHATSAPP = "+351210000001"
_MAILBOX = "support@omnitrail.example"


def _email(customer_email: str) -> Party:
    return Party(display_name=NAME, identifiers=[Identifier(kind=IdentifierKind.email, value=customer_email)])


def _phone(number: str, name: str | None = None) -> Party:
    return Party(display_name=name, identifiers=[Identifier(kind=IdentifierKind.phone, value=number)])


_MAILBOX_PARTY = Party(
    display_name="Marta · Customer care", identifiers=[Identifier(kind=IdentifierKind.email, value=_MAILBOX)]
)
_VISITOR = Party(
    display_name=NAME,
    identifiers=[
        Identifier(kind=IdentifierKind.livechat, value="visitor-demo-ana"),
        Identifier(kind=IdentifierKind.email, value=EMAIL),
        Identifier(kind=IdentifierKind.phone, value=PHONE),
    ],
)
_MARTA = Party(display_name="Marta", role=PartyRole.us)
_SMS = dict(channel=Channel.sms, provider=Provider.twilio, account=_NUMBER)
_CHAT = dict(channel=Channel.livechat, provider=Provider.livechat, account="website", thread_key="livechat:demo")
_MAIL = dict(channel=Channel.email, provider=Provider.imap, account=_MAILBOX)
_SUBJECT = "Encomenda #4471 ainda não chegou"


def _at(when: datetime, external_id: str, direction: Direction, **fields: Any) -> Interaction:
    return Interaction.build(direction=direction, occurred_at=when, received_at=when, external_id=external_id, **fields)


def sample(now: datetime | None = None) -> list[Interaction]:
    """Ana's history, oldest first."""
    now = now or datetime.now(UTC)
    day = timedelta(days=1)
    inbound, outbound = Direction.inbound, Direction.outbound
    from_ana, to_ana = {"sender": _email(EMAIL), "recipients": [_MAILBOX_PARTY]}, {"recipients": [_email(EMAIL)]}
    thread = {"thread_key": "email:demo-order-4471"}
    sms = {"thread_key": thread_key_for(Channel.sms, _NUMBER, PHONE)}
    return [
        _at(
            now - 3 * day,
            "demo-chat-1",
            inbound,
            **_CHAT,
            sender=_VISITOR,
            text="Olá! A minha encomenda #4471 está atrasada. Vou enviar os detalhes por email.",
        ),
        _at(
            now - 3 * day + timedelta(minutes=2),
            "demo-chat-2",
            outbound,
            **_CHAT,
            sender=_MARTA,
            recipients=[_VISITOR],
            text="Olá Ana, claro. Respondemos ao seu email ainda hoje.",
        ),
        _at(
            now - 3 * day + timedelta(minutes=20),
            "<demo-4471-1@example.pt>",
            inbound,
            **_MAIL,
            **thread,
            **from_ana,
            subject=_SUBJECT,
            text="Olá,\n\nfiz a encomenda #4471 há duas semanas e ainda não chegou. Podem verificar?\n\nAna Silva",
        ),
        _at(
            now - 3 * day + timedelta(hours=2),
            "<demo-4471-2@omnitrail.example>",
            outbound,
            **_MAIL,
            **thread,
            sender=_MAILBOX_PARTY,
            **to_ana,
            subject=f"Re: {_SUBJECT}",
            text="Olá Ana,\n\nlamentamos o atraso. A transportadora confirma que a encomenda sai amanhã; "
            "enviamos o código de seguimento por SMS.\n\nMarta · Apoio ao cliente",
        ),
        _at(
            now - 2 * day - timedelta(hours=4),
            "<demo-4471-3@example.pt>",
            inbound,
            **_MAIL,
            **thread,
            **from_ana,
            subject=f"Re: {_SUBJECT}",
            text="Obrigada, Marta. E podem enviar a fatura com o meu NIF? Ficou sem ele.",
            quoted_text="Em 3 de dez., Marta · Apoio ao cliente escreveu:\n> lamentamos o atraso. A transportadora "
            "confirma que a encomenda sai amanhã;\n> enviamos o código de seguimento por SMS.",
        ),
        _at(
            now - 2 * day,
            "demo-note-1",
            outbound,
            channel=Channel.other,
            provider=Provider.console,
            account="console",
            kind=InteractionKind.note,
            **thread,
            sender=_MARTA,
            **to_ana,
            text="Pedi à contabilidade a fatura corrigida com NIF; prometeram para esta semana.",
            metadata={"author": "Marta", "author_role": "agent"},
        ),
        _at(
            now - day - timedelta(hours=3),
            "SMDEMO0000",
            outbound,
            **_SMS,
            **sms,
            sender=_phone(_NUMBER),
            recipients=[_phone(PHONE, NAME)],
            text="Olá Ana, a encomenda #4471 foi enviada: CTT RR123456789PT",
        ),
        _at(
            now - day - timedelta(hours=2),
            "SMDEMO0001",
            inbound,
            **_SMS,
            **sms,
            sender=_phone(PHONE, NAME),
            recipients=[_phone(_NUMBER)],
            text="Já chegou, obrigada!",
        ),
        _at(
            now - timedelta(minutes=90),
            "SMDEMOWA0001",
            inbound,
            channel=Channel.whatsapp,
            provider=Provider.twilio,
            account=_WHATSAPP,
            thread_key=thread_key_for(Channel.whatsapp, _WHATSAPP, PHONE),
            sender=_phone(PHONE, NAME),
            recipients=[_phone(_WHATSAPP)],
            text="Bom dia! A fatura chegou mas continua sem o NIF. Conseguem corrigir hoje?",
        ),
    ]


def namesake(now: datetime | None = None) -> Interaction:
    """Someone with Ana's full name writing from another address: one person or two? Staff decide."""
    when = (now or datetime.now(UTC)) - timedelta(hours=5)
    return _at(
        when,
        "<demo-quote-1@empresa.example>",
        Direction.inbound,
        **_MAIL,
        thread_key="email:demo-quote",
        sender=_email(OTHER_EMAIL),
        recipients=[_MAILBOX_PARTY],
        subject="Pedido de orçamento para a empresa",
        text="Bom dia, gostaria de um orçamento para 20 unidades. Obrigada, Ana Silva",
    )


async def _stored(database_url: str, timeout_s: float) -> None:
    """Wait until the pipeline has made Ana a contact (the worker may still be joining its group)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for _ in range(int(timeout_s / 0.2)):
            cur = await conn.execute("SELECT 1 FROM contact_identifiers WHERE kind = 'phone' AND value = %s", (PHONE,))
            if await cur.fetchone():
                return
            await asyncio.sleep(0.2)


async def ingest(emitter: Emitter, database_url: str, *, timeout_s: float = 60.0) -> int:
    interactions = sample()
    await emitter.emit_many(interactions)
    # Ana must be a contact before her namesake arrives: a review compares a new contact with existing ones.
    await _stored(database_url, timeout_s)
    await emitter.emit(namesake())
    return len(interactions) + 1
