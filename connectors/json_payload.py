"""Reading providers' JSON bodies: typed field access whose failures are clear, PII-free reasons.

A provider payload that verifies but lacks a field must become :class:`InvalidPayload` with a
reason naming the field (never its value), not a ``KeyError`` deep in a normalizer. Batched
payloads use :func:`each` so every bad element is rejected alone, with its own bytes, whatever it
raised (a shape no check foresaw, a bug): the rest of the batch is ingested.

A lone UTF-16 surrogate escape (``"\\ud83d"``: an emoji a JavaScript widget cut in half) is valid JSON
text but no Unicode: orjson refuses the whole body for it. :func:`parse` reads such a body again with
each lone surrogate escape as U+FFFD (what the schema makes of a lone surrogate anyway, see
:mod:`schemas.text`), so one damaged character no longer costs every event of a batch. Bodies are
parsed only after their signature was checked on the raw bytes, which stay what is dead-lettered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import ValidationError

from connectors.webhook import Normalized, Rejected, unnormalizable
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction

T = TypeVar("T")
Json = dict[str, Any]
log = structlog.get_logger(__name__)


#: Deepest nesting a JSON body may have. Providers send a handful of levels; each step after the parse
#: (dead-letter copies with orjson, 255; pydantic's serializer; the standard library's json, ~1000) has
#: its own recursion limit, and a document under orjson's parse limit (1024) broke them one by one.
MAX_DEPTH = 64


#: A surrogate pair's escapes (kept), a lone surrogate's escape (replaced), or any other escape (skipped
#: whole, so an escaped backslash followed by "ud83d" is left as the text it is).
_ESCAPES = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\.", re.DOTALL
)
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _without_lone_surrogates(body: bytes) -> bytes:
    def fix(match: re.Match[bytes]) -> bytes:
        escape = match.group()
        return b"\\ufffd" if len(escape) == 6 and escape[1:2] == b"u" else escape

    return _ESCAPES.sub(fix, body)


def parse(body: bytes) -> Any:
    """Any JSON document, or InvalidPayload: orjson also refuses invalid UTF-8 and integers past 64 bits.

    A lone surrogate escape is read as U+FFFD (see the module doc); nothing else orjson refuses is let in."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not _LONE_SURROGATE.search(body):
            raise InvalidPayload("body is not JSON") from None
        try:
            value = orjson.loads(_without_lone_surrogates(body))
        except orjson.JSONDecodeError:
            raise InvalidPayload("body is not JSON") from None
    # Nesting can only pass the limit with more openers than that in the body: a count at C speed
    # spares the walk to the few bodies that might.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise InvalidPayload(f"body is nested deeper than {MAX_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_object(body: bytes) -> Json:
    value = parse(body)
    if not isinstance(value, dict):
        raise InvalidPayload("body is not a JSON object")
    return value


def _typed(obj: Json, key: str, kind: type[T], where: str) -> T:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise InvalidPayload(f"{where}{key} is missing or not a {kind.__name__}")
    return value


def text(obj: Json, key: str, where: str = "") -> str:
    """A required non-empty string; numbers (ids sent as numbers) are accepted as their digits."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _typed(obj, key, str, where).strip()


def optional_text(obj: Json, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


def optional_list(parent: Json, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def obj(parent: Json, key: str, where: str = "") -> Json:
    return _typed(parent, key, dict, where)


def items(parent: Json, key: str, where: str = "") -> list[Any]:
    return _typed(parent, key, list, where)


def epoch_ms(value: Any, where: str) -> datetime:
    """Milliseconds since the epoch (Meta ``timestamp``, X ``created_timestamp``), as int or string."""
    return _epoch(value, where, 1000)


def epoch_s(value: Any, where: str) -> datetime:
    return _epoch(value, where, 1)


def _epoch(value: Any, where: str, per_second: int) -> datetime:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidPayload(f"{where} is not an epoch timestamp")
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, ValueError, OSError):  # past year 9999 (or the platform's time_t)
        raise InvalidPayload(f"{where} is out of range") from None


def each(elements: Iterable[T], normalize: Callable[[T], list[Interaction]]) -> Normalized:
    """Normalize every element of a batch; a bad one is rejected with its own bytes, the rest go on."""
    result = Normalized([])
    for element in elements:
        try:
            result.interactions.extend(normalize(element))
        except Exception as exc:  # not BaseException: a cancellation or an interrupt still stops the request
            result.rejected.append(Rejected(reason(exc), orjson.dumps(element)))
    return result


def reason(exc: Exception) -> str:
    """Why one element of a batch was rejected: the normalizer's reason, the schema fields it got wrong, or for
    anything else (a shape no check foresaw, a bug) the exception's type, logged, never its message."""
    if isinstance(exc, InvalidPayload):
        return exc.reason
    if isinstance(exc, ValidationError):
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()[:3])
        return f"invalid interaction fields: {fields}"
    return unexpected(exc)


def unexpected(exc: Exception) -> str:
    """The reason for one element a normalizer raised on unexpectedly (see :func:`reason`)."""
    log.warning("webhook.item_normalizer_failed", error=type(exc).__name__)
    return unnormalizable(exc)


def rejected(element: Any, reason: str) -> Normalized:
    return Normalized([], [Rejected(reason, orjson.dumps(element))])


def merge(parts: Iterable[Normalized]) -> Normalized:
    result = Normalized([])
    for part in parts:
        result.interactions.extend(part.interactions)
        result.rejected.extend(part.rejected)
    return result


def whole_if_nothing_good(result: Normalized) -> Normalized:
    """A body none of whose elements could be normalized is dead-lettered whole (its exact bytes,
    ready to replay) rather than in pieces."""
    if result.rejected and not result.interactions:
        raise InvalidPayload(result.rejected[0].reason)
    return result
