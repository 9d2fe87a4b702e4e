"""Identity policy: which identifiers may identify a customer, and which may merge people.

Pure data, built once from :class:`pipeline.identity_settings.IdentitySettings`. Three tiers:

* **blocked** identifiers never identify anybody (``noreply@``-style addresses, ``+000...``,
  addresses of a one-label domain such as ``root@localhost``, our own numbers and addresses): they
  are not linked and never merge;
* **weak** identifiers are linked to a contact but never merge two contacts (kinds not allowed
  to auto-merge, identifiers marked shared such as a family phone, and identifiers that already
  joined ``max_contacts_per_identifier`` contacts);
* every other identifier is **merging**: carrying identifiers of two contacts merges them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.identifiers import Identifier, IdentifierKind, is_local_email

DEFAULT_BLOCKED_LOCAL_PARTS = (
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
    "notifications",
)

#: Every kind merges by default except a WhatsApp username: users change it and it can pass to someone else.
DEFAULT_AUTO_MERGE_KINDS = frozenset(IdentifierKind) - {IdentifierKind.whatsapp_username}

#: Compared for every identifier of every batch: globals, not lookups on the enum class (see schemas.interaction).
_PHONE, _EMAIL = IdentifierKind.phone, IdentifierKind.email


@dataclass(frozen=True)
class Policy:
    auto_merge_kinds: frozenset[IdentifierKind] = DEFAULT_AUTO_MERGE_KINDS
    blocked_local_parts: frozenset[str] = frozenset(DEFAULT_BLOCKED_LOCAL_PARTS)
    blocked_phone_prefixes: tuple[str, ...] = ("+000",)
    #: ``kind:value`` keys that never identify a customer (our own numbers and addresses).
    blocked_keys: frozenset[str] = frozenset()
    #: ``kind:value`` keys marked shared by configuration.
    shared_keys: frozenset[str] = frozenset()
    max_contacts_per_identifier: int = 5
    #: Regions tried for the "written without country code in another region" phone pitfall.
    review_regions: tuple[str, ...] = field(default=("PT", "ES", "BR", "GB", "US", "FR", "DE"))
    #: Region for numbers written without country code in free text (email signatures).
    default_region: str = "PT"

    def blocked(self, identifier: Identifier) -> bool:
        if identifier.key in self.blocked_keys:
            return True
        kind = identifier.kind
        if kind is _PHONE:
            return identifier.value.startswith(self.blocked_phone_prefixes)
        if kind is _EMAIL:
            local = identifier.value.partition("@")[0]
            if is_local_email(identifier.value):  # every machine has its own root@localhost: it proves nobody
                return True
            return local in self.blocked_local_parts or local.split("+", 1)[0] in self.blocked_local_parts
        return False

    def may_merge(self, identifier: Identifier, shared: set[str] | frozenset[str]) -> bool:
        """May this (unblocked) identifier merge two contacts? ``shared``: keys the database marks shared."""
        return (
            identifier.kind in self.auto_merge_kinds
            and identifier.key not in self.shared_keys
            and identifier.key not in shared
        )

    def usable(self, identifiers: Iterable[Identifier]) -> list[Identifier]:
        """The identifiers that may identify a customer, first spelling of each kept."""
        seen: dict[str, Identifier] = {}
        for identifier in identifiers:
            if not self.blocked(identifier):
                seen.setdefault(identifier.key, identifier)
        return list(seen.values())
