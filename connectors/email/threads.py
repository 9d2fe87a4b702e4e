"""Threading: which conversation a message belongs to, by ordered rules, each recorded by name.

Rules, first match wins (the name goes to ``metadata["thread_rule"]``):

1. the message was placed before (a resync, the same message in another folder): the same
   thread and rule again, so re-reads are deterministic.
2. ``header_chain`` - a Message-ID in References / In-Reply-To is known: its thread. Every
   referenced id is remembered too, so a parent that arrives *after* its reply finds the
   thread the reply opened (out-of-order delivery still gives one thread).
3. ``split`` - as 2, but the subject changed *and* the customer participants differ: a new
   thread (replies to a newsletter are separate conversations, not one giant thread).
4. ``outlook_thread_index`` - Outlook's ``Thread-Index`` names the conversation (its first 22
   bytes) even when In-Reply-To was rewritten.
5. ``header_root`` - references none of which is known yet: the thread of the oldest one.
6. ``subject_participants`` - no references at all (a client that drops them), but a reply
   subject ("Re:", "RES:", "AW:" ...) and overlapping customer participants within 90 days.
7. ``new`` - a conversation of its own.

A thread key is the interaction id of the thread's root message, so it is stable on any machine.

Reused Message-IDs: broken mailers, web forms and mail merges send *different* messages under one
Message-ID, and anyone who learns a Message-ID could otherwise suppress the message that really
carries it. So each placed message also leaves its :attr:`MessageFacts.fingerprint` (a hash of
From, the To/Cc addresses and Date: what every copy of one message shares, in every folder and
every mailbox). A message whose Message-ID is indexed with *another* fingerprint is a different
message: it is placed, and identified, under its own key ``<Message-ID>#<fingerprint>`` (so
rule 1 does not hand it the other message's thread, and its own copies find it again), and
:attr:`Placement.key` says so. An indexed entry without a fingerprint (placed before fingerprints
were kept) counts as the same message and stays without a fingerprint (stamped with the next message's, it
would split its own later copies off): ids of stored mail never change, and a Message-ID reused before the
upgrade collapses as it did then.
References naming a reused Message-ID still lead to the thread of the first message that carried it.

The memory lives behind the :class:`ThreadIndex` protocol (PostgreSQL in production,
``sinks/thread_index.py``; :class:`InMemoryThreadIndex` for tests).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from schemas.ids import interaction_id_for

_REPLY_PREFIX = re.compile(r"^\s*((re|res|aw|sv|fw|fwd|enc|tr|rv)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
SUBJECT_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class ThreadEntry:
    """What the index remembers of one Message-ID (a placeholder when only referenced so far)."""

    message_id: str
    thread_key: str
    rule: str
    subject_key: str | None = None
    participants: tuple[str, ...] = ()
    conversation: str | None = None
    occurred_at: datetime | None = None
    fingerprint: str | None = None


class ThreadIndex(Protocol):
    async def find(self, message_ids: list[str]) -> list[ThreadEntry]:
        """The entries among these ids (placeholders included), in no particular order."""

    async def find_conversation(self, conversation: str) -> ThreadEntry | None:
        """The latest message of an Outlook conversation."""

    async def find_subject(self, subject_key: str, since: datetime) -> list[ThreadEntry]:
        """Messages with this subject key since a moment, newest first."""

    async def remember(self, entries: list[ThreadEntry]) -> None:
        """Store full entries (overwriting placeholders) and placeholders (never overwriting)."""


@dataclass(frozen=True)
class Placement:
    thread_key: str
    rule: str
    #: The identity the message was placed under when its Message-ID belongs to another message.
    key: str | None = None


def thread_key_for(message_id: str) -> str:
    return str(interaction_id_for("email", "", message_id))


def subject_key(subject: str | None) -> str | None:
    """The subject without reply/forward prefixes, case and spacing; None when empty."""
    if not subject:
        return None
    key = _SPACES.sub(" ", _REPLY_PREFIX.sub("", subject)).strip().casefold()
    return key or None


def is_reply_subject(subject: str | None) -> bool:
    return bool(subject and _REPLY_PREFIX.match(subject))


def outlook_conversation(thread_index: str | None) -> str | None:
    """The conversation id inside an Outlook ``Thread-Index`` (bytes 6..22 of its base64 value)."""
    if not thread_index:
        return None
    try:
        data = base64.b64decode(thread_index.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    return data[6:22].hex() if len(data) >= 22 else None


@dataclass(frozen=True)
class MessageFacts:
    """What threading needs of a message (the normalizer builds it from the parsed email)."""

    message_id: str
    references: list[str]  # References then In-Reply-To, oldest first
    subject: str | None
    participants: tuple[str, ...]  # customer addresses, sorted
    thread_index: str | None
    occurred_at: datetime
    #: What every copy of this message shares (see the module docstring); None: never a reuse.
    fingerprint: str | None = None


class Threader:
    """Applies the rules against an index and remembers each placement.

    A batch costs one index read for every id it names and one write; only the rarer
    Thread-Index and subject lookups query the index per message.
    """

    def __init__(self, index: ThreadIndex) -> None:
        self.index = index

    async def place(self, facts: MessageFacts) -> Placement:
        (placement,) = await self.place_many([facts])
        return placement

    async def place_many(self, batch: list[MessageFacts]) -> list[Placement]:
        """Place messages in order; later ones see the earlier ones (a reply chain inside one batch)."""
        ids = list(dict.fromkeys(i for f in batch for i in (f.message_id, *_reuse_key(f), *f.references)))
        view = _BatchView(self.index, {e.message_id: e for e in await self.index.find(ids)} if ids else {})
        placements = []
        for facts in batch:
            key = await self._key(facts, view)
            placement = await self._decide(replace(facts, message_id=key) if key else facts, view)
            if key is not None:
                placement = replace(placement, key=key)
            entries = [
                ThreadEntry(
                    key or facts.message_id,
                    placement.thread_key,
                    placement.rule,
                    subject_key(facts.subject),
                    facts.participants,
                    outlook_conversation(facts.thread_index),
                    facts.occurred_at,
                    facts.fingerprint,
                )
            ]
            # Placeholders: a referenced parent that arrives later joins this thread (rule 2 from its side).
            entries += [ThreadEntry(ref, placement.thread_key, "placeholder") for ref in facts.references]
            await view.remember(entries)
            placements.append(placement)
        if view.pending:
            await self.index.remember(view.pending)
        return placements

    @staticmethod
    async def _key(facts: MessageFacts, view: _BatchView) -> str | None:
        """``<Message-ID>#<fingerprint>`` when the Message-ID is indexed for a different message, else None."""
        if facts.fingerprint is None:
            return None
        found = await view.find([facts.message_id])
        other = found[0] if found else None
        if other is None or other.rule == "placeholder" or other.fingerprint in (None, facts.fingerprint):
            return None
        return _reuse_key(facts)[0]

    async def _decide(self, facts: MessageFacts, view: _BatchView) -> Placement:
        found = {e.message_id: e for e in await view.find([facts.message_id, *facts.references])}
        own = found.get(facts.message_id)
        if own is not None and own.rule != "placeholder":
            return Placement(own.thread_key, own.rule)
        parent = next((found[r] for r in reversed(facts.references) if r in found), None)
        if parent is None and own is not None:
            return Placement(own.thread_key, "header_chain")  # a reply arrived first and named us
        if parent is not None:
            if self._diverges(parent, facts):
                return Placement(thread_key_for(facts.message_id), "split")
            return Placement(parent.thread_key, "header_chain")
        conversation = outlook_conversation(facts.thread_index)
        if conversation is not None:
            entry = await view.find_conversation(conversation)
            if entry is not None:
                return Placement(entry.thread_key, "outlook_thread_index")
        if facts.references:
            return Placement(thread_key_for(facts.references[0]), "header_root")
        key = subject_key(facts.subject)
        if key is not None and is_reply_subject(facts.subject) and facts.participants:
            for entry in await view.find_subject(key, facts.occurred_at - SUBJECT_WINDOW):
                if set(entry.participants) & set(facts.participants):
                    return Placement(entry.thread_key, "subject_participants")
        return Placement(thread_key_for(facts.message_id), "new")

    @staticmethod
    def _diverges(parent: ThreadEntry, facts: MessageFacts) -> bool:
        """Subject changed and no customer in common: a new conversation that happens to reference an old one."""
        if parent.rule == "placeholder" or parent.subject_key is None:
            return False
        changed = subject_key(facts.subject) != parent.subject_key
        return changed and not set(parent.participants) & set(facts.participants)


