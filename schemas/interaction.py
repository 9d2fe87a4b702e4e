"""The interaction: one message, call, status change, edit or note, in one standard form (schema v1)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from schemas.identifiers import Identifier
from schemas.ids import interaction_id_for
from schemas.text import JsonObject, Text

SCHEMA_VERSION = 1
#: ``metadata`` flag (``true``): the source names no usable address for the sender (an email without a
#: From, or with one that could be two addresses). The interaction is kept all the same, on a contact of
#: its own conversation (the identity stage's fallback), linking nobody; the sender is shown as unknown.
SENDER_UNKNOWN = "sender_unknown"


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is a valid ISO date with no UTC equivalent
        raise ValueError("timestamp out of range") from None


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    mms = "mms"
    whatsapp = "whatsapp"
    telegram = "telegram"
    messenger = "messenger"
    instagram = "instagram"
    livechat = "livechat"
    voice = "voice"
    other = "other"


class Provider(StrEnum):
    imap = "imap"
    twilio = "twilio"
    meta = "meta"
    telegram = "telegram"
    livechat = "livechat"
    x = "x"
    events = "events"
    console = "console"
    import_ = "import"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class InteractionKind(StrEnum):
    message = "message"
    call = "call"
    status = "status"
    edit = "edit"
    note = "note"
    #: A reaction (an emoji, or none: the reaction was removed) to the message ``status`` names.
    reaction = "reaction"
    #: A provider's notice that the customer's address changed (a WhatsApp number or user id change):
    #: its customer party carries the old and the new identifiers, which the pipeline links to one
    #: contact with the notice as evidence; ``address_change`` says which are which. No timeline row.
    identity = "identity"


#: Kinds that update the interaction ``status`` names instead of adding a row.
UPDATE_KINDS = frozenset({InteractionKind.status, InteractionKind.edit, InteractionKind.reaction})
#: Kinds that never become a timeline row of their own.
ROWLESS_KINDS = UPDATE_KINDS | {InteractionKind.identity}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyRole(StrEnum):
    customer = "customer"
    us = "us"


#: Members compared on every record, as globals: a member read off its enum class is a descriptor call in
#: CPython 3.11 (~70 ns, ~2% of the worker's CPU over the decode and identity stages), a global is not.
_INBOUND, _US, _CUSTOMER = Direction.inbound, PartyRole.us, PartyRole.customer


class Party(_Model):
    """A person or endpoint on one side of an interaction: one party is one person.

    ``role`` is optional: without it the direction decides (the sender of what came in, the
    recipients of what we sent are customers). Connectors set it where the direction alone
    cannot tell, e.g. a customer in Cc of an inbound email (``customer``) or one of our own
    aliases among the recipients of an outbound one (``us``).
    """

    display_name: Text | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    role: PartyRole | None = None


class MediaState(StrEnum):
    stored = "stored"
    failed = "failed"


class Media(_Model):
    """What the media stage did with an attachment's content: stored (content-addressed) or why not."""

    state: MediaState
    #: The SHA-256 of the stored bytes: the content's address in the object store.
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    #: The type sniffed from the bytes (not what the provider claimed).
    content_type: Text | None = None
    size: int | None = Field(default=None, ge=0)
    #: Why it was not stored (``failed``): names the cause, never a URL or a credential.
    reason: Text | None = None
    at: UtcDatetime


class Attachment(_Model):
    """Metadata of an attachment; the content itself never travels on Kafka (the media stage keeps it,
    see ``media``)."""

    name: Text | None = None
    content_type: Text | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    location: Text | None = None
    media: Media | None = None


class Location(_Model):
    """A place the customer shared (WhatsApp location, Telegram location or venue)."""

    latitude: float = Field(allow_inf_nan=False)
    longitude: float = Field(allow_inf_nan=False)
    name: Text | None = None
    address: Text | None = None


class ContactCard(_Model):
    """A contact card the customer shared. Content, not identity: nobody is linked to what it holds."""

    name: Text | None = None
    phones: list[Text] = Field(default_factory=list)
    emails: list[Text] = Field(default_factory=list)
    organization: Text | None = None


class CallInfo(_Model):
    duration_seconds: int | None = Field(default=None, ge=0)
    status: Text | None = None


class StatusUpdate(_Model):
    """For ``status``, ``edit`` and ``reaction`` kinds: which interaction they update, and to what."""

    target_interaction_id: uuid.UUID
    status: Text | None = None
    error_code: Text | None = None


class AddressChange(_Model):
    """For ``identity`` notices: the customer's addresses before and after the change.

    The customer party carries both (it is one person). ``after`` is every address the customer has once
    the change is made, the new ones and those it left alone (a number change keeps the user id), so the
    notice routes as the customer's next messages do and they follow it in its partition.
    """

    before: list[Identifier] = Field(min_length=1)
    after: list[Identifier] = Field(min_length=1)


