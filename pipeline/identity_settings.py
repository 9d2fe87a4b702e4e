"""Identity policy settings (``OMNITRAIL_IDENTITY_*``), turned into the pure :class:`Policy` once at start."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from pipeline.stages.policy import DEFAULT_AUTO_MERGE_KINDS, DEFAULT_BLOCKED_LOCAL_PARTS, Policy
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError, InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind

#: Comma-separated in the environment, a list in TOML.
CommaList = Annotated[list[str], NoDecode]


class IdentitySettings(OmnitrailSettings):
    """Who may be merged with whom (``OMNITRAIL_IDENTITY_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_IDENTITY_", extra="forbid")
    toml_section: ClassVar[str | None] = "identity"

    auto_merge_kinds: CommaList = Field(
        default=sorted(k.value for k in DEFAULT_AUTO_MERGE_KINDS),
        description="identifier kinds that merge two contacts when one claim carries both",
    )
    blocked_local_parts: CommaList = Field(default=list(DEFAULT_BLOCKED_LOCAL_PARTS))
    blocked_phone_prefixes: CommaList = Field(default=["+000"])
    own_identifiers: CommaList = Field(default=[], description="our own numbers and addresses: never a customer")
    shared_identifiers: CommaList = Field(default=[], description="e.g. family phones: linked, never merge")
    max_contacts_per_identifier: int = Field(default=5, ge=2)
    review_regions: CommaList = Field(default=["PT", "ES", "BR", "GB", "US", "FR", "DE"])

    @field_validator(
        "auto_merge_kinds",
        "blocked_local_parts",
        "blocked_phone_prefixes",
        "own_identifiers",
        "shared_identifiers",
        "review_regions",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("auto_merge_kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        known = {k.value for k in IdentifierKind}
        unknown = [v for v in value if v not in known]
        if unknown:
            raise ValueError(f"unknown identifier kind(s) {unknown}; known: {sorted(known)}")
        return value

    def policy(self, default_region: str) -> Policy:
        """The pure policy; identifiers given as emails or phones in any spelling (``default_region``)."""
        return Policy(
            auto_merge_kinds=frozenset(IdentifierKind(k) for k in self.auto_merge_kinds),
            blocked_local_parts=frozenset(p.lower() for p in self.blocked_local_parts),
            blocked_phone_prefixes=tuple(self.blocked_phone_prefixes),
            blocked_keys=frozenset(_keys("OWN_IDENTIFIERS", self.own_identifiers, default_region)),
            shared_keys=frozenset(_keys("SHARED_IDENTIFIERS", self.shared_identifiers, default_region)),
            max_contacts_per_identifier=self.max_contacts_per_identifier,
            review_regions=tuple(r.upper() for r in self.review_regions),
            default_region=default_region,
        )


def _keys(name: str, values: list[str], default_region: str) -> list[str]:
    keys = []
    for raw in values:
        kind = IdentifierKind.email if "@" in raw else IdentifierKind.phone
        try:
            keys.append(Identifier.of(kind, raw, default_region=default_region).key)
        except InvalidPayload as exc:
            raise FatalError(f"invalid configuration: OMNITRAIL_IDENTITY_{name}: {exc.reason}") from None
    return keys
