"""From what should be open to what changes: open new suggestions, move them to a merge
survivor, close those whose condition cleared. Pure: the engine stores and publishes the result.

Reconciling against the desired state (rather than reacting to each event) is what makes
suggestions close themselves: whatever clears a condition (a reply, a decided review, an
objection to profiling, time) simply leaves it out of the desired set.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from pipeline.stages.suggestion_rules import PROFILING_RULES, Evaluation, Finding
from schemas.suggestion import Suggestion, SuggestionRule, SuggestionStatus, suggestion_id_for

#: Why a suggestion closed when its rule no longer finds it.
CLEARED = {
    SuggestionRule.unanswered: "answered",
    SuggestionRule.whatsapp_window: "answered, superseded by a newer message, or the 24-hour window closed",
    SuggestionRule.multi_channel: "answered",
    SuggestionRule.dormant: "the customer got in touch again",
    SuggestionRule.merge_review: "the merge review was decided",
}
OBJECTED = "the contact objects to profiling"
#: What each identity review rule saw, as the sentence of its suggestion says it.
EVIDENCE = {
    "phone_br_ninth_digit": "a Brazilian mobile number written with and without the ninth digit",
    "phone_mx_mobile_prefix": "a Mexican mobile number written with and without the 1 after +52",
    "phone_other_region": "the same phone number under another country code",
    "email_local_part": "the same email name at another domain",
    "same_name": "the same full name",
    "phone_in_signature": "a phone number written in an email signature",
    "unverified_identifier": "an email or phone given without proof",
    "whatsapp:user_changed_number": "WhatsApp said one of them changed their number to one the other has",
    "whatsapp:user_changed_user_id": "WhatsApp said one of them changed their user id to one the other has",
}


@dataclass(frozen=True)
class Desired:
    contact_id: uuid.UUID
    finding: Finding


@dataclass(frozen=True)
class Review:
    """An open identity review item, its two sides already resolved to their survivors."""

    review_id: uuid.UUID
    rule: str
    contact_a: uuid.UUID
    contact_b: uuid.UUID


def desired_for_contact(contact_id: uuid.UUID, evaluation: Evaluation) -> dict[uuid.UUID, Desired]:
    return {suggestion_id_for(f.rule, f.basis): Desired(contact_id, f) for f in evaluation.findings}


def desired_for_reviews(reviews: Iterable[Review]) -> dict[uuid.UUID, Desired]:
    """One suggestion on each side of every open review whose sides are still two contacts."""
    desired: dict[uuid.UUID, Desired] = {}
    for review in reviews:
        if review.contact_a == review.contact_b:
            continue  # merged meanwhile: nothing left to decide
        for side, contact, other in (
            ("a", review.contact_a, review.contact_b),
            ("b", review.contact_b, review.contact_a),
        ):
            finding = Finding(
                SuggestionRule.merge_review,
                review.review_id,
                (),
                "Decide a possible duplicate contact",
                f"This contact and another may be the same person: "
                f"{EVIDENCE.get(review.rule, review.rule.replace('_', ' '))}. Accept the review to merge them, "
                f"or reject it (the other contact: {other}; identity review rule {review.rule}).",
            )
            desired[suggestion_id_for(SuggestionRule.merge_review, review.review_id, side)] = Desired(contact, finding)
    return desired


def reconcile(
    current: Mapping[uuid.UUID, Suggestion],
    desired: Mapping[uuid.UUID, Desired],
    now: datetime,
    *,
    objecting: AbstractSet[uuid.UUID] = frozenset(),
) -> list[Suggestion]:
    """The suggestions to store and publish: opened, moved to another contact, or closed.

    ``objecting``: contacts whose objection to profiling is why their profiling suggestions
    are no longer desired (the close reason says so)."""
    changes: list[Suggestion] = []
    for suggestion_id, want in sorted(desired.items()):
        have = current.get(suggestion_id)
        if have is None:
            f = want.finding
            changes.append(
                Suggestion(
                    suggestion_id=suggestion_id,
                    contact_id=want.contact_id,
                    rule=f.rule,
                    status=SuggestionStatus.open,
                    title=f.title,
                    reason=f.reason,
                    interaction_ids=list(f.interaction_ids),
                    review_id=f.basis if f.rule is SuggestionRule.merge_review else None,
                    profiling=f.rule in PROFILING_RULES,
                    opened_at=now,
                    due_at=f.due_at,
                )
            )
        elif have.contact_id != want.contact_id:
            changes.append(have.model_copy(update={"contact_id": want.contact_id}))
    for suggestion_id, have in sorted(current.items()):
        if suggestion_id not in desired:
            why = OBJECTED if have.profiling and have.contact_id in objecting else CLEARED[have.rule]
            changes.append(
                have.model_copy(update={"status": SuggestionStatus.closed, "closed_at": now, "close_reason": why})
            )
    return changes
