"""Identifiers and their normalization: the one place that decides when two spellings are equal.

Emails are trimmed and lower-cased; an address of a one-label domain (``root@localhost``) is an
address too, but names a mailbox only inside one network (:func:`is_local_email`). Phone numbers
become E.164 through ``phonenumbers`` with a default region for national spellings; channel handles
are kept as the provider gives them (trimmed). WhatsApp numbers are phones: the
same person on SMS and WhatsApp has one phone identifier.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from enum import StrEnum
from typing import Self

import phonenumbers
from pydantic import BaseModel, ConfigDict, model_validator

from schemas.errors import InvalidPayload
from schemas.text import is_storable

#: Networks that name hosts only inside one organisation (RFC 1918, shared address space, unique local).
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class IdentifierKind(StrEnum):
    email = "email"
    phone = "phone"
    telegram = "telegram"
    messenger = "messenger"
    instagram = "instagram"
    whatsapp = "whatsapp"
    livechat = "livechat"
    external = "external"
    #: An X (Twitter) account: its numeric user id, or ``@screen_name`` (lower-cased: X treats it so).
    x = "x"
    #: A WhatsApp business-scoped user id (BSUID, e.g. ``BR.1502576394655843``): how Meta names a user who
    #: hides their number behind a username. Kept exactly as received, never read as a phone number;
    #: a user who changes number gets a new one.
    whatsapp_user_id = "whatsapp_user_id"
    #: A WhatsApp username (``@maria.lopez``-style handle). Users may change it and it may later be
    #: someone else's, so it is weak evidence (never merges contacts) but makes the contact findable.
    whatsapp_username = "whatsapp_username"


#: Compared for every identifier decoded: a global, not a lookup on the enum class (see schemas.interaction).
_PHONE = IdentifierKind.phone

#: Longest identifier value accepted: far above any real address or id (an email is at most 254), well
#: under what PostgreSQL's index on (kind, value) can hold (2,704 bytes), so a value the schema accepts
#: is one the timeline can store.
MAX_LENGTH = 512

#: Prefixes providers put in front of an address to say which channel it belongs to.
_CHANNEL_PREFIXES = ("whatsapp:", "sms:", "mms:", "tel:")


#: C0 and C1 control characters and DEL: no address has one; a header that does is damaged or hostile.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: A domain of one label: a host name (letters, digits, inner hyphens) or an address literal (``[10.0.0.1]``).
_ONE_LABEL = re.compile(r"[^\W_](?:[\w-]*[^\W_])?|\[[^\[\]]+\]")


def normalize_email(raw: str) -> str:
    """``'  Ana.Silva@Example.PT '`` -> ``'ana.silva@example.pt'``; raises InvalidPayload if not an address.

    RFC 5322 addresses whose domain has no dot (``root@localhost``, ``redacted@redacted``) are
    addresses, as long as the domain is a host name; so are quoted local parts (``"ana smith"@example.pt``);
    no ``@`` (or a second one outside quotes), an empty side, spaces outside quotes or control characters
    are not.
    """
    value = raw.strip().strip("<>").strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    local, sep, domain = value.rpartition("@")
    quoted = len(local) > 1 and local[0] == local[-1] == '"'  # '"ana smith"@cliente.example' is an address
    if not sep or not local or not domain or _CONTROL.search(value):
        raise InvalidPayload("not an email address")
    if any(c.isspace() for c in (domain if quoted else value)):
        raise InvalidPayload("not an email address")
    if "@" in local and not quoted:  # only a quoted local part has one
        raise InvalidPayload("not an email address")
    if "." not in domain and not _ONE_LABEL.fullmatch(domain):
        raise InvalidPayload("not an email address")
    return value


def is_local_email(value: str) -> bool:
    """A normalized address whose domain is one label (``root@localhost``, ``root@localhost.``, ``user@intranet``)
    or a loopback or private address literal (``root@[127.0.0.1]``, ``admin@[10.0.0.1]``): it names a mailbox
    only inside one network (every machine has its own ``root@localhost``), so it proves nobody. A public
    address literal is one host wherever it is read; one that is no address at all proves nobody either."""
    domain = value.rpartition("@")[2].rstrip(".")  # a fully qualified 'localhost.' is still localhost
    if not (domain.startswith("[") and domain.endswith("]")):
        return "." not in domain
    literal = domain[1:-1]
    try:
        ip = ipaddress.ip_address(literal[5:] if literal.lower().startswith("ipv6:") else literal)
    except ValueError:
        return True
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or any(ip in net for net in _LOCAL_NETWORKS)


def without_channel_prefix(raw: str) -> str:
    """``'whatsapp:+351912345678'`` -> ``'+351912345678'`` (trimmed; any case of the prefix)."""
    value = raw.strip()
    lowered = value[:9].lower()
    for prefix in _CHANNEL_PREFIXES:
        if lowered.startswith(prefix):
            return value[len(prefix) :]
    return value


@functools.lru_cache(maxsize=65_536)  # pure; a contact centre sees the same numbers again and again
def normalize_phone(raw: str, default_region: str = "PT") -> str:
    """Any common spelling (``912 345 678``, ``+351 912-345-678``, ``whatsapp:+351912345678``) -> E.164.

    A number with an extension (``+351 210 000 000 ext. 12``, ``210000000 x12``, ``;ext=12``, ``#12``) is
    refused (InvalidPayload): E.164 has no extension, and the bare switchboard number would make every
    person behind it one identifier, so one contact. Each caller handles it as any invalid number: an
    import row is rejected with its reason (to be fixed and imported again), the console answers 400,
    a live-chat form's phone is left out (the chat is kept). Providers never send one.
    """
    value = without_channel_prefix(raw)
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, None if value.startswith("+") else default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPayload("not a phone number") from exc
    if parsed.extension:
        raise InvalidPayload("a phone number with an extension (one switchboard, several people)")
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPayload("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_for_people(e164: str, default_region: str = "PT") -> str:
    """A stored number as people write it: national format in the default region (``912 345 678``),
    international elsewhere (``+44 7700 900123``); the value itself when it is no number."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(parsed) == default_region.upper()
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)


