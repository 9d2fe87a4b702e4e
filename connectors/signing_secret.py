"""The secret a webhook's signature is checked with, declared once for every connector's settings.

An empty value (``OMNITRAIL_META_APP_SECRET=``, or a compose file's ``${VAR}`` of an unset variable)
was taken as the key: an HMAC under the empty key is one anyone can compute, so anyone could post
forged messages to a mounted route. An empty value now means unset, as leaving the variable out
does (the route is not mounted). A value shorter than :data:`MIN_LENGTH`, with whitespace around
it, or still an example's ``CHANGE-ME`` stops the process at start-up with the setting named (the
value never quoted). Providers' own secrets are longer: Twilio's auth token and Meta's app secret
have 32 characters, X's consumer secret 50.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr

#: Shortest secret accepted: 16 characters of a random token are beyond guessing through a webhook.
MIN_LENGTH = 16
_PLACEHOLDER = "CHANGE-ME"


def _usable(value: Any) -> Any:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        return value  # not text: the type's own validation says what is wrong
    if not text:
        raise ValueError("is empty")
    if text.strip() != text:
        raise ValueError("has spaces or a line end around it")
    if len(text) < MIN_LENGTH:
        raise ValueError(f"is shorter than {MIN_LENGTH} characters: anyone could guess it")
    if _PLACEHOLDER in text.upper():
        raise ValueError(f"is still the example's {_PLACEHOLDER}")
    return value


def _empty_is_unset(value: Any) -> Any:
    empty = value == "" or (isinstance(value, SecretStr) and not value.get_secret_value())
    return None if empty else value


#: A secret that is set: usable, or a start-up error.
SigningSecret = Annotated[SecretStr, BeforeValidator(_usable)]
#: A secret that may be left unset (its route then not mounted); empty counts as unset.
OptionalSigningSecret = Annotated[SigningSecret | None, BeforeValidator(_empty_is_unset)]
#: A value that is no key (Meta's verify token is compared, never signed with): only empty counts as unset.
OptionalToken = Annotated[SecretStr | None, BeforeValidator(_empty_is_unset)]
