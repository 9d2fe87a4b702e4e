"""Storable text: what every text field of the schema holds, whichever channel it came from.

PostgreSQL cannot store U+0000 (in ``text`` or ``jsonb``) and UTF-8 cannot encode a lone
surrogate, yet both reach connectors: GSM-7 encodes "@" as 0x00, so SMS bodies arrive with NULs,
and undecodable email headers come back from Python's ``email`` package as lone surrogates. A
string the database refuses would be acknowledged by the connector and dead-lettered by the
worker, i.e. lost after a 2xx. So the schema (not each connector) makes text storable when a
model is built: each NUL and each lone surrogate becomes U+FFFD (the replacement character,
visibly "something was here"); a valid surrogate pair becomes the character it encodes.
Identifiers are refused instead (:mod:`schemas.identifiers`): a NUL in an address is no address.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator

REPLACEMENT = "\ufffd"


def storable(value: str) -> str:
    """``value`` with every NUL and lone surrogate replaced by U+FFFD; unchanged (same object) if none."""
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass joins valid pairs; decoding with "replace" turns each lone one into U+FFFD.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def is_storable(value: str) -> bool:
    return storable(value) is value


def storable_json(value: Any) -> Any:
    """A JSON-shaped value (metadata) with every string in it, keys included, made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict | list):
        if not value:  # no metadata: most interactions
            return value
        # The common case in one C call: orjson refuses lone surrogates and writes NUL as \u0000.
        try:
            if b"\\u0000" not in orjson.dumps(value):
                return value
        except (orjson.JSONEncodeError, TypeError):
            pass
        return _walk(value)
    return value


def storable_text(value: Any) -> Any:
    """A text field's value made storable (anything but a string is left to the field's own validation).

    :func:`storable` with its common case inline: pydantic calls this for every text field of every
    record the worker decodes, and the second call was ~1% of the worker's CPU."""
    if not isinstance(value, str) or ("\x00" not in value and value.isascii()):
        return value
    return storable(value)


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k) if isinstance(k, str) else k: _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


#: A string field of the schema: NUL and lone surrogates replaced (see module doc). Before validation:
#: pydantic refuses a lone surrogate in a field with a length constraint before an after-validator runs.
Text = Annotated[str, BeforeValidator(storable_text)]
#: A free-form JSON field of the schema (``metadata``), every string in it made storable.
JsonObject = Annotated[dict[str, Any], BeforeValidator(storable_json)]
