"""A reply's new text apart from the history it quotes below ("Em ... escreveu:", "On ... wrote:", "De: ... Assunto:").

The timeline shows what the customer wrote now; the quoted thread is kept beside it and shown on
demand. Reply headers are found by ``mail-parser-reply`` (English, Spanish, German, French,
Italian ... headers of Gmail, Outlook and Apple Mail). It has no Portuguese, so Portuguese's are
added to its language table here. The text is cut at the first line of the first reply header, so
the new text keeps its layout exactly; a message that is all quote (a bare forward) is not cut.
"""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE

MAIL_LANGUAGES.setdefault(
    "pt",
    {
        # Gmail: "Em seg., 2 de mar. de 2026 às 09:14, João <joao@cliente.example> escreveu:"
        "wrote_header": r"^(?!Em[.\s]*Em\s(.+?\s?.+?)\sescreveu:)("
        + QUOTED_MATCH_INCLUDE
        + r"Em\s(?:.+?\s?.+?)\s?escreveu:)$",
        # Outlook: "De: ... Enviado: ... Para: ... Assunto: ..."
        "from_header": r"((?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + r")[* ]*(?:De|Enviado|Enviada|Para|Assunto|Data|Cc):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
        "signatures": ["Cumprimentos", "Atenciosamente", "Obrigad[oa],", "Com os melhores cumprimentos"],
        "sent_from": r"Enviado do meu.*",
    },
)
LANGUAGES = ["pt", "en", "es", "fr", "de"]
#: Longer texts are not split: the header patterns are costly on huge bodies, and such mail is rarely a reply.
MAX_CHARS = 200_000
_PARSER = EmailReplyParser(languages=LANGUAGES)
#: What every reply header has, cheap to look for: a line ending in a colon ("... wrote:"), a
#: separator line, or two lines starting "Word:" (From:/Sent:). Most mail has none: no full parse.
_ENDS_IN_COLON = re.compile(r":[ \t]*$|^-{5,}", re.MULTILINE)
_FIELD_LINE = re.compile(r"^[>* ]*[^\W\d_][^:\n]{0,30}:", re.MULTILINE)


def split(text: str) -> tuple[str, str | None]:
    """(new text, quoted history), or (text, None) when nothing is quoted."""
    if len(text) > MAX_CHARS or not _may_quote(text):
        return text, None
    replies = _PARSER.read(text).replies
    header = replies[1].headers.strip() if len(replies) > 1 else ""
    if not header:
        return text, None
    first = header.splitlines()[0].strip()
    offset = 0
    for line in text.split("\n"):
        if line.strip() == first:
            break
        offset += len(line) + 1
    else:
        return text, None
    new = text[:offset].rstrip()
    if not new:
        return text, None
    return new, text[offset:].strip("\n")


def _may_quote(text: str) -> bool:
    if _ENDS_IN_COLON.search(text):
        return True
    fields = _FIELD_LINE.finditer(text)
    return next(fields, None) is not None and next(fields, None) is not None
