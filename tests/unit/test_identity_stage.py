"""The pure identity stage: parties, union-find, policy tiers, decisions, homes, review probes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.identity_settings import IdentitySettings
from pipeline.stages.identity import (
    Claim,
    Owner,
    claims_of,
    decide,
    disputed,
    group_by_person,
    homes,
    shared_keys,
)
from pipeline.stages.policy import Policy
from pipeline.stages.review import full_name, phone_variants, probes, signature_probes
from schemas.errors import FatalError
from schemas.identifiers import Identifier, IdentifierKind
from schemas.ids import contact_id_for
from schemas.interaction import Direction, Interaction, Party, PartyRole
from tests.helpers import sms_interaction

POLICY = Policy()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def phone(value: str) -> Identifier:
    return Identifier(kind=IdentifierKind.phone, value=value)


def email(value: str) -> Identifier:
    return Identifier(kind=IdentifierKind.email, value=value)


def with_sender(n: int, *identifiers: Identifier, name: str | None = None) -> Interaction:
    return sms_interaction(n, "+351900000000").model_copy(
        update={"sender": Party(display_name=name, identifiers=list(identifiers))}
    )


def test_interactions_sharing_an_identifier_in_one_batch_are_one_person() -> None:
    batch = [
        with_sender(1, phone("+351911111111")),
        with_sender(2, email("ana@x.pt")),
        with_sender(3, phone("+351944444444")),
        with_sender(4, email("ana@x.pt"), phone("+351911111111")),
    ]
    people = group_by_person(claims_of(batch, POLICY), POLICY)
    assert sorted(len(p.claims) for p in people) == [1, 3]


def test_two_customers_on_one_outbound_email_stay_two_people() -> None:
    outbound = with_sender(1, email("us@shop.pt")).model_copy(
        update={
            "direction": Direction.outbound,
            "recipients": [
                Party(display_name="Ana Silva", identifiers=[email("ana@x.pt")]),
                Party(display_name="Rui Costa", identifiers=[email("rui@y.pt")]),
                Party(identifiers=[email("sales@shop.pt")], role=PartyRole.us),
            ],
        }
    )
    claims = claims_of([outbound], POLICY)
    assert [c.display_name for c in claims] == ["Ana Silva", "Rui Costa"]
    people = group_by_person(claims, POLICY)
    assert len(people) == 2
    decisions = decide(people, {})
    assert {d.contact_id for d in decisions} == {contact_id_for("email:ana@x.pt"), contact_id_for("email:rui@y.pt")}


def test_blocked_identifiers_never_identify_and_a_blocked_only_interaction_lands_on_its_conversation() -> None:
    policy = Policy(blocked_keys=frozenset({"phone:+351210000000"}))
    mixed = with_sender(1, email("noreply@shop.pt"), phone("+351210000000"), email("ana@x.pt"))
    [claim] = claims_of([mixed], policy)
    assert [i.key for i in claim.identifiers] == ["email:ana@x.pt"]

    only_blocked = with_sender(2, email("no-reply+bounce@mailer.com"), phone("+0001234567"))
    [fallback] = claims_of([only_blocked], policy)
    assert fallback.identifiers == ()
    assert fallback.fallback_key == f"conversation:sms:+351210000000:{only_blocked.external_id}"
    [decision] = decide(group_by_person([fallback], policy), {})
    assert decision.is_new
    assert decision.new_links == []
    assert decision.contact_id == contact_id_for(f"~{fallback.fallback_key}")


def test_an_address_of_a_one_label_domain_never_identifies_and_its_mail_lands_on_its_conversation() -> None:
    # Every machine has its own root@localhost: two such mails must not make one person.
    first, second = (with_sender(n, email("root@localhost")) for n in (1, 2))
    assert POLICY.blocked(email("root@localhost"))
    assert POLICY.blocked(email("redacted@redacted"))
    assert not POLICY.blocked(email("root@localhost.example"))
    claims = claims_of([first, second], POLICY)
    assert [c.identifiers for c in claims] == [(), ()]
    assert len({c.fallback_key for c in claims}) == 2


def test_new_person_gets_a_deterministic_contact_and_oldest_existing_contact_survives() -> None:
    [person] = group_by_person(claims_of([with_sender(1, phone("+351911111111"))], POLICY), POLICY)
    [fresh] = decide([person], {})
    assert fresh.is_new
    assert fresh.contact_id == contact_id_for("phone:+351911111111")

    both = with_sender(2, phone("+351911111111"), email("ana@x.pt"), Identifier(kind="telegram", value="4242"))
    old, young = uuid.uuid4(), uuid.uuid4()
    owners = {"phone:+351911111111": Owner(young, young, T0 + timedelta(days=1)), "email:ana@x.pt": Owner(old, old, T0)}
    [decision] = decide(group_by_person(claims_of([both], POLICY), POLICY), owners)
    assert decision.contact_id == old
    assert not decision.is_new
    assert decision.merge_from == [young]
    assert [i.key for i in decision.new_links] == ["telegram:4242"]


def test_a_notice_naming_two_contacts_is_set_aside_and_one_naming_a_single_contact_is_resolved() -> None:
    ana, bruno = uuid.uuid4(), uuid.uuid4()
    owners = {"phone:+351911111111": Owner(ana, ana, T0), "phone:+351922222222": Owner(bruno, bruno, T0 - timedelta(1))}
    notice = ("whatsapp:user_changed_number", (("event", "user_changed_number"),))
    onto_bruno = Claim(0, (phone("+351911111111"), phone("+351922222222")), rule=notice[0], evidence=notice[1])
    onto_a_new_number = Claim(1, (phone("+351911111111"), phone("+351933333333")), rule=notice[0], evidence=notice[1])
    both_in_one_party = Claim(2, (phone("+351911111111"), phone("+351922222222")))  # exact: one person, merged
    kept, set_aside = disputed([onto_bruno, onto_a_new_number, both_in_one_party], owners, POLICY, set())
    assert kept == [onto_a_new_number, both_in_one_party]
    assert set_aside == [(onto_bruno, [bruno, ana])]  # oldest first
    assert disputed([both_in_one_party], owners, POLICY, set()) == ([both_in_one_party], [])


def test_a_notice_onto_an_address_that_could_merge_nobody_is_no_dispute() -> None:
    """Marked shared, at the cap, or of a kind that never merges: had the notice been proof, nobody would
    have merged, so nothing is set aside for staff; resolved, the address stays with its own contact."""
    ana, bruno = uuid.uuid4(), uuid.uuid4()
    bruno_phone = "phone:+351922222222"
    owners = {"phone:+351911111111": Owner(ana, ana, T0), bruno_phone: Owner(bruno, bruno, T0 - timedelta(1))}
    notice = Claim(0, (phone("+351911111111"), phone("+351922222222")), rule="whatsapp:user_changed_number")
    for policy, shared, contact in (
        (POLICY, {bruno_phone}, ana),  # marked shared, or at the cap (shared_keys says which)
        (Policy(shared_keys=frozenset({bruno_phone})), set(), ana),  # shared by configuration
        # Phones never merge: neither address counts, and weak addresses alone reach the oldest contact.
        (Policy(auto_merge_kinds=frozenset({IdentifierKind.email})), set(), bruno),
    ):
        assert disputed([notice], owners, policy, shared) == ([notice], [])
        [decision] = decide(group_by_person([notice], policy, shared), owners)
        assert (decision.contact_id, decision.merge_from, decision.new_links) == (contact, [], [])
    assert disputed([notice], owners, POLICY, set()) == ([], [(notice, [bruno, ana])])  # may merge: staff decide


def test_shared_and_non_merging_identifiers_link_but_never_merge() -> None:
    ana, rui = uuid.uuid4(), uuid.uuid4()
    family = "phone:+351911111111"
    owners = {family: Owner(ana, ana, T0), "email:rui@y.pt": Owner(rui, rui, T0 + timedelta(days=1))}
    claim = claims_of([with_sender(1, phone("+351911111111"), email("rui@y.pt"))], POLICY)
    for policy, shared in (
        (Policy(shared_keys=frozenset({family})), set()),  # marked shared by configuration
        (POLICY, {family}),  # marked shared in the database
        (Policy(auto_merge_kinds=frozenset({IdentifierKind.email})), set()),  # phones may not auto-merge
    ):
        [decision] = decide(group_by_person(claim, policy, shared), owners)
        assert (decision.contact_id, decision.merge_from) == (rui, [])
        [c] = claim
        assert homes(decision, c, owners, shared, policy) == {rui}

    # Someone new writing with the family phone and their own address gets their own contact.
    zoe = Identifier(kind=IdentifierKind.telegram, value="zoe")  # sorts after "phone:"
    newcomer = claims_of([with_sender(3, phone("+351911111111"), zoe)], POLICY)
    [decision] = decide(group_by_person(newcomer, POLICY, {family}), owners)
    assert decision.is_new
    assert decision.contact_id == contact_id_for("telegram:zoe")  # not the phone's: that may be taken
    assert [i.key for i in decision.new_links] == ["telegram:zoe"]
    assert homes(decision, newcomer[0], owners, {family}, POLICY) == {decision.contact_id}

    only_family = claims_of([with_sender(2, phone("+351911111111"))], POLICY)
    [decision] = decide(group_by_person(only_family, POLICY, {family}), owners)
    assert decision.contact_id == ana  # the phone's own contact, nobody merged


def test_a_message_on_a_shared_address_lands_on_the_same_contact_whatever_shares_its_batch() -> None:
    """A party carrying mom's shared phone and dad's shared address (a form, an import row) bridges nobody:
    dad's mail on his address stays dad's when it arrives in the same batch as that party."""
    mom, dad = uuid.uuid4(), uuid.uuid4()
    family_phone, family_mail = phone("+351911111111"), email("casa@familia.pt")
    owners = {family_phone.key: Owner(mom, mom, T0), family_mail.key: Owner(dad, dad, T0 + timedelta(days=1))}
    dads_mail = with_sender(3, family_mail)
    whatsapp = Identifier(kind=IdentifierKind.whatsapp_username, value="casa")  # never merges either
    owners[whatsapp.key] = Owner(dad, dad, T0 + timedelta(days=1))
    bridging = with_sender(1, family_phone, family_mail, whatsapp)
    over_whatsapp = with_sender(4, whatsapp)

    def attached(batch: list[Interaction], policy: Policy, shared: set[str]) -> dict[str, set[uuid.UUID]]:
        by_ref: dict[str, set[uuid.UUID]] = {}
        for decision in decide(group_by_person(claims_of(batch, policy), policy, shared), owners):
            assert decision.merge_from == []
            for claim in decision.person.claims:
                by_ref[batch[claim.ref].external_id] = homes(decision, claim, owners, shared, policy)
        return by_ref

    for policy, shared in (
        (Policy(shared_keys=frozenset({family_phone.key, family_mail.key})), set()),  # marked by configuration
        (POLICY, {family_phone.key, family_mail.key}),  # marked in the database, or at the cap
    ):
        for message in (dads_mail, over_whatsapp):
            alone = attached([message], policy, shared)
            assert alone == {message.external_id: {dad}}
            assert attached([bridging, message], policy, shared) == {bridging.external_id: {mom}, **alone}
            assert attached([message, bridging], policy, shared) == {bridging.external_id: {mom}, **alone}


def test_an_identifier_past_the_cap_counts_as_shared() -> None:
    someone = uuid.uuid4()
    owners = {
        "phone:+351911111111": Owner(someone, someone, T0, touched=5),
        "phone:+351922222222": Owner(someone, someone, T0, shared=True),
        "email:ana@x.pt": Owner(someone, someone, T0, touched=4),
    }
    assert shared_keys(owners, Policy(max_contacts_per_identifier=5)) == {"phone:+351911111111", "phone:+351922222222"}


def test_homes_are_where_identifiers_live_not_the_survivor() -> None:
    """After an unmerge, each interaction must go back with the contact whose identifiers it carried."""
    survivor, merged_away = uuid.uuid4(), uuid.uuid4()
    owners = {"phone:+351911111111": Owner(merged_away, survivor, T0)}
    claims = claims_of([with_sender(1, phone("+351911111111"))], POLICY)
    [decision] = decide(group_by_person(claims, POLICY), owners)
    assert decision.contact_id == survivor
    assert homes(decision, claims[0], owners, set(), POLICY) == {merged_away}


def test_phone_pitfall_variants() -> None:
    assert ("phone_br_ninth_digit", "+551187654321") in phone_variants("+5511987654321", ())
    assert ("phone_br_ninth_digit", "+5511987654321") in phone_variants("+551187654321", ())
    assert ("phone_mx_mobile_prefix", "+525512345678") in phone_variants("+5215512345678", ())
    assert ("phone_other_region", "+34912345678") in phone_variants("+351912345678", ("ES",))
    assert not any(v == "+351912345678" for _, v in phone_variants("+351912345678", ("PT",)))


def test_probes_cover_new_phones_and_emails_and_names_need_two_words() -> None:
    contact = uuid.uuid4()
    found = probes([(contact, email("ana.silva@x.pt")), (contact, phone("+5511987654321"))], Policy(review_regions=()))
    assert {(p.rule, p.key) for p in found} == {
        ("email_local_part", "ana.silva"),
        ("phone_br_ninth_digit", "phone:+551187654321"),
    }
    assert full_name("  Ana   SILVA ") == "ana silva"
    assert full_name("Ana") is None


def test_settings_build_the_policy_and_name_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_IDENTITY_AUTO_MERGE_KINDS", "email, phone")
    monkeypatch.setenv("OMNITRAIL_IDENTITY_OWN_IDENTIFIERS", "210 000 000,Support@Shop.pt")
    monkeypatch.setenv("OMNITRAIL_IDENTITY_SHARED_IDENTIFIERS", "+351 911 111 111")
    policy = IdentitySettings().policy("PT")
    assert policy.auto_merge_kinds == {IdentifierKind.email, IdentifierKind.phone}
    assert policy.blocked_keys == {"phone:+351210000000", "email:support@shop.pt"}
    assert policy.shared_keys == {"phone:+351911111111"}
    assert policy.blocked(email("support@shop.pt"))
    assert policy.blocked(email("noreply@x.pt"))
    monkeypatch.setenv("OMNITRAIL_IDENTITY_OWN_IDENTIFIERS", "not-a-number")
    with pytest.raises(FatalError, match="OMNITRAIL_IDENTITY_OWN_IDENTIFIERS"):
        IdentitySettings().policy("PT")


def test_claims_keep_caller_refs() -> None:
    claims = [Claim(7, (email("a@x.pt"),)), Claim(9, (email("a@x.pt"), phone("+351911111111")))]
    [person] = group_by_person(claims, POLICY)
    assert [c.ref for c in person.claims] == [7, 9]


def test_phones_in_an_email_signature_become_probes_unless_blocked() -> None:
    # 949 ... is not an allocated Portuguese range, but a possible number: customers write what they have.
    body = "Olá,\nA encomenda não chegou.\n\n--\nAna Silva\nTel. 949 436 604 | +34 612 345 678\nLisboa 1000-001"
    policy = Policy(blocked_keys=frozenset({"phone:+34612345678"}))
    contact = uuid.uuid4()
    assert [(p.contact_id, p.rule, p.key) for p in signature_probes([(contact, body)], policy)] == [
        (contact, "phone_in_signature", "phone:+351949436604")
    ]
