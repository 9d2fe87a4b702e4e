"""Bytes of mail text -> str, the way mail clients read them: never U+FFFD where a decoding exists.

Mail labels its charsets badly. Clients decode a label as its superset (GB2312 as GB18030,
ISO-8859-1 as Windows-1252, ISO-2022-JP as Microsoft's CP50220 with the NEC and IBM extensions,
Shift_JIS as CP932 ...), read undeclared or mislabelled 8-bit text as UTF-8 when it is, and guess
otherwise. :func:`decode` does the same, in this order: the label's superset, UTF-8, detection
(charset-normalizer), and last Latin-1, which decodes any byte. Each step after the label is
reported so the parse can record the repair.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable

import charset_normalizer

#: Labels decoded as the superset mail clients use for them.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "cp936": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso-2022-jp",
    "unicode-1-1-utf-7": "utf-7",
}
#: A message in one of these is likely to carry raw 8-bit text in the related codecs too.
FAMILIES = {"iso-2022-jp": ("cp932", "euc_jp"), "euc_jp": ("cp932",), "cp932": ("euc_jp",)}
_JIS = "iso-2022-jp"
#: Codecs that decode any byte sequence: a mislabelled UTF-8 text would turn into mojibake without an error.
_STRAY = re.compile("[\udc80-\udcff]")
_VALID_MULTIBYTE = re.compile("[^\x00-\x7f\udc80-\udcff]")
_ASCII = bytes(range(0x80))
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: The five bytes Windows-1252 leaves undefined (read as their Latin-1 code points).
_CP1252_HOLES = frozenset((0x81, 0x8D, 0x8F, 0x90, 0x9D))
_SINGLE_BYTE = ("cp125", "iso8859", "latin", "cp874", "koi8")


@functools.lru_cache(maxsize=256)
def codec(label: str | None) -> str | None:
    """The Python codec to read a label with (its superset), or None for an unknown or missing label."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = SUPERSETS.get(name, name)
    if name == _JIS:
        return name
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(data: bytes, label: str | None, hints: Callable[[], tuple[str, ...]] = tuple) -> tuple[str, str | None]:
    """The text of ``data`` labelled ``label``, and what was repaired (None when the label was right).

    ``hints``: gives the codecs to try before detection (the other charsets of the same message: a raw 8-bit
    header is usually in the body's charset, and detection is weak on a few bytes).
    """
    name = codec(label)
    if name is None and data.isascii():
        return data.decode("ascii"), None
    if name is not None:
        if name.startswith(_SINGLE_BYTE) and not data.isascii() and _is_utf8(data):
            return data.decode("utf-8"), f"charset {label!r} wrong: read as utf-8"
        try:
            return _decode_as(data, name), None
        except UnicodeDecodeError:
            pass
    what = (
        f"charset {label!r} wrong"
        if name is not None
        else (f"unknown charset {label!r}" if label else "undeclared charset")
    )
    if _is_utf8(data):
        return data.decode("utf-8"), f"{what}: read as utf-8"
    mixed = _mostly_utf8(data)
    if mixed is not None:
        return mixed, f"{what}: read as utf-8 with windows-1252 bytes"
    for hint in hints():
        if hint != name:
            try:
                return _decode_as(data, hint), f"{what}: read as {hint}"
            except UnicodeDecodeError:
                pass
    if _western(data):
        return _cp1252(data), f"{what}: read as windows-1252"
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best), f"{what}: detected {best.encoding}"
    return data.decode("latin-1"), f"{what}: read as latin-1"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _western(data: bytes) -> bool:
    """A few 8-bit letters among many ASCII ones, or one or two alone: Western European text.

    Detection is blind on so few bytes; Windows-1252 is what most undeclared mail of this kind is in.

    Texts in scripts of their own (Chinese, Japanese, Cyrillic, Greek ...) are mostly 8-bit bytes.
    """
    high = len(data.translate(None, _ASCII))
    letters = len(data) - len(data.translate(None, _LETTERS))
    return high <= 2 or high * 3 <= letters


def _cp1252(data: bytes) -> str:
    """Windows-1252, its five undefined bytes read as Latin-1 (so any byte decodes)."""
    return (
        "".join(chr(b) if b in _CP1252_HOLES else bytes((b,)).decode("cp1252") for b in data)
        if any(b in _CP1252_HOLES for b in data)
        else data.decode("cp1252")
    )


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with stray single bytes (text pasted from a Windows-1252 source): each stray byte as Windows-1252.

    Only when the valid multi-byte sequences outnumber the stray bytes: in legacy 8-bit text valid
    UTF-8 sequences are rare accidents, so it is not taken for this.
    """
    text = data.decode("utf-8", "surrogateescape")
    stray = len(_STRAY.findall(text))
    valid = len(_VALID_MULTIBYTE.findall(text))
    if valid <= stray:
        return None
    return _STRAY.sub(lambda m: _cp1252(bytes((ord(m.group()) - 0xDC00,))), text)


def _decode_as(data: bytes, name: str) -> str:
    if name != _JIS:
        return data.decode(name)
    if not data.isascii():  # ISO-2022-JP is 7-bit: 8-bit bytes are some other charset
        raise UnicodeDecodeError(_JIS, data, 0, len(data), "8-bit bytes in a 7-bit charset")
    try:
        return data.decode("iso2022_jp_ext")
    except UnicodeDecodeError:
        return jis_as_cp932(data).decode("cp932")


def jis_as_cp932(data: bytes) -> bytes:
    """ISO-2022-JP as Microsoft writes it (CP50220: NEC/IBM extensions, half-width kana) as CP932 bytes.

    Python's ISO-2022-JP codecs refuse the extension rows (circled numbers, Roman numerals ...)
    that Outlook and Japanese webmail send; CP932 has them at the same JIS positions.
    """
    out = bytearray()
    mode = "ascii"
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B and i + 2 < n:
            seq = data[i + 1 : i + 3]
            if seq in (b"$B", b"$@"):
                mode = "jis"
            elif seq == b"(I":
                mode = "kana"
            elif seq in (b"(B", b"(J"):
                mode = "ascii"
            else:
                raise UnicodeDecodeError(_JIS, data, i, i + 3, "unknown escape sequence")
            i += 3
            continue
        if byte == 0x0E:  # SO / SI: half-width katakana shifts
            mode, i = "kana", i + 1
            continue
        if byte == 0x0F:
            mode, i = "ascii", i + 1
            continue
        if mode == "jis" and 0x21 <= byte <= 0x7E and i + 1 < n:
            j1, j2 = byte, data[i + 1]
            s1 = ((j1 - 0x21) >> 1) + 0x81
            s1 += 0x40 if s1 > 0x9F else 0
            s2 = j2 + (0x1F + (j2 >= 0x60) if j1 & 1 else 0x7E)
            out += bytes((s1, s2))
            i += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return bytes(out)
