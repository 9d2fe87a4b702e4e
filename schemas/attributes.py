"""Custom contact attributes: typed definitions (data, not code) and validation of values against them.

Values arrive as text (CSV cells, command lines) or as JSON (the API, JSON Lines imports);
:func:`coerce` turns either into the stored typed value or raises :class:`InvalidPayload`
with a reason that names the attribute and the expected type but never echoes the value
(it may be personal data).
"""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.contact import AttributeValue
from schemas.errors import InvalidPayload

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


class AttributeType(StrEnum):
    string = "string"
    number = "number"
    boolean = "boolean"
    date = "date"
    enum = "enum"


class AttributeDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="lower-case letters, digits and _")
    type: AttributeType
    values: list[str] | None = Field(default=None, description="the allowed values of an enum")

    @model_validator(mode="after")
    def _enum_values(self) -> Self:
        if self.type is AttributeType.enum and not self.values:
            raise ValueError("an enum attribute needs its list of values")
        if self.type is not AttributeType.enum and self.values is not None:
            raise ValueError("only enum attributes take a list of values")
        return self


def coerce(definition: AttributeDefinition, raw: object) -> AttributeValue:
    """The typed value of ``raw`` for this attribute, or InvalidPayload saying what was expected."""
    kind = definition.type
    text = raw.strip() if isinstance(raw, str) else None
    if kind is AttributeType.string and text is not None:
        return text
    if kind is AttributeType.number:
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            return raw
        if text is not None:
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return (
                        int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
                    )
    if kind is AttributeType.boolean:
        if isinstance(raw, bool):
            return raw
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    if kind is AttributeType.date and text is not None:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    if kind is AttributeType.enum and text is not None and definition.values and text in definition.values:
        return text
    expected = f"one of {definition.values}" if kind is AttributeType.enum else f"a {kind.value}"
    if kind is AttributeType.date:
        expected = "a date (YYYY-MM-DD)"
    raise InvalidPayload(f"attribute {definition.name}: expected {expected}")