class Interaction(_Model):
    interaction_id: uuid.UUID
    schema_version: int = SCHEMA_VERSION
    channel: Channel
    provider: Provider
    account: Text = Field(min_length=1, description="Our side: mailbox, number, page or bot.")
    direction: Direction
    kind: InteractionKind = InteractionKind.message
    occurred_at: UtcDatetime = Field(description="When it happened, from the source, UTC.")
    received_at: UtcDatetime = Field(description="When the connector took it, UTC.")
    external_id: Text = Field(min_length=1, description="The provider's own id for the event.")
    thread_key: Text | None = None
    in_reply_to: uuid.UUID | None = None
    sender: Party
    recipients: list[Party] = Field(default_factory=list)
    subject: Text | None = None
    text: Text | None = None
    html: Text | None = Field(default=None, description="Kept as received; sanitized only when shown.")
    quoted_text: Text | None = Field(
        default=None,
        description="The earlier messages a reply quotes below its new text (``text`` is the new text alone).",
    )
    attachments: list[Attachment] = Field(default_factory=list)
    call: CallInfo | None = None
    location: Location | None = None
    contact_cards: list[ContactCard] = Field(default_factory=list)
    status: StatusUpdate | None = None
    address_change: AddressChange | None = None
    metadata: JsonObject = Field(default_factory=dict)
    raw_ref: Text | None = None

    @classmethod
    def build(cls, **fields: Any) -> Interaction:
        """Construct with the deterministic id derived from channel, account and external id."""
        fields.setdefault(
            "interaction_id",
            interaction_id_for(str(fields["channel"]), str(fields["account"]), str(fields["external_id"])),
        )
        return cls(**fields)

    @model_validator(mode="after")
    def _kind_consistency(self) -> Self:
        if self.kind in UPDATE_KINDS and self.status is None:
            raise ValueError(f"a {self.kind.value} interaction must say which interaction it updates")
        if self.address_change is not None:
            self._check_address_change(self.address_change)
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not {SCHEMA_VERSION}")
        return self

    def _check_address_change(self, change: AddressChange) -> None:
        if self.kind is not InteractionKind.identity:
            raise ValueError(f"a {self.kind.value} interaction has no address_change: only an identity notice")
        # Erasure and linking read the customer party: an address only in the change would escape both.
        carried = {i.key for i in self.customer_identifiers()}
        if any(i.key not in carried for i in (*change.before, *change.after)):
            raise ValueError("address_change names an address the customer party does not carry")

    def customer_parties(self) -> list[Party]:
        """The customers: by direction (sender of what came in, recipients of what we sent),
        plus parties marked ``customer``, minus parties marked ``us``. Each party is one person."""
        sender = self.sender
        if self.direction is _INBOUND:
            found = [sender] if sender.role is not _US else []
            return found + [p for p in self.recipients if p.role is _CUSTOMER] if self.recipients else found
        found = [p for p in self.recipients if p.role is not _US]
        return [*found, sender] if sender.role is _CUSTOMER else found

    def customer_identifiers(self) -> list[Identifier]:
        seen: dict[str, Identifier] = {}
        for party in self.customer_parties():
            for identifier in party.identifiers:
                seen.setdefault(identifier.key, identifier)
        return list(seen.values())

    def names_a_customer(self) -> bool:
        """Whether there is a customer to attach it to: :meth:`customer_identifiers` has any (checked without
        building them: the decode stage asks it of every record), or the source says the sender is unknown
        (:data:`SENDER_UNKNOWN`: it goes to a contact of its conversation)."""
        return any(party.identifiers for party in self.customer_parties()) or self.metadata.get(SENDER_UNKNOWN) is True

    def customer_display_name(self) -> str | None:
        for party in self.customer_parties():
            if party.display_name:
                return party.display_name
        return None

    def routing_key(self) -> bytes:
        """Kafka key: one customer's interactions share a partition and stay in order.

        An interaction naming nobody routes by its conversation (:meth:`conversation_key`). An address
        change routes by the addresses it leaves the customer with (those the notice names: a user-id
        change that does not name the unchanged number routes by the new user id, while the customer's
        messages carrying the number route by the number): the messages they send
        next carry those, so they come after it (keyed by its old address, it would race them on another
        partition, and a first message from the new number could make a second contact before the
        notice links it). A hash, not the identifier itself, so no personal data sits in keys that tools
        print.
        """
        change = self.address_change
        identifiers = sorted(i.key for i in (change.after if change else self.customer_identifiers()))
        basis = identifiers[0] if identifiers else self.conversation_key()
        return hashlib.sha256(basis.encode()).hexdigest()[:32].encode()

    def conversation_key(self) -> str:
        """The conversation of an interaction that names nobody (an email without a usable sender): its
        thread, else itself. The identity stage files such interactions under a contact of this key, and
        :meth:`routing_key` routes those naming no identifier at all by it, so they stay in order on one
        partition. (An interaction whose only identifiers the identity policy blocks, such as ``noreply@``
        or ``root@localhost``, is filed the same way but routed by that identifier: routing cannot apply
        the policy.)"""
        return f"conversation:{self.channel.value}:{self.account}:{self.thread_key or self.external_id}"
