"""Text decoding helpers for mail: HTML to text, legacy encoded words, line ends, stray bytes.

Small, pure functions the MIME parser (:mod:`connectors.email.mime`) falls back on when mail is
not what its headers claim.
"""

from __future__ import annotations

import html
import re
from email.header import decode_header, make_header

from bs4 import BeautifulSoup

_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (for messages that have no text part)."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    text = soup.get_text("\n")
    lines = [line.strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def decode_words(value: object) -> str:
    """Encoded words of a legacy (compat32) header value, decoded as far as they go."""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # unknown charset or broken encoded word: the raw text is still better than nothing
        return str(value).encode("ascii", "surrogateescape").decode("utf-8", "replace")


def unix_lines(text: str) -> str:
    """Unix line ends (mail arrives with CRLF), no trailing whitespace at the end."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def fix_surrogates(value: str) -> str:
    """Raw 8-bit bytes the parser smuggled in as surrogates: read them as UTF-8, else Windows-1252."""
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return value.encode("utf-8", "replace").decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def text_to_html(text: str) -> str:
    """Plain text as HTML that shows it as written (escaped, line breaks and spacing kept)."""
    return f'<div style="white-space:pre-wrap">{html.escape(text)}</div>'
