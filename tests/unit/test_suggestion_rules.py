"""Suggestion rules and reconciliation, without Kafka or PostgreSQL: a contact's timeline is
played against a fake clock and suggestions must open and close on the right events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from connectors.testing import FakeClock
from pipeline.stages.suggestion_changes import OBJECTED, Review, desired_for_contact, desired_for_reviews, reconcile
from pipeline.stages.suggestion_rules import Activity, closing, evaluate
from pipeline.suggestion_settings import SuggestionSettings
from schemas.interaction import Channel, Direction, InteractionKind
from schemas.suggestion import Suggestion, SuggestionRule, SuggestionStatus

POLICY = SuggestionSettings().policy()
CONTACT = uuid.uuid4()


class Desk:
    """One contact's timeline, evaluated the way the engine does it, with what is open now."""

    def __init__(self, *, profiling_allowed: bool = True) -> None:
        self.clock = FakeClock()
        self.history: list[Activity] = []
        self.open: dict[uuid.UUID, Suggestion] = {}
        self.closed: list[Suggestion] = []
        self.profiling_allowed = profiling_allowed
        self.next_check: datetime | None = None

    def add(self, channel: Channel, direction: Direction, kind: InteractionKind = InteractionKind.message) -> uuid.UUID:
        activity = Activity(uuid.uuid4(), channel, direction, kind, self.clock())
        self.history.append(activity)
        self.evaluate()
        return activity.interaction_id

    def evaluate(self) -> None:
        evaluation = evaluate(self.history, self.clock(), POLICY, profiling_allowed=self.profiling_allowed)
        self.next_check = evaluation.next_check
        changes = reconcile(
            self.open,
            desired_for_contact(CONTACT, evaluation),
            self.clock(),
            objecting=set() if self.profiling_allowed else {CONTACT},
        )
        for change in changes:
            if change.status is SuggestionStatus.open:
                self.open[change.suggestion_id] = change
            else:
                del self.open[change.suggestion_id]
                self.closed.append(change)

    def wait(self, **delta: float) -> None:
        self.clock.advance(**delta)
        self.evaluate()

    def rules(self) -> list[SuggestionRule]:
        return sorted(s.rule for s in self.open.values())


def test_inbound_sms_opens_unanswered_only_after_its_sla_and_a_reply_on_another_channel_closes_it() -> None:
    desk = Desk()
    sms = desk.add(Channel.sms, Direction.inbound)
    assert desk.rules() == []
    assert desk.next_check == desk.clock() + timedelta(hours=1)  # the periodic check knows when to look
    desk.wait(minutes=59)
    assert desk.rules() == []
    desk.wait(minutes=1)
    [suggestion] = desk.open.values()
    assert suggestion.rule is SuggestionRule.unanswered
    assert suggestion.interaction_ids == [sms]
    assert suggestion.reason == (
        "The customer's SMS message has had no reply for 1 hour; SMS messages should be answered within 1 hour."
    )
    assert not suggestion.profiling

    desk.add(Channel.email, Direction.outbound)  # answered by email: any channel counts
    assert desk.rules() == []
    assert [c.close_reason for c in desk.closed] == ["answered"]
    assert desk.closed[0].closed_at == desk.clock()


def test_each_channel_has_its_own_sla() -> None:
    desk = Desk()
    desk.add(Channel.email, Direction.inbound)
    desk.wait(hours=2)
    assert desk.rules() == []  # email: a working day
    desk.wait(hours=22)
    assert desk.rules() == [SuggestionRule.unanswered]


def test_a_note_or_an_earlier_reply_does_not_answer() -> None:
    desk = Desk()
    desk.add(Channel.sms, Direction.outbound)
    desk.wait(minutes=1)
    desk.add(Channel.sms, Direction.inbound)
    desk.add(Channel.other, Direction.outbound, InteractionKind.note)
    desk.wait(hours=2)
    assert desk.rules() == [SuggestionRule.unanswered]


