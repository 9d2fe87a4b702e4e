"""The address each mailbox of an address header names: the angle-addr, or none when it could be two.

The standard library reads a well-formed header right: a quoted or encoded display name, a comment,
a group. On a malformed mailbox it takes the first address-looking text instead, so
``ceo@victim.example <x@attacker.example>`` reads as ``ceo@victim.example`` though the address is
the one in angle brackets, the one DMARC checks: mail from attacker.example (which passes its own
DMARC) would land on the victim's contact. A malformed mailbox is read here with one explicit rule,
on the standard library's own tokens (a quoted string, a comment or an encoded word is display text,
never structure, whatever it spells):

* one angle-addr with nothing after it: the address is the angle-addr, the text before it display text;
* no angle-addr and at most one address-looking word: the standard library's reading stands
  (``Test test@example.com`` is test@example.com, ``"x"@example.com>`` x@example.com);
* anything else (two angle-addrs, nested brackets, text after the angle-addr, two addresses
  without an angle-addr): the mailbox names no address anyone can trust, and it is ``None``.

A well-formed mailbox with an obsolete source route (``<@attacker.example:ceo@victim.example>``)
is ``None`` too: nobody writes one since the 1990s, and checkers disagree on which domain it names.
"""

from __future__ import annotations

import re
from email import _header_value_parser as parser
from email.errors import HeaderParseError
from email.headerregistry import Address

_ANGLE = re.compile(r"<([^<>]*)>")
#: An address-looking word: what a reader, or a DMARC checker, could take for the address.
_WORD = re.compile(r"[^\s<>()@,;:\"\[\]]+@[^\s<>()@,;:\"]+")
#: The token type of a mailbox the standard library could read (a malformed one is ``invalid-mailbox``).
_WELL_FORMED = "mailbox"
#: Tokens that are display text whatever they spell.
_TEXT = frozenset({"bare-quoted-string", "comment", "encoded-word"})
#: A mailbox that names no address (``<>``): not ambiguous, just nobody.
NOTHING = Address()


def mailboxes(value: str) -> list[Address | None]:
    """Every mailbox of an address header's (unfolded) value, groups' members included, in order.

    An :class:`Address` where the mailbox names one address (read as the module says), or
    :data:`NOTHING` where it names none (``<>``); ``None`` where it could name two, so that none
    can be trusted. Raises where the standard library gives up (the caller's lenient reading then).
    """
    tree, _ = parser.get_address_list(value)
    found: list[Address | None] = []
    for address in tree.addresses:
        for box in address.all_mailboxes:
            if box.token_type == _WELL_FORMED:
                found.append(None if box.route else _address(box.display_name, box.local_part, box.domain))
            else:
                found.append(_malformed(box))
    return found


def _malformed(box: parser.Mailbox) -> Address | None:
    text = str(box)
    bare = _bare(box)
    angles = list(_ANGLE.finditer(bare))
    if not angles:  # a stray bracket alone ('"x"@example.com>') is damage, not a second address
        words = {w.lower() for w in _WORD.findall(bare)}
        return _address(box.display_name, box.local_part, box.domain) if len(words) <= 1 else None
    if len(angles) != 1:
        return None
    angle = angles[0]
    before, after = bare[: angle.start()], bare[angle.end() :]
    if "<" in before or ">" in before or after.strip():
        return None
    inner = angle.group(1).strip()
    if inner != text[angle.start() + 1 : angle.end() - 1].strip():  # an encoded word or a comment in the angle-addr
        return NOTHING  # no address as the parser reads it: the connector's literal reading decides
    local, at, domain = inner.rpartition("@")
    if not at:  # '<>': nobody, unless the name holds the address-looking text
        return None if _WORD.search(before) else NOTHING
    return _address(_unquoted(text[: angle.start()].strip()), _unquoted(local), domain)


def _address(name: str | None, local: str | None, domain: str | None) -> Address | None:
    try:
        return Address(name or "", local or "", domain or "")
    except (HeaderParseError, ValueError):
        return None


def _bare(token: parser.TokenList | parser.Terminal) -> str:
    """A token's text with its display-only parts (quoted strings, comments, encoded words) blanked, same length."""
    if token.token_type in _TEXT:
        return " " * len(str(token))
    if isinstance(token, parser.TokenList):
        return "".join(_bare(t) for t in token)
    return str(token)


def _unquoted(name: str) -> str:
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name
