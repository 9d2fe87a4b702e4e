"""Twilio SharedKey signatures (``X-Twilio-Webhooks-Signature-Settings``): checked with the named key's secret and
the named hash exactly as the ``twilio`` package checks them; anything else refused before the body is parsed,
never checked with the Auth Token instead."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from connectors.twilio import TwilioConnector, TwilioSettings
from connectors.twilio.signature import TwilioSignature, form_signature
from connectors.webhook import RawRequest
from schemas.config import load
from schemas.errors import FatalError, InvalidSignature, UnknownSigningKey
from tests.helpers import (
    AUTH_TOKEN,
    NEW_KEY_ID,
    OLD_KEY_ID,
    SHARED_KEYS,
    inbound_sms,
    raw_request,
    shared_key_signed,
    signed,
    twilio_signature,
)

URL = "https://omnitrail.example.com/webhooks/twilio/messages"
CHECK = TwilioSignature(AUTH_TOKEN, SHARED_KEYS)
ALGORITHMS = ["HMAC_SHA1", "HMAC_SHA256"]
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"
OLD_SECRET, NEW_SECRET = SHARED_KEYS[OLD_KEY_ID], SHARED_KEYS[NEW_KEY_ID]


def sms(n: int) -> dict[str, str]:
    return inbound_sms("SM" + str(n) * 32, "+351912345678")


def refused(raw: RawRequest, check: TwilioSignature = CHECK) -> str:
    """The reason ``check`` refuses ``raw`` for."""
    with pytest.raises(InvalidSignature) as refusal:
        check.verify(raw)
    return refusal.value.reason


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(params=st.dictionaries(st.text(), st.text()), path=st.text(), secret=st.text(min_size=1))
def test_the_one_hmac_is_request_validators_signature_for_each_algorithm(
    algorithm: str, params: dict[str, str], path: str, secret: str
) -> None:
    url = URL + path
    expected = RequestValidator(secret).compute_signature(url, params, algorithm)
    assert form_signature(secret.encode(), url, params, algorithm) == expected


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(
    params=st.dictionaries(st.text(), st.text(), max_size=5),
    configured=st.sampled_from([URL, URL.replace(".com", ".com:443"), URL + "?a=1&b=", URL + "#x"]),
    signed_for=st.sampled_from([URL, URL.replace(".com", ".com:443"), URL.replace(".com", ".com:8443")]),
    key_id=st.sampled_from([OLD_KEY_ID, NEW_KEY_ID]),
)
def test_verify_accepts_exactly_what_request_validator_accepts_with_the_named_key(
    algorithm: str, params: dict[str, str], configured: str, signed_for: str, key_id: str
) -> None:
    _, headers = shared_key_signed(signed_for, params, key_id, algorithm)
    body = urlencode(params).encode("utf-8", errors="surrogatepass")
    raw = raw_request(configured, body, headers)
    secret = SHARED_KEYS[key_id]
    expected = RequestValidator(secret).validate(configured, raw.form(), headers["X-Twilio-Signature"], algorithm)
    try:
        CHECK.verify(raw)
    except InvalidSignature:
        assert not expected
    else:
        assert expected


@pytest.mark.parametrize("key_id", [OLD_KEY_ID, NEW_KEY_ID])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_during_a_rotation_each_configured_key_verifies_its_own_requests(key_id: str, algorithm: str) -> None:
    CHECK.verify(raw_request(URL, *shared_key_signed(URL, sms(1), key_id, algorithm)))
    # Twilio signing the default port spelled out, as it sometimes does: the other port spelling is checked too.
    CHECK.verify(raw_request(URL, *shared_key_signed(URL.replace(".com", ".com:443"), sms(1), key_id, algorithm)))
    # Without the header, the Auth Token and SHA-1 decide, as before shared keys: this signature is not theirs.
    body, headers = shared_key_signed(URL, sms(1), key_id, algorithm)
    del headers[SETTINGS]
    assert refused(raw_request(URL, body, headers)).startswith("X-Twilio-Signature does not match")
    CHECK.verify(raw_request(URL, *signed(URL, sms(1))))


def test_a_json_post_signed_with_a_shared_key_is_checked_through_its_body_hash() -> None:
    body = b'{"MessageSid": "SM' + b"5" * 32 + b'"}'
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": twilio_signature(url, {}, SHARED_KEYS[NEW_KEY_ID], "HMAC_SHA256"),
        SETTINGS: f"key={NEW_KEY_ID},algorithm=HMAC_SHA256",
    }
    CHECK.verify(raw_request(url, body, headers))
    assert "does not match" in refused(raw_request(url, body.replace(b"5", b"6"), headers))


@pytest.mark.parametrize(
    ("signer", "header"),
    [
        # Signed with the Auth Token and SHA-1, naming a configured key: the Auth Token is never tried instead.
        ("auth token", f"key={NEW_KEY_ID},algorithm=HMAC_SHA1"),
        # Signed with the key under SHA-256, the header rewritten to SHA-1 (or the other way round).
        ("new key sha256", f"key={NEW_KEY_ID},algorithm=HMAC_SHA1"),
        ("new key sha1", f"key={NEW_KEY_ID},algorithm=HMAC_SHA256"),
        # Signed with one key, naming the other.
        ("old key sha256", f"key={NEW_KEY_ID},algorithm=HMAC_SHA256"),
        # Signed with a secret that is not the key's.
        ("another secret", f"key={NEW_KEY_ID},algorithm=HMAC_SHA256"),
    ],
)
def test_a_signature_by_anything_but_the_named_key_and_hash_is_refused(signer: str, header: str) -> None:
    params = sms(3)
    secret, algorithm = {
        "auth token": (AUTH_TOKEN, "HMAC_SHA1"),
        "new key sha256": (SHARED_KEYS[NEW_KEY_ID], "HMAC_SHA256"),
        "new key sha1": (SHARED_KEYS[NEW_KEY_ID], "HMAC_SHA1"),
        "old key sha256": (SHARED_KEYS[OLD_KEY_ID], "HMAC_SHA256"),
        "another secret": ("not-the-shared-key-secret", "HMAC_SHA256"),
    }[signer]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(URL, params, secret, algorithm),
        SETTINGS: header,
    }
    reason = refused(raw_request(URL, urlencode(params).encode(), headers))
    assert reason.startswith(
        f"X-Twilio-Signature (shared key {NEW_KEY_ID}, {header.rpartition('=')[2]}) does not match"
    )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (
            "key=webhooks_sharedkey_01JUNKNOWN,algorithm=HMAC_SHA256",
            "shared key webhooks_sharedkey_01JUNKNOWN, which is not configured",
        ),
        (f"key={NEW_KEY_ID},algorithm=HMAC_SHA512", "unsupported signature algorithm HMAC_SHA512"),
        (f"key={NEW_KEY_ID},algorithm=MD5", "unsupported signature algorithm MD5"),
        (f"key={NEW_KEY_ID},algorithm=", "unsupported signature algorithm (malformed)"),
        (f"key={NEW_KEY_ID},algorithm=HMAC SHA256 Ana Silva", "unsupported signature algorithm (malformed)"),
        (f"key={NEW_KEY_ID}", "one key and one algorithm"),
        ("algorithm=HMAC_SHA256", "one key and one algorithm"),
        (f"key={OLD_KEY_ID},key={NEW_KEY_ID},algorithm=HMAC_SHA256", "one key and one algorithm"),
        (f"key={NEW_KEY_ID},algorithm=HMAC_SHA1,algorithm=HMAC_SHA256", "one key and one algorithm"),
        ("", "one key and one algorithm"),  # present but empty: not the Auth Token's absent header
        (f"{NEW_KEY_ID};HMAC_SHA256", "a parameter without a value"),
        ("key=ana@example.com,algorithm=HMAC_SHA256", "not a key id"),
    ],
)
def test_an_unusable_header_is_refused_before_the_body_is_parsed(header: str, reason: str) -> None:
    # Signed with the Auth Token: if the header were ignored, the request would pass.
    body, headers = signed(URL, sms(4))
    raw = raw_request(URL, body, headers | {SETTINGS: header})
    found = refused(raw)
    assert reason in found
    assert "ana@example.com" not in found
    assert "Ana Silva" not in found
    assert raw._form is None  # refused on the headers alone


def test_only_a_key_missing_here_is_an_unknown_signing_key_the_rest_a_bad_signature() -> None:
    """The first is answered 503 (Twilio retries once the key is configured); the rest 403."""
    body, headers = signed(URL, sms(6))
    missing = "key=webhooks_sharedkey_01JUNKNOWN,algorithm=HMAC_SHA256"
    with pytest.raises(UnknownSigningKey):
        CHECK.verify(raw_request(URL, body, headers | {SETTINGS: missing}))
    with pytest.raises(UnknownSigningKey):
        TwilioSignature(AUTH_TOKEN).verify(raw_request(URL, *shared_key_signed(URL, sms(6))))
    for bad in (f"key={NEW_KEY_ID},algorithm=MD5", "HMAC_SHA256", f"key={NEW_KEY_ID},algorithm=HMAC_SHA1"):
        with pytest.raises(InvalidSignature) as refusal:
            CHECK.verify(raw_request(URL, body, headers | {SETTINGS: bad}))
        assert type(refusal.value) is InvalidSignature, bad
    # Malformed with no key configured: still a bad signature, not a key to configure.
    with pytest.raises(InvalidSignature) as refusal:
        TwilioSignature(AUTH_TOKEN).verify(raw_request(URL, body, headers | {SETTINGS: "HMAC_SHA256"}))
    assert type(refusal.value) is InvalidSignature


def test_a_shared_key_header_when_no_key_is_configured_is_refused() -> None:
    raw = raw_request(URL, *shared_key_signed(URL, sms(5)))
    assert "none is configured (OMNITRAIL_TWILIO_SHARED_KEYS)" in refused(raw, TwilioSignature(AUTH_TOKEN))
    assert raw._form is None


def test_shared_keys_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRAIL_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("OMNITRAIL_TWILIO_SHARED_KEYS", json.dumps(SHARED_KEYS))
    settings = load(TwilioSettings)
    assert {key_id: secret.get_secret_value() for key_id, secret in settings.shared_keys.items()} == {
        OLD_KEY_ID: OLD_SECRET,
        NEW_KEY_ID: NEW_SECRET,
    }
    assert OLD_SECRET not in repr(settings)
    assert NEW_SECRET not in str(settings)
    connector = TwilioConnector(settings, default_region="PT")
    params = sms(7)
    for route in connector.routes():  # messages, status callbacks, voice: the same check on every route
        route.verify(raw_request(URL, *shared_key_signed(URL, params, OLD_KEY_ID, secret=OLD_SECRET)))


def test_shared_keys_from_the_configuration_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "omnitrail.toml"
    config.write_text(
        f'[twilio]\nauth_token = "{AUTH_TOKEN}"\n\n[twilio.shared_keys]\n{NEW_KEY_ID} = "{NEW_SECRET}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("OMNITRAIL_CONFIG", str(config))
    assert load(TwilioSettings).shared_keys[NEW_KEY_ID].get_secret_value() == NEW_SECRET


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f'{{"not a key id": "{NEW_SECRET}"}}', "a key id is 1-128 of"),
        (f'{{"{NEW_KEY_ID}": ""}}', "is empty"),
        (f'{{"{NEW_KEY_ID}": "s3cret-value"}}', "shorter than 16 characters"),
        (f'{{"{NEW_KEY_ID}": "CHANGE-ME-s3cret-value"}}', "still the example's CHANGE-ME"),
        (f"{NEW_KEY_ID}:s3cret-value", "error parsing value for field"),  # not JSON
    ],
)
def test_unusable_shared_keys_stop_the_start_naming_the_setting_not_the_secret(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("OMNITRAIL_TWILIO_SHARED_KEYS", value)
    with pytest.raises(FatalError, match=r"shared_keys|SHARED_KEYS") as stopped:
        load(TwilioSettings)
    assert message in str(stopped.value)
    assert "s3cret-value" not in str(stopped.value)  # named, never quoted


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_tests_sign_as_twilio_signs(algorithm: str) -> None:
    params = sms(8)
    expected = RequestValidator(SHARED_KEYS[NEW_KEY_ID]).compute_signature(URL, params, algorithm)
    assert twilio_signature(URL, params, SHARED_KEYS[NEW_KEY_ID], algorithm) == expected