def _reuse_key(facts: MessageFacts) -> list[str]:
    """The key the message is placed under if its Message-ID turns out to be another message's."""
    return [f"{facts.message_id}#{facts.fingerprint}"] if facts.fingerprint else []


class InMemoryThreadIndex:
    """A thread index in a dict, for tests and for a connector run without a database."""

    def __init__(self) -> None:
        self.entries: dict[str, ThreadEntry] = {}

    async def find(self, message_ids: list[str]) -> list[ThreadEntry]:
        return [self.entries[m] for m in message_ids if m in self.entries]

    async def find_conversation(self, conversation: str) -> ThreadEntry | None:
        matches = [e for e in self.entries.values() if e.conversation == conversation and e.occurred_at]
        return max(matches, key=lambda e: e.occurred_at or datetime.min, default=None)

    async def find_subject(self, subject_key: str, since: datetime) -> list[ThreadEntry]:
        matches = [
            e
            for e in self.entries.values()
            if e.subject_key == subject_key and e.occurred_at and e.occurred_at >= since
        ]
        return sorted(matches, key=lambda e: e.occurred_at or since, reverse=True)

    async def remember(self, entries: list[ThreadEntry]) -> None:
        for entry in entries:
            current = self.entries.get(entry.message_id)
            if current is not None and current.rule != "placeholder" and current.fingerprint is None:
                entry = replace(entry, fingerprint=None)  # placed before fingerprints: stays without
            if entry.rule != "placeholder" or current is None:
                self.entries[entry.message_id] = entry


class _BatchView:
    """The index as one batch sees it: what was read up front, overlaid with the batch's own placements."""

    def __init__(self, base: ThreadIndex, prefetched: dict[str, ThreadEntry]) -> None:
        self.base = base
        self.prefetched = prefetched
        self.overlay = InMemoryThreadIndex()
        self.pending: list[ThreadEntry] = []

    async def find(self, message_ids: list[str]) -> list[ThreadEntry]:
        found = (self.overlay.entries.get(m) or self.prefetched.get(m) for m in message_ids)
        return [e for e in found if e is not None]

    async def find_conversation(self, conversation: str) -> ThreadEntry | None:
        return await self.overlay.find_conversation(conversation) or await self.base.find_conversation(conversation)

    async def find_subject(self, subject_key: str, since: datetime) -> list[ThreadEntry]:
        mine = await self.overlay.find_subject(subject_key, since)
        return mine + await self.base.find_subject(subject_key, since)

    async def remember(self, entries: list[ThreadEntry]) -> None:
        await self.overlay.remember(entries)
        self.pending += entries
