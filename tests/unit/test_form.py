"""The form parser gives what ``urllib.parse.parse_qsl`` gives for the body decoded with replacement, on any bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st

from connectors.form import parse_form

#: Bytes that matter to the parser, often enough to meet each other (escapes, separators, broken UTF-8).
_PIECES = st.sampled_from(
    [b"&", b"=", b"+", b"%", b"%2", b"%2B", b"%C3%A1", b"%zz", b"\xc3", b"\xa1", b"\xff", b"a", b"Z"]
)


def reference(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


@given(st.lists(st.one_of(_PIECES, st.binary(max_size=4))).map(b"".join))
def test_any_body_parses_as_parse_qsl_parses_it(body: bytes) -> None:
    assert parse_form(body) == reference(body)


@given(st.lists(st.tuples(st.text(), st.text())))
def test_an_encoded_form_comes_back_as_it_was_sent(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs).encode("utf-8", errors="surrogatepass")
    assert parse_form(body) == reference(body)


def test_a_twilio_form() -> None:
    body = b"From=%2B351912345678&Body=Ol%C3%A1+mundo&NumMedia=0&Empty=&Bare&&To=+351"
    assert parse_form(body) == [
        ("From", "+351912345678"),
        ("Body", "Olá mundo"),
        ("NumMedia", "0"),
        ("Empty", ""),
        ("Bare", ""),
        ("To", " 351"),
    ]