def is_whatsapp_user_id(raw: str) -> bool:
    """A BSUID (``US.13491208655302741918``, ``US.ENT.11815799212886844830``): a two-letter country code,
    a period, then letters and digits. Phone numbers, in any spelling, have no letters."""
    code, dot, rest = without_channel_prefix(raw).partition(".")
    return bool(dot) and len(code) == 2 and code.isalpha() and rest.replace(".", "").isalnum()


def normalize_handle(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise InvalidPayload("empty handle")
    return value


def normalize_x_handle(raw: str) -> str:
    """An X user id stays as given (``'3001969357'``); a screen name becomes ``'@furiouscamper'``."""
    value = normalize_handle(raw)
    if value.isdigit():
        return value
    return "@" + value.lstrip("@").lower()


class Identifier(BaseModel):
    """One way to reach a person, normalized so that equal means the same person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: IdentifierKind
    value: str

    @classmethod
    def of(cls, kind: IdentifierKind | str, raw: str, *, default_region: str = "PT") -> Identifier:
        """Build a normalized identifier from a raw provider value."""
        kind = IdentifierKind(kind)
        if not is_storable(raw):
            # No provider sends one; PostgreSQL cannot store a NUL. Refused here, once, for every caller.
            raise InvalidPayload("identifier contains a NUL character or a lone surrogate")
        if len(raw) > MAX_LENGTH:
            raise InvalidPayload(f"identifier is longer than {MAX_LENGTH} characters")
        if kind is IdentifierKind.email:
            value = normalize_email(raw)
        elif kind is IdentifierKind.whatsapp and is_whatsapp_user_id(raw):
            # A WhatsApp address is a phone number or, for users who hide theirs, a business-scoped user id.
            return cls(kind=IdentifierKind.whatsapp_user_id, value=without_channel_prefix(raw))
        elif kind in (IdentifierKind.phone, IdentifierKind.whatsapp):
            # A WhatsApp number is a phone number: one person, one identifier.
            return cls(kind=IdentifierKind.phone, value=normalize_phone(raw, default_region))
        elif kind is IdentifierKind.x:
            value = normalize_x_handle(raw)
        else:
            value = normalize_handle(raw)
        return cls(kind=kind, value=value)

    @model_validator(mode="after")
    def _already_normalized(self) -> Self:
        # Values arriving from the wire (other systems, replays) must be canonical too;
        # a phone that is not E.164 here would silently split a contact in two.
        value = self.value
        if self.kind is _PHONE:
            digits = value[1:]
            if not (value[:1] == "+" and digits.isdigit() and digits.isascii()):  # "+١٢٣" is no E.164
                raise ValueError("phone identifier is not E.164")
            if len(value) <= MAX_LENGTH:
                return self  # ASCII digits are storable: the common case
        if not is_storable(self.value):
            raise ValueError("identifier contains a NUL character or a lone surrogate")
        if len(self.value) > MAX_LENGTH:
            raise ValueError(f"identifier is longer than {MAX_LENGTH} characters")
        if self.kind is IdentifierKind.email and self.value != normalize_email(self.value):
            raise ValueError("email identifier is not normalized (trimmed, lower-case)")
        return self

    @functools.cached_property  # read several times per identifier per batch (grouping, owners, homes)
    def key(self) -> str:
        return f"{self.kind.value}:{self.value}"


#: ``metadata`` key of identifiers a party gave without proof (a live-chat pre-chat form): they never
#: attach an interaction to a contact or merge contacts; a match with a contact opens an identity review.
UNVERIFIED = "unverified_identifiers"


def unverified_in(metadata: dict[str, object]) -> list[Identifier]:
    """The valid identifiers listed under :data:`UNVERIFIED` (anything else there is ignored)."""
    found = metadata.get(UNVERIFIED)
    identifiers = []
    for item in found if isinstance(found, list) else []:
        try:
            identifiers.append(Identifier.model_validate(item))
        except ValueError:  # pydantic's ValidationError is a ValueError
            continue
    return identifiers
