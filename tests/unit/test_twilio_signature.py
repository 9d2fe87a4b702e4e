"""X-Twilio-Signature: the one-HMAC check accepts exactly what RequestValidator accepts."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from connectors.twilio.signature import TwilioSignature, form_signature
from schemas.errors import InvalidSignature
from tests.helpers import AUTH_TOKEN, inbound_sms, raw_request, signed, twilio_signature

URL = "https://omnitrail.example.com/webhooks/twilio/messages"
CHECK = TwilioSignature(AUTH_TOKEN)


def test_a_request_signed_over_the_configured_url_is_accepted() -> None:
    body, headers = signed(URL, inbound_sms("SM" + "1" * 32, "+351912345678"))
    CHECK.verify(raw_request(URL, body, headers))


def test_twilio_signing_with_the_default_port_spelled_out_is_still_accepted() -> None:
    # Twilio sometimes signs https://host:443/...; the fast path misses, RequestValidator's port variants match.
    params = inbound_sms("SM" + "2" * 32, "+351912345678")
    body, headers = signed("https://omnitrail.example.com:443/webhooks/twilio/messages", params)
    CHECK.verify(raw_request(URL, body, headers))


@pytest.mark.parametrize(
    ("change", "token"),
    [
        ("body", AUTH_TOKEN),  # a parameter changed after signing
        ("none", "another-accounts-token"),  # signed by someone without our token
        ("url", AUTH_TOKEN),  # signed for another endpoint
    ],
)
def test_a_forged_or_altered_request_is_refused(change: str, token: str) -> None:
    params = inbound_sms("SM" + "3" * 32, "+351912345678")
    body, headers = signed(URL.replace("messages", "status") if change == "url" else URL, params, token)
    if change == "body":
        body = body.replace(b"encomenda", b"reembolso")
    with pytest.raises(InvalidSignature):
        CHECK.verify(raw_request(URL, body, headers))


def test_a_missing_signature_is_refused() -> None:
    body, headers = signed(URL, inbound_sms("SM" + "4" * 32, "+351912345678"))
    del headers["X-Twilio-Signature"]
    with pytest.raises(InvalidSignature, match="missing"):
        CHECK.verify(raw_request(URL, body, headers))


def test_json_posts_are_checked_through_the_body_hash() -> None:
    body = b'{"MessageSid": "SM' + b"5" * 32 + b'"}'
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": twilio_signature(url, {})}
    CHECK.verify(raw_request(url, body, headers))
    with pytest.raises(InvalidSignature):
        CHECK.verify(raw_request(url, body.replace(b"5", b"6"), headers))


def test_the_form_is_parsed_once_and_each_reader_gets_its_own_copy() -> None:
    body, headers = signed(URL, inbound_sms("SM" + "7" * 32, "+351912345678"))
    raw = raw_request(URL, body, headers)
    first = raw.form()
    first["From"] = "+351000000000"  # one reader's change ...
    assert raw.form()["From"] == "+351912345678"  # ... is not what the next one reads


@given(st.dictionaries(st.text(), st.text()), st.text())
def test_the_one_hmac_is_request_validators_own_signature(params: dict[str, str], path: str) -> None:
    url = URL + path
    assert form_signature(AUTH_TOKEN.encode(), url, params) == RequestValidator(AUTH_TOKEN).compute_signature(
        url, params
    )


@given(
    st.dictionaries(st.text(), st.text(), max_size=5),
    st.sampled_from([URL, URL.replace(".com", ".com:443"), URL.replace("https", "http"), URL + "?a=1&b=", URL + "#x"]),
    st.sampled_from([URL, URL.replace(".com", ".com:443"), URL.replace(".com", ".com:8443"), URL + "?a=1&b="]),
)
def test_verify_accepts_exactly_what_request_validator_accepts(
    params: dict[str, str], configured: str, signed_for: str
) -> None:
    body = urlencode(params).encode("utf-8", errors="surrogatepass")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(signed_for, params),
    }
    raw = raw_request(configured, body, headers)
    expected = RequestValidator(AUTH_TOKEN).validate(configured, raw.form(), headers["X-Twilio-Signature"])
    try:
        CHECK.verify(raw)
    except InvalidSignature:
        assert not expected
    else:
        assert expected