def test_three_channels_within_24_hours_open_multi_channel_until_answered() -> None:
    desk = Desk()
    ids = [desk.add(Channel.email, Direction.inbound)]
    desk.wait(hours=3)
    ids.append(desk.add(Channel.sms, Direction.inbound))
    assert SuggestionRule.multi_channel not in desk.rules()
    desk.wait(hours=20)
    ids.append(desk.add(Channel.whatsapp, Direction.inbound))
    [multi] = [s for s in desk.open.values() if s.rule is SuggestionRule.multi_channel]
    assert multi.interaction_ids == ids
    assert multi.profiling
    assert multi.reason == (
        "The customer wrote on 3 channels (SMS, WhatsApp and email) within 24 hours and has had no reply."
    )
    desk.add(Channel.sms, Direction.outbound)
    assert desk.rules() == []
    assert {c.rule for c in desk.closed} == {SuggestionRule.multi_channel, SuggestionRule.unanswered}


def test_three_channels_spread_over_more_than_24_hours_are_not_a_pattern() -> None:
    desk = Desk()
    desk.add(Channel.email, Direction.inbound)
    desk.wait(hours=13)
    desk.add(Channel.sms, Direction.inbound)
    desk.wait(hours=12)
    desk.add(Channel.telegram, Direction.inbound)
    assert SuggestionRule.multi_channel not in desk.rules()


def test_dormant_after_twice_the_customers_usual_interval_and_closed_when_they_return() -> None:
    desk = Desk()
    for _ in range(3):
        desk.add(Channel.email, Direction.inbound)
        desk.wait(hours=1)
        desk.add(Channel.email, Direction.inbound)  # same visit: bursts count once
        desk.add(Channel.email, Direction.outbound)
        desk.wait(days=7, hours=-1)
    # last visit began 7 days ago (last inbound 6 days 23 h ago); usual interval 7 days
    assert desk.rules() == []
    assert desk.next_check is not None
    desk.wait(days=6)
    assert desk.rules() == []
    desk.wait(days=1, hours=1)
    [dormant] = desk.open.values()
    assert dormant.rule is SuggestionRule.dormant
    assert dormant.profiling
    assert dormant.reason == (
        "The customer is usually in touch every 7 days (3 visits so far) but has been silent for 14 days, "
        "more than 2 times as long."
    )
    desk.add(Channel.sms, Direction.inbound)
    assert SuggestionRule.dormant not in desk.rules()
    assert desk.closed[-1].close_reason == "the customer got in touch again"


def test_two_visits_are_no_history_to_judge_dormancy_from() -> None:
    desk = Desk()
    desk.add(Channel.email, Direction.inbound)
    desk.add(Channel.email, Direction.outbound)
    desk.wait(days=2)
    desk.add(Channel.email, Direction.inbound)
    desk.add(Channel.email, Direction.outbound)
    desk.wait(days=60)
    assert desk.rules() == []


def test_whatsapp_window_warning_opens_before_the_24_hours_and_closes_with_the_window() -> None:
    desk = Desk()
    wa = desk.add(Channel.whatsapp, Direction.inbound)
    desk.wait(hours=21, minutes=59)
    assert desk.rules() == [SuggestionRule.unanswered]
    assert desk.next_check == desk.clock() + timedelta(minutes=1)
    desk.wait(minutes=1)
    [window] = [s for s in desk.open.values() if s.rule is SuggestionRule.whatsapp_window]
    assert window.interaction_ids == [wa]
    assert window.due_at == desk.clock() + timedelta(hours=2)
    desk.wait(hours=2)
    assert desk.rules() == [SuggestionRule.unanswered]  # the window closed; the message is still unanswered
    assert desk.closed[-1].rule is SuggestionRule.whatsapp_window


def test_answering_closes_the_whatsapp_window_warning() -> None:
    desk = Desk()
    desk.add(Channel.whatsapp, Direction.inbound)
    desk.wait(hours=23)
    assert SuggestionRule.whatsapp_window in desk.rules()
    desk.add(Channel.whatsapp, Direction.outbound)
    assert desk.rules() == []


def test_contacts_objecting_to_profiling_get_only_non_profiling_suggestions() -> None:
    desk = Desk(profiling_allowed=False)
    desk.add(Channel.email, Direction.inbound)
    desk.add(Channel.sms, Direction.inbound)
    desk.add(Channel.telegram, Direction.inbound)
    desk.wait(hours=2)
    assert desk.rules() == [SuggestionRule.unanswered]


def test_an_objection_closes_open_profiling_suggestions_and_says_so() -> None:
    desk = Desk()
    for channel in (Channel.email, Channel.sms, Channel.telegram):
        desk.add(channel, Direction.inbound)
    assert desk.rules() == [SuggestionRule.multi_channel]
    desk.profiling_allowed = False
    desk.evaluate()
    assert desk.rules() == []
    assert desk.closed[-1].close_reason == OBJECTED


