"""Threading rules: reply chains in any order, Outlook's Thread-Index, the subject fallback and the split."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from connectors.email.threads import InMemoryThreadIndex, MessageFacts, Threader, subject_key, thread_key_for

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ANA = ("ana@cliente.example",)
RUI = ("rui@cliente.example",)


def msg(
    mid: str,
    refs: list[str] | None = None,
    subject: str = "Fatura",
    who: tuple[str, ...] = ANA,
    thread_index: str | None = None,
    minutes: int = 0,
) -> MessageFacts:
    return MessageFacts(mid, refs or [], subject, who, thread_index, T0 + timedelta(minutes=minutes))


async def test_reply_chain_is_one_thread_in_any_arrival_order() -> None:
    chain = [
        msg("a@x"),
        msg("b@x", ["a@x"], "Re: Fatura", minutes=1),
        msg("c@x", ["a@x", "b@x"], "RE: Re: Fatura", minutes=2),
    ]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]):
        threader = Threader(InMemoryThreadIndex())
        keys = {(await threader.place(chain[i])).thread_key for i in order}
        assert keys == {thread_key_for("a@x")}, order


async def test_rules_are_recorded_and_rereading_is_deterministic() -> None:
    threader = Threader(InMemoryThreadIndex())
    assert (await threader.place(msg("a@x"))).rule == "new"
    assert (await threader.place(msg("b@x", ["a@x"], "Re: Fatura"))).rule == "header_chain"
    assert (await threader.place(msg("z@x", ["unknown@x"], "Re: Outra"))).rule == "header_root"
    again = await threader.place(msg("b@x", ["a@x"], "Re: Fatura"))
    assert (again.thread_key, again.rule) == (thread_key_for("a@x"), "header_chain")


async def test_outlook_reply_with_rewritten_in_reply_to_joins_by_thread_index() -> None:
    index = base64.b64encode(bytes(6) + bytes(range(16))).decode()
    later = base64.b64encode(bytes(6) + bytes(range(16)) + bytes(5)).decode()  # a child index: 22 bytes + 5
    threader = Threader(InMemoryThreadIndex())
    first = await threader.place(msg("a@x", thread_index=index))
    reply = await threader.place(msg("b@x", ["rewritten@exchange.local"], "RE: Fatura", thread_index=later, minutes=5))
    assert (reply.thread_key, reply.rule) == (first.thread_key, "outlook_thread_index")


async def test_subject_and_participants_fallback_for_clients_that_drop_references() -> None:
    threader = Threader(InMemoryThreadIndex())
    first = await threader.place(msg("a@x", subject="Encomenda 123"))
    same_person = await threader.place(msg("b@x", subject="Re: Encomenda 123", minutes=60))
    assert (same_person.thread_key, same_person.rule) == (first.thread_key, "subject_participants")
    other_person = await threader.place(msg("c@x", subject="Re: Encomenda 123", who=RUI, minutes=61))
    assert other_person.rule == "new"
    not_a_reply = await threader.place(msg("d@x", subject="Encomenda 123", minutes=62))
    assert not_a_reply.rule == "new"
    months_later = await threader.place(msg("e@x", subject="Re: Encomenda 123", minutes=60 * 24 * 120))
    assert months_later.rule == "new"


async def test_newsletter_replies_split_when_subject_and_participants_differ() -> None:
    threader = Threader(InMemoryThreadIndex())
    newsletter = await threader.place(msg("news@acme", subject="Novidades de março", who=("lista@acme.example",)))
    same_topic = await threader.place(msg("r1@x", ["news@acme"], "Re: Novidades de março", who=ANA))
    assert (same_topic.thread_key, same_topic.rule) == (newsletter.thread_key, "header_chain")
    new_topic = await threader.place(msg("r2@x", ["news@acme"], "Cancelar a minha assinatura", who=RUI))
    assert new_topic.rule == "split"
    assert new_topic.thread_key == thread_key_for("r2@x")
    follow_up = await threader.place(msg("r3@x", ["news@acme", "r2@x"], "Re: Cancelar a minha assinatura", who=RUI))
    assert follow_up.thread_key == new_topic.thread_key


def test_subject_key_strips_reply_prefixes_in_several_languages() -> None:
    for subject in ("Re: Fatura", "RES: Fatura", "AW: Fatura", "Fwd: RE:  fatura", "ENC: Fatura", "Re[2]: Fatura"):
        assert subject_key(subject) == "fatura", subject
    assert subject_key("  ") is None
