"""The address each mailbox of an address header names: the angle-addr, or none when it could be two.

The standard library reads a well-formed header right: a quoted or encoded display name, a comment,
a group. On a malformed mailbox it takes the first address-looking text instead, so
``ceo@victim.example <x@attacker.example>`` reads as ``ceo@victim.example`` though the address is
the one in angle brackets, the one DMARC checks: mail from attacker.example (which passes its own
DMARC) would land on the victim's contact. A malformed mailbox is read here with one explicit rule,
on the standard library's own tokens (a quoted string, a comment or an encoded word is display text,
never structure, whatever it spells):

* one angle-addr with nothing after it (a stray ``;`` aside): the address is the angle-addr as
  written, a quoted local part included (``<"x"@attacker.example>``), the text before it display text;
  an angle-addr holding an encoded word or a comment is no address anyone can read the same way: ``None``;
* no angle-addr, at most one address-looking word and one ``@`` outside display text: the standard
  library's reading stands (``Test test@example.com`` is test@example.com, ``"x"@example.com>``
  x@example.com), while ``ceo@victim.example@attacker.example`` or ``"ceo"@victim.example x@attacker.example``
  are two readings: ``None``;
* anything else (two angle-addrs, nested brackets, text after the angle-addr): the mailbox names no
  address anyone can trust, and it is ``None``.

A mailbox whose domain holds an encoded word (``ceo@=?utf-8?q?victim.example?=``) is ``None``, well-formed
or not: what it decodes to is no domain a DMARC checker read. A well-formed mailbox with an obsolete
source route (``<@attacker.example:ceo@victim.example>``) is ``None`` too: nobody writes one since the
1990s, and checkers disagree on which domain it names.
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
_ENCODED, _DOMAIN = "encoded-word", "domain"
#: Tokens that are display text whatever they spell.
_TEXT = frozenset({"bare-quoted-string", "comment", _ENCODED})
#: Tokens that make an angle-addr name another address than it spells (a quoted local part does not).
_NOT_ADDRESS = frozenset({"comment", _ENCODED})
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
            if _encoded_domain(box):
                found.append(None)
            elif box.token_type == _WELL_FORMED:
                found.append(None if box.route else _address(box.display_name, box.local_part, box.domain))
            else:
                found.append(_malformed(box))
    return found


def _encoded_domain(token: parser.TokenList | parser.Terminal, *, inside: bool = False) -> bool:
    """Whether an encoded word stands in a domain: what it decodes to is no domain a DMARC checker read."""
    if token.token_type == _ENCODED:
        return inside
    inside = inside or token.token_type == _DOMAIN
    return isinstance(token, parser.TokenList) and any(_encoded_domain(t, inside=inside) for t in token)


def _malformed(box: parser.Mailbox) -> Address | None:
    text = str(box)
    bare = _bare(box, _TEXT)
    angles = list(_ANGLE.finditer(bare))
    if not angles:  # a stray bracket alone ('"x"@example.com>') is damage, not a second address
        words = {w.lower() for w in _WORD.findall(bare)}
        # Each '@' outside display text starts an address ('"ceo"@victim.example x@attacker.example',
        # 'ceo@victim.example@attacker.example'): two of them are two readings.
        one = len(words) <= 1 and bare.count("@") <= 1
        return _address(box.display_name, box.local_part, box.domain) if one else None
    if len(angles) != 1:
        return None
    angle = angles[0]
    before, after = bare[: angle.start()], bare[angle.end() :]
    if "<" in before or ">" in before or after.replace(";", "").strip():  # a stray ';' ends a list, names nobody
        return None
    inner = text[angle.start() + 1 : angle.end() - 1].strip()
    if _bare(box, _NOT_ADDRESS)[angle.start() + 1 : angle.end() - 1].strip() != inner:
        return None  # an encoded word or a comment in the angle-addr: its address is not the one it spells
    local, at, domain = inner.rpartition("@")  # a quoted local part is the address's own: '<"x"@attacker.example>'
    if not at:  # '<>': nobody, unless the name, quoted or not, holds address-looking text (a reader's guess)
        return None if _WORD.search(text[: angle.start()]) else NOTHING
    return _address(_unquoted(text[: angle.start()].strip()), _unquoted(local), domain)


def _address(name: str | None, local: str | None, domain: str | None) -> Address | None:
    try:
        return Address(name or "", local or "", domain or "")
    except (HeaderParseError, ValueError):
        return None


def _bare(token: parser.TokenList | parser.Terminal, blanked: frozenset[str]) -> str:
    """A token's text with the tokens of the ``blanked`` types blanked, same length."""
    if token.token_type in blanked:
        return " " * len(str(token))
    if isinstance(token, parser.TokenList) and token.token_type not in _TEXT:  # those add their own quotes
        return "".join(_bare(t, blanked) for t in token)
    return str(token)


def _unquoted(name: str) -> str:
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name