def test_a_suggestion_moves_to_the_survivor_of_a_merge_keeping_its_id() -> None:
    desk = Desk()
    desk.add(Channel.sms, Direction.inbound)
    desk.wait(hours=2)
    [before] = desk.open.values()
    survivor = uuid.uuid4()
    evaluation = evaluate(desk.history, desk.clock(), POLICY, profiling_allowed=True)
    [moved] = reconcile(desk.open, desired_for_contact(survivor, evaluation), desk.clock())
    assert (moved.suggestion_id, moved.contact_id, moved.status) == (before.suggestion_id, survivor, "open")


def test_open_reviews_become_one_suggestion_per_side_and_close_once_decided() -> None:
    clock = FakeClock()
    a, b = sorted([uuid.uuid4(), uuid.uuid4()])
    review = Review(uuid.uuid4(), "same_name", a, b)
    opened = reconcile({}, desired_for_reviews([review]), clock())
    assert sorted(s.contact_id for s in opened) == [a, b]
    assert all(s.review_id == review.review_id and s.rule is SuggestionRule.merge_review for s in opened)
    assert all(not s.profiling for s in opened)
    by_side = {s.contact_id: s.reason for s in opened}
    assert by_side[a] == (
        "This contact and another may be the same person: the same full name. Accept the review to merge them, "
        f"or reject it (the other contact: {b}; identity review rule same_name)."
    )
    current = {s.suggestion_id: s for s in opened}
    assert reconcile(current, desired_for_reviews([review]), clock()) == []
    clock.advance(hours=1)
    closed = reconcile(current, desired_for_reviews([]), clock())
    assert {(s.status, s.close_reason) for s in closed} == {("closed", "the merge review was decided")}
    merged = Review(review.review_id, review.rule, a, a)  # both sides resolve to one survivor now
    assert desired_for_reviews([merged]) == {}


def test_a_review_opened_by_a_number_change_says_what_whatsapp_said() -> None:
    a, b = sorted([uuid.uuid4(), uuid.uuid4()])
    review = Review(uuid.uuid4(), "whatsapp:user_changed_number", a, b)
    reasons = {s.contact_id: s.reason for s in reconcile({}, desired_for_reviews([review]), FakeClock()())}
    assert reasons[b] == (
        "This contact and another may be the same person: WhatsApp said one of them changed their number to one the"
        f" other has. Accept the review to merge them, or reject it (the other contact: {a}; identity review rule"
        " whatsapp:user_changed_number)."
    )


def test_settings_merge_sla_overrides_over_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.config import load

    monkeypatch.setenv("OMNITRAIL_SUGGESTIONS_SLA_S", '{"sms": 120}')
    monkeypatch.setenv("OMNITRAIL_SUGGESTIONS_DORMANCY_FACTOR", "3")
    policy = load(SuggestionSettings).policy()
    assert policy.sla_for(Channel.sms) == timedelta(minutes=2)
    assert policy.sla_for(Channel.email) == timedelta(hours=24)
    assert policy.dormancy_factor == 3


def test_settings_refuse_a_non_positive_sla_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.config import load
    from schemas.errors import FatalError

    monkeypatch.setenv("OMNITRAIL_SUGGESTIONS_SLA_S", '{"sms": 0}')
    with pytest.raises(FatalError, match="OMNITRAIL_SUGGESTIONS_SLA_S"):
        load(SuggestionSettings)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks!",
        "ok thank you so much 👍",
        "Great, that's sorted. Thanks again, have a nice day",
        "Já chegou, obrigada!",
        "Muito obrigado pela ajuda",
        "valeu, tudo certo",
        "Perfecto, muchas gracias",
        "Ya llegó, gracias!",
        "¡Mil gracias! Saludos",
    ],
)
def test_a_thank_you_that_asks_for_nothing_closes_the_conversation(text: str) -> None:
    assert closing(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, but it still doesn't work",
        "Obrigada. Quando chega?",
        "Gracias, pero falta una pieza",
        "ok",  # agreement without thanks could be the start of something
        "Olá, a minha encomenda não chegou",
        "",
        None,
        "thanks " * 40,  # a long message is a message, whatever its words
    ],
)
def test_a_message_that_asks_or_reports_something_is_not_a_closing(text: str | None) -> None:
    assert not closing(text)
