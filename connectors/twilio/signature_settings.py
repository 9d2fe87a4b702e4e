"""``X-Twilio-Webhooks-Signature-Settings``: the SharedKey and hash a Twilio webhook was signed with.

Twilio signs with the account's Auth Token and HMAC-SHA1 unless a Webhook Rule matches the URL; then
it signs with the Rule's Setting: a SharedKey's secret and that Setting's algorithm, and says which in
this header, ``key=<sharedKeyId>,algorithm=HMAC_SHA256`` (or ``HMAC_SHA1``). The signed string is the
same either way. A header that does not name one key and one supported algorithm is refused here,
before the body is read, and never verified with the Auth Token instead: a shared key's request is
checked with that key or not at all. (A request without the header is checked with the Auth Token,
as Twilio's own validators do.)
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.twilio.settings import KEY_ID
from schemas.errors import InvalidSignature

HEADER = "x-twilio-webhooks-signature-settings"
_NAME = "X-Twilio-Webhooks-Signature-Settings"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
ALGORITHMS = (HMAC_SHA1, HMAC_SHA256)


@dataclass(frozen=True)
class SignatureSettings:
    key_id: str
    algorithm: str

    @classmethod
    def parse(cls, value: str) -> SignatureSettings:
        """The header's ``key`` and ``algorithm``; InvalidSignature when either is missing, repeated or unusable.

        Other ``name=value`` parameters are ignored (as the ``twilio`` package's own reader does), blank ones
        too; the algorithm is read case-insensitively, as RequestValidator reads it.
        """
        found: dict[str, list[str]] = {"key": [], "algorithm": []}
        for part in value.split(","):
            name, equals, setting = part.partition("=")
            if not equals:
                if part.strip():
                    raise InvalidSignature(f"malformed {_NAME}: a parameter without a value")
                continue
            if name.strip() in found:
                found[name.strip()].append(setting.strip())
        if [len(values) for values in found.values()] != [1, 1]:
            raise InvalidSignature(f"malformed {_NAME}: it names one key and one algorithm")
        [key_id], [algorithm] = found["key"], found["algorithm"]
        if not KEY_ID.fullmatch(key_id):
            raise InvalidSignature(f"malformed {_NAME}: not a key id")
        if algorithm.upper() not in ALGORITHMS:
            # Quoted in the refusal (logged, answered) only when it is a plain token, as a key id is.
            shown = algorithm if KEY_ID.fullmatch(algorithm) else "(malformed)"
            raise InvalidSignature(f"unsupported signature algorithm {shown} in {_NAME} (HMAC_SHA1 or HMAC_SHA256)")
        return cls(key_id, algorithm.upper())
