"""Suggestion rules: pure functions from a contact's activity and the time to what should be open now.

Each rule answers two questions: which suggestions hold right now (``Finding``), and when
the answer could next change by the passage of time alone (``next_check``), so the periodic
evaluation only looks at contacts that are due. Rules never see message bodies or
identifiers, only channel, direction, kind, time and thread. One thing is read from a body, once,
when the agent records it (:func:`closing`): a message that only closes the conversation ("thanks!",
"obrigada, já chegou", "perfecto, gracias") asks for nothing, so it is not recorded and opens no
reply-needed loop.

Profiling: under GDPR art. 21/22 a customer may object to automated profiling. Rules that
infer something about the person from patterns in their behaviour count as profiling and
are skipped for contacts who object: ``multi_channel`` (a likely unresolved issue) and
``dormant`` (their usual rhythm has lapsed). Rules that only track our own obligation to
answer a message the customer sent (``unanswered``, ``whatsapp_window``) or data quality
(``merge_review``) are not profiling and apply to everyone.
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.interaction import Channel, Direction, InteractionKind
from schemas.suggestion import SuggestionRule

PROFILING_RULES = frozenset({SuggestionRule.multi_channel, SuggestionRule.dormant})
#: What counts as the customer reaching us, or us answering: not notes, status or edits.
_CONVERSATIONAL = (InteractionKind.message, InteractionKind.call)
WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Activity:
    """One interaction of a contact, reduced to what the rules need."""

    interaction_id: uuid.UUID
    channel: Channel
    direction: Direction
    kind: InteractionKind
    occurred_at: datetime
    thread: str | None = None


@dataclass(frozen=True)
class Policy:
    sla: dict[Channel, timedelta]
    default_sla: timedelta = timedelta(hours=24)
    window_warning: timedelta = timedelta(hours=2)
    dormancy_factor: float = 2.0
    dormancy_min_visits: int = 3
    visit_gap: timedelta = timedelta(hours=12)
    multi_channel_count: int = 3
    multi_channel_window: timedelta = timedelta(hours=24)

    def sla_for(self, channel: Channel) -> timedelta:
        return self.sla.get(channel, self.default_sla)


@dataclass(frozen=True)
class Finding:
    rule: SuggestionRule
    basis: uuid.UUID
    interaction_ids: tuple[uuid.UUID, ...]
    title: str
    reason: str
    due_at: datetime | None = None


@dataclass
class Evaluation:
    findings: list[Finding] = field(default_factory=list)
    next_check: datetime | None = None

    def check_at(self, when: datetime) -> None:
        self.next_check = when if self.next_check is None else min(self.next_check, when)


def _hours(delta: timedelta) -> str:
    """A duration as the team would say it: "45 seconds", "1 minute", "3 hours", days beyond two days."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= (2 * size if unit == "day" else size):
            n = round(seconds / size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    n = round(seconds)
    return f"{n} second{'' if n == 1 else 's'}"


#: Channels as a sentence names them.
_SAID = {
    Channel.sms: "SMS",
    Channel.mms: "MMS",
    Channel.whatsapp: "WhatsApp",
    Channel.telegram: "Telegram",
    Channel.messenger: "Messenger",
    Channel.instagram: "Instagram",
    Channel.livechat: "live chat",
    Channel.voice: "phone",
}


def said(channel: Channel) -> str:
    return _SAID.get(channel, channel.value)


def _listed(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _words(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


#: Words a closing courtesy is made of, accents dropped, in the languages the project serves (English,
#: Portuguese, Spanish): thanks, agreement, the issue being settled, greetings. A message made only of
#: these, with a thank-you among them and no question, closes the conversation.
_THANKS = _words(
    "thanks thank thx ty tks cheers obrigado obrigada obrigados obg brigado brigada valeu agradeco "
    "agradecido agradecida gracias agradezco",
)
_CLOSING_WORDS = _THANKS | _words(
    # English
    "ok okay k oh ah great perfect awesome cool nice good lovely excellent brilliant fantastic amazing all alright "
    "right got it you so very much a lot lots many again for the your that s thats this help have day "
    "bye goodbye see ya later sorted solved fixed fine now received arrived works worked everything is "
    "yes yeah yep sure and really kind of me we are done much appreciated appreciate "
    # Portuguese
    "muito muitissimo muita pela pelo ajuda perfeito perfeita otimo otima certo certinho tudo bem resolvido "
    "resolvida ja chegou chegaram recebi recebido entao beleza bom boa dia tarde noite ate logo mais combinado "
    "e sim esta funciona funcionou show top joia mesmo de novo fico agradecida "
    # Spanish
    "muchas muchisimas mil perfecto genial vale listo todo bien ya llego recibi recibido resuelto por la su tu "
    "buen buenas dia dias tardes noches hasta luego saludos nada si funciona funciono excelente",
)
_WORD = re.compile(r"[a-z]+")


def closing(text: str | None) -> bool:
    """Whether a customer's message only closes the conversation: a thank-you, with nothing asked or reported."""
    if not text or "?" in text or len(text) > 160:
        return False
    plain = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    words = _WORD.findall(plain)
    return bool(words) and any(w in _THANKS for w in words) and all(w in _CLOSING_WORDS for w in words)


def _inbound(history: Sequence[Activity]) -> list[Activity]:
    return [a for a in history if a.direction is Direction.inbound and a.kind in _CONVERSATIONAL]


def _answered(message: Activity, history: Sequence[Activity]) -> bool:
    """Any later outbound message or call, on any channel, to the contact or in the same thread."""
    return any(
        a.direction is Direction.outbound and a.kind in _CONVERSATIONAL and a.occurred_at >= message.occurred_at
        for a in history
    )


def unanswered(history: Sequence[Activity], now: datetime, policy: Policy, out: Evaluation) -> None:
    """Inbound messages past their channel's SLA with no reply; one suggestion per contact,
    based on the oldest of them."""
    waiting = [a for a in _inbound(history) if a.kind is InteractionKind.message and not _answered(a, history)]
    overdue = []
    for message in waiting:
        deadline = message.occurred_at + policy.sla_for(message.channel)
        if deadline <= now:
            overdue.append(message)
        else:
            out.check_at(deadline)
    if overdue:
        overdue.sort(key=lambda a: (a.occurred_at, a.interaction_id))
        first = overdue[0]
        channels = _listed(sorted({said(a.channel) for a in overdue}))
        waited = _hours(now - first.occurred_at)
        target = f"{said(first.channel)} messages should be answered within {_hours(policy.sla_for(first.channel))}"
        reason = (
            f"The customer's {channels} message has had no reply for {waited}; {target}."
            if len(overdue) == 1
            else f"{len(overdue)} messages from the customer ({channels}) have had no reply; the oldest has "
            f"waited {waited}, and {target}."
        )
        out.findings.append(
            Finding(
                SuggestionRule.unanswered,
                first.interaction_id,
                tuple(a.interaction_id for a in overdue),
                "Reply to the customer",
                reason,
            )
        )


def whatsapp_window(history: Sequence[Activity], now: datetime, policy: Policy, out: Evaluation) -> None:
    """The 24-hour customer-service window opened by the latest inbound WhatsApp message is about
    to close and nobody has answered it; after it closes only template messages can be sent."""
    latest = max(
        (a for a in _inbound(history) if a.channel is Channel.whatsapp and a.kind is InteractionKind.message),
        key=lambda a: (a.occurred_at, a.interaction_id),
        default=None,
    )
    if latest is None or _answered(latest, history):
        return
    closes = latest.occurred_at + WHATSAPP_WINDOW
    warn = closes - policy.window_warning
    if now < warn:
        out.check_at(warn)
    elif now < closes:
        out.check_at(closes)
        out.findings.append(
            Finding(
                SuggestionRule.whatsapp_window,
                latest.interaction_id,
                (latest.interaction_id,),
                "Answer on WhatsApp before the 24-hour window closes",
                f"The customer's WhatsApp message has had no reply. WhatsApp's 24-hour customer-service window "
                f"closes in {_hours(closes - now)}; after that only template messages can be sent.",
                due_at=closes,
            )
        )


def multi_channel(history: Sequence[Activity], now: datetime, policy: Policy, out: Evaluation) -> None:
    """Since our last reply, the customer reached us on N+ channels within the window: a likely
    unresolved issue. Open until someone answers."""
    last_reply = max(
        (a.occurred_at for a in history if a.direction is Direction.outbound and a.kind in _CONVERSATIONAL),
        default=None,
    )
    since = sorted(
        (a for a in _inbound(history) if last_reply is None or a.occurred_at > last_reply),
        key=lambda a: (a.occurred_at, a.interaction_id),
    )
    for i, start in enumerate(since):
        window = [a for a in since[i:] if a.occurred_at - start.occurred_at <= policy.multi_channel_window]
        channels = sorted({said(a.channel) for a in window})
        if len(channels) >= policy.multi_channel_count:
            out.findings.append(
                Finding(
                    SuggestionRule.multi_channel,
                    start.interaction_id,
                    tuple(a.interaction_id for a in window),
                    "Check for an unresolved issue",
                    f"The customer wrote on {len(channels)} channels ({_listed(channels)}) within "
                    f"{_hours(policy.multi_channel_window)} and has had no reply.",
                )
            )
            return


def dormant(history: Sequence[Activity], now: datetime, policy: Policy, out: Evaluation) -> None:
    """The customer's usual interval between visits (median gap between their own inbound
    contacts, each visit a burst separated by ``visit_gap``) times the factor has passed."""
    inbound = sorted(_inbound(history), key=lambda a: (a.occurred_at, a.interaction_id))
    visits: list[Activity] = []
    previous: Activity | None = None
    for a in inbound:
        if previous is None or a.occurred_at - previous.occurred_at > policy.visit_gap:
            visits.append(a)
        previous = a
    if len(visits) < policy.dormancy_min_visits:
        return
    usual = statistics.median((b.occurred_at - a.occurred_at).total_seconds() for a, b in itertools.pairwise(visits))
    latest = inbound[-1]
    due = latest.occurred_at + timedelta(seconds=usual * policy.dormancy_factor)
    if now < due:
        out.check_at(due)
        return
    out.findings.append(
        Finding(
            SuggestionRule.dormant,
            latest.interaction_id,
            tuple(v.interaction_id for v in visits[-policy.dormancy_min_visits :]),
            "Reach out: the customer has gone quiet",
            f"The customer is usually in touch every {_hours(timedelta(seconds=usual))} ({len(visits)} visits so far) "
            f"but has been silent for {_hours(now - latest.occurred_at)}, more than {policy.dormancy_factor:g} "
            f"times as long.",
        )
    )


RULES = {
    SuggestionRule.unanswered: unanswered,
    SuggestionRule.whatsapp_window: whatsapp_window,
    SuggestionRule.multi_channel: multi_channel,
    SuggestionRule.dormant: dormant,
}


def evaluate(history: Sequence[Activity], now: datetime, policy: Policy, *, profiling_allowed: bool) -> Evaluation:
    """Every timeline rule over one contact's history; profiling rules only when allowed."""
    out = Evaluation()
    for rule, check in RULES.items():
        if profiling_allowed or rule not in PROFILING_RULES:
            check(history, now, policy, out)
    return out
