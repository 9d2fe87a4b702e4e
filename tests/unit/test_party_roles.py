"""Who the customers of an interaction are: direction by default, explicit roles where it cannot tell."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.identifiers import Identifier
from schemas.interaction import Channel, Direction, Interaction, Party, PartyRole, Provider

ANA = Party(identifiers=[Identifier.of("email", "ana@example.pt")])
RUI = Party(identifiers=[Identifier.of("email", "rui@example.pt")])
SUPPORT = Party(identifiers=[Identifier.of("email", "support@shop.pt")])
ALIAS = Party(identifiers=[Identifier.of("email", "sales@shop.pt")], role=PartyRole.us)


def email(direction: Direction, sender: Party, recipients: list[Party]) -> Interaction:
    now = datetime.now(UTC)
    return Interaction.build(
        channel=Channel.email,
        provider=Provider.imap,
        account="support@shop.pt",
        direction=direction,
        occurred_at=now,
        received_at=now,
        external_id="<m1@example.pt>",
        sender=sender,
        recipients=recipients,
    )


def emails_of(interaction: Interaction) -> list[str]:
    return [p.identifiers[0].value for p in interaction.customer_parties()]


def test_inbound_without_roles_is_the_sender_only() -> None:
    assert emails_of(email(Direction.inbound, ANA, [SUPPORT])) == ["ana@example.pt"]


def test_customer_in_cc_of_an_inbound_email_is_a_customer_too() -> None:
    cc_rui = RUI.model_copy(update={"role": PartyRole.customer})
    assert emails_of(email(Direction.inbound, ANA, [SUPPORT, cc_rui])) == ["ana@example.pt", "rui@example.pt"]


def test_our_own_alias_among_outbound_recipients_is_not_a_customer() -> None:
    assert emails_of(email(Direction.outbound, SUPPORT, [ANA, ALIAS, RUI])) == ["ana@example.pt", "rui@example.pt"]


def test_parties_stay_separate_people() -> None:
    parties = email(Direction.outbound, SUPPORT, [ANA, RUI]).customer_parties()
    assert [len(p.identifiers) for p in parties] == [1, 1]
