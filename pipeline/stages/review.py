"""Review stage: evidence too weak to merge on, turned into probes whose hits staff decide on.

Pure. For each identifier newly linked to a contact it lists other spellings that could be
the same person (*probes*); the sink looks them up and opens an ``identity_reviews`` item when
one belongs to another contact. Never a merge: these are exactly the cases where an automatic
merge would join two people, or an automatic split keep one person as two.

* ``phone_br_ninth_digit``: Brazilian mobiles written with and without the ninth digit;
* ``phone_mx_mobile_prefix``: Mexican mobiles with and without the legacy ``1`` (WhatsApp keeps it);
* ``phone_other_region``: the same national number under another country code (a number
  written without country code, normalized with the wrong default region);
* ``email_local_part``: the same local part at another domain;
* ``same_name``: a new contact whose full name (two words or more) equals a live contact's;
* ``phone_in_signature``: a phone number written in an inbound email (its signature) that
  belongs to another contact;
* ``unverified_identifier``: an identifier given without proof (a live-chat pre-chat form,
  ``metadata.unverified_identifiers``) that belongs to another contact.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import phonenumbers

from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier, IdentifierKind


class Probe(NamedTuple):  # a tuple, not a frozen dataclass: several per new phone of every batch
    contact_id: uuid.UUID
    rule: str
    #: ``kind:value`` key to look up exactly, or the bare local part for ``email_local_part``.
    key: str
    evidence: dict[str, str]


def phone_variants(value: str, regions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(rule, E.164 variant) pairs for one E.164 phone number."""
    try:
        parsed = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return []
    national = str(parsed.national_number)
    cc = parsed.country_code
    found: list[tuple[str, str]] = []
    if cc == 55 and len(national) == 11 and national[2] == "9":
        found.append(("phone_br_ninth_digit", f"+55{national[:2]}{national[3:]}"))
    elif cc == 55 and len(national) == 10 and national[2] in "6789":
        found.append(("phone_br_ninth_digit", f"+55{national[:2]}9{national[2:]}"))
    if cc == 52 and len(national) == 11 and national.startswith("1"):
        found.append(("phone_mx_mobile_prefix", f"+52{national[1:]}"))
    elif cc == 52 and len(national) == 10:
        found.append(("phone_mx_mobile_prefix", f"+521{national}"))
    # The same digits under another country code: what a number written without one becomes when
    # normalized with another default region. Not validated here (phonenumbers' validation is the
    # expensive part, per region, per new phone): the lookup only hits numbers someone owns.
    for region in regions:
        other = phonenumbers.country_code_for_region(region)
        if other and other != cc:
            found.append(("phone_other_region", f"+{other}{national}"))
    return [(rule, variant) for rule, variant in found if variant != value]


def probes(new_links: list[tuple[uuid.UUID, Identifier]], policy: Policy) -> list[Probe]:
    out: list[Probe] = []
    for contact_id, identifier in new_links:
        if identifier.kind is IdentifierKind.phone:
            for rule, variant in phone_variants(identifier.value, policy.review_regions):
                out.append(
                    Probe(contact_id, rule, f"phone:{variant}", {"new": identifier.key, "existing": f"phone:{variant}"})
                )
        elif identifier.kind is IdentifierKind.email:
            local = identifier.value.split("@", 1)[0]  # as the database's split_part(value, '@', 1)
            out.append(Probe(contact_id, "email_local_part", local, {"new": identifier.key}))
    return out


def full_name(name: str | None) -> str | None:
    """A name worth comparing: two words or more, case-folded and single-spaced."""
    if not name:
        return None
    words = name.split()
    return " ".join(words).casefold() if len(words) >= 2 else None


#: Signatures sit at the end of a message; scanning only the tail keeps long threads cheap.
SIGNATURE_TAIL = 1500


def signature_phones(text: str, region: str) -> list[str]:
    """E.164 numbers written in the tail of an email body (quoted replies included: staff decide)."""
    found = []
    # "Possible", like normalization: "valid" would miss numbers in ranges phonenumbers does not know.
    matcher = phonenumbers.PhoneNumberMatcher(text[-SIGNATURE_TAIL:], region, leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matcher:
        found.append(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return list(dict.fromkeys(found))


def signature_probes(emails: list[tuple[uuid.UUID, str]], policy: Policy) -> list[Probe]:
    """Probes for the phones in inbound email bodies: (contact of the sender, body)."""
    return [
        Probe(contact_id, "phone_in_signature", f"phone:{phone}", {"existing": f"phone:{phone}"})
        for contact_id, text in emails
        for phone in signature_phones(text, policy.default_region)
        if not policy.blocked(Identifier(kind=IdentifierKind.phone, value=phone))
    ]


def unverified_probes(unverified: list[tuple[uuid.UUID, Identifier]], policy: Policy) -> list[Probe]:
    """Probes for unverified identifiers: (contact the interaction landed on, identifier typed without proof)."""
    return [
        Probe(contact_id, "unverified_identifier", key, {"unverified": key, "existing": key})
        for contact_id, identifier in unverified
        if not policy.blocked(identifier) and (key := identifier.key)
    ]
