from __future__ import annotations

import uuid

import pytest

from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind, is_local_email, normalize_email, normalize_phone
from schemas.ids import contact_id_for, interaction_id_for


@pytest.mark.parametrize(
    "spelling",
    [
        "912 345 678",
        "912345678",
        "+351 912 345 678",
        "+351-912-345-678",
        "00351912345678",
        "whatsapp:+351912345678",
        "(+351) 912.345.678",
        "tel:+351912345678",
    ],
)
def test_every_common_phone_spelling_is_one_e164_number(spelling: str) -> None:
    assert normalize_phone(spelling, "PT") == "+351912345678"


def test_national_spelling_uses_the_configured_default_region() -> None:
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("11 91234-5678", "BR") == "+5511912345678"


@pytest.mark.parametrize("bad", ["", "hello", "12", "+999999999999999999"])
def test_garbage_is_not_a_phone(bad: str) -> None:
    with pytest.raises(InvalidPayload):
        normalize_phone(bad, "PT")


@pytest.mark.parametrize(
    "spelling",
    ["+351 210 000 000 ext. 12", "+351 210 000 000 ext. 34", "210000000 x12", "+351210000000;ext=99", "210 000 000 #7"],
)
def test_a_number_with_an_extension_is_refused_not_the_switchboards_number(spelling: str) -> None:
    """Two staff behind one switchboard are two people: neither becomes the bare number, one identifier."""
    with pytest.raises(InvalidPayload, match="extension"):
        normalize_phone(spelling, "PT")
    with pytest.raises(InvalidPayload, match="extension"):
        Identifier.of(IdentifierKind.phone, spelling)
    assert normalize_phone("+351 210 000 000", "PT") == "+351210000000"


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ana.Silva@Example.PT ") == "ana.silva@example.pt"
    assert normalize_email("<mailto:Ana@x.com>") == "ana@x.com"
    with pytest.raises(InvalidPayload):
        normalize_email("ana at example")


def test_a_quoted_local_part_may_hold_spaces_nothing_else_may() -> None:
    assert normalize_email('"Ana Smith"@Cliente.Example') == '"ana smith"@cliente.example'
    assert Identifier.of(IdentifierKind.email, '"Ana Smith"@cliente.example').key == 'email:"ana smith"@cliente.example'
    for garbage in ("ana smith@cliente.example", '"ana"@cliente example', 'ana "smith"@cliente.example'):
        with pytest.raises(InvalidPayload):
            normalize_email(garbage)


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("Redacted@Redacted", "redacted@redacted"),
        ("root@localhost", "root@localhost"),
        (" <user@intranet> ", "user@intranet"),
        ("ops@mail-01", "ops@mail-01"),
        ("admin@[192.0.2.1]", "admin@[192.0.2.1]"),
        ('"a@b"@intranet', '"a@b"@intranet'),
    ],
)
def test_an_address_whose_domain_has_no_dot_is_an_address(raw: str, address: str) -> None:
    assert normalize_email(raw) == address
    assert Identifier.of(IdentifierKind.email, raw).value == address
    assert Identifier(kind=IdentifierKind.email, value=address).value == address  # as replays bring it back


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "localhost",
        "Martin <root@localhost>",  # a display name is no part of an address
        "@localhost",
        "root@",
        "root @localhost",
        "root@local host",
        "root@-localhost",
        "root@localhost-",
        "root@_",
    ],
)
def test_a_one_label_domain_must_be_a_host_name(garbage: str) -> None:
    assert normalize_email("root@localhost") == "root@localhost"
    with pytest.raises(InvalidPayload):
        normalize_email(garbage)


@pytest.mark.parametrize(
    "garbage",
    [
        "ro\x01ot@example.pt",
        "root@example.pt\x7f",
        "root\x9b@example.pt",
        "root@host@example.pt",
        "\x1b[31m@example.pt",
    ],
)
def test_control_characters_and_a_second_at_sign_are_no_address(garbage: str) -> None:
    with pytest.raises(InvalidPayload):
        normalize_email(garbage)
    with pytest.raises(InvalidPayload):
        Identifier.of(IdentifierKind.email, garbage)


def test_only_an_address_of_a_one_label_domain_is_local() -> None:
    assert is_local_email("root@localhost")
    assert is_local_email("redacted@redacted")
    assert not is_local_email("ana@example.pt")
    assert not is_local_email("admin@[192.0.2.1]")  # an address literal is one host wherever it is read
    assert not is_local_email("admin@[ipv6:2001:db8::1]")
    # A fully qualified localhost and a loopback or private address literal name a host inside one network.
    assert is_local_email("root@localhost.")
    assert is_local_email("root@[127.0.0.1]")
    assert is_local_email("admin@[10.0.0.1]")
    assert is_local_email("admin@[192.168.1.1]")
    assert is_local_email("admin@[ipv6:::1]")


def test_whatsapp_number_is_the_same_phone_identifier_as_sms() -> None:
    wa = Identifier.of(IdentifierKind.whatsapp, "whatsapp:+351912345678")
    sms = Identifier.of(IdentifierKind.phone, "912 345 678")
    assert wa == sms
    assert wa.key == "phone:+351912345678"


def test_identifiers_from_the_wire_must_already_be_normalized() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        Identifier(kind=IdentifierKind.phone, value="912 345 678")
    for other_digits in (
        "+\u0661\u0662\u0663\u0664",
        "+\u00b2\u00b3",
        "+\uff19\uff11\uff12",
    ):  # Arabic-Indic, superscript, full-width
        with pytest.raises(ValueError, match=r"E\.164"):
            Identifier(kind=IdentifierKind.phone, value=other_digits)
    with pytest.raises(ValueError, match="normalized"):
        Identifier(kind=IdentifierKind.email, value="Ana@X.com")


def test_ids_are_deterministic_and_distinct() -> None:
    a = interaction_id_for("sms", "+351210000000", "SM1")
    assert a == interaction_id_for("sms", "+351210000000", "SM1")
    assert a != interaction_id_for("sms", "+351210000000", "SM2")
    assert a != interaction_id_for("whatsapp", "+351210000000", "SM1")
    assert a.version == 5
    assert contact_id_for("phone:+351912345678") == contact_id_for("phone:+351912345678")
    assert isinstance(contact_id_for("x"), uuid.UUID)


@pytest.mark.parametrize("kind", ["email", "phone", "telegram", "external"])
def test_a_nul_character_is_refused_for_every_kind(kind: str) -> None:
    with pytest.raises(InvalidPayload, match="NUL"):
        Identifier.of(kind, "ana\x00@example.pt" if kind == "email" else "912\x00345678")
