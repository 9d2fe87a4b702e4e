"""Real-world mail: per-field pass rates against another parser's expected results.

Usage: python benchmarks/mail_corpus.py FOLDER [--show-failures]

FOLDER holds pairs ``NAME.box`` (a raw mail, mbox: a ``From `` line first) and ``NAME.yml`` (what
the Zammad helpdesk's email parser makes of it: ``from_email``, ``subject``, ``body`` as text or
HTML with ``content_type``, ``attachments``), as in Zammad's ``test/data/mail/``. Each mail goes
through ``omnitrail email inspect``'s path, which is the IMAP connector's own (CRLF line ends as
IMAP delivers them), and is compared field by field:

interaction  every mail whose expected sender has an address became an interaction
sender       the sender's address (case-insensitive; a trailing dot or quotes around the expectation ignored)
subject      equal after collapsing whitespace
body         at least 90 % of the expected body's words (CJK: characters) are in ours, and no U+FFFD
             where the expectation has none; ours is the HTML where both have one (alternatives can
             differ in content), else text + quoted text
attachments  the same number of attachments

Zammad's own choices are excluded, not counted: its ``message.html`` copy of an HTML body in the
attachments (left out of the expected count), the ``<title>`` text it puts before an HTML body
(removed), Reply-To used as sender when From has no address (sender not counted), placeholder
bodies "no visible content" (body not counted), and two decoding mistakes of its own (UTF-7 left
undecoded in mail018's subject and body, windows-1258 read as windows-1250 in mail072's body; mail060's
expected body is itself mojibake: UTF-8 read as Windows-1250).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.email.inspect import Inspector, messages  # after the path fix above
from connectors.email.text import html_to_text

FIELDS = ("interaction", "sender", "subject", "body", "attachments")
#: (mail, field): the other parser decodes these wrongly; its expectation is no yardstick.
PEER_MISTAKES = {("mail018", "subject"), ("mail018", "body"), ("mail060", "body"), ("mail072", "body")}
PLACEHOLDER = "no visible content"
_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
#: Zammad's own prefix on an HTML body: the <title> as a line of text before the first tag.
_TITLE_PREFIX = re.compile(r"\A[^<\n]+\n\n(?=<)")
_SPACE = re.compile(r"\s+")
#: An address in an expectation: a quoted local part is the address's own ('"ana smith"@example.com').
_ADDRESS = re.compile(r"\"[^\"]*\"@[^\s<>\"']+|[^\s<>\"']+@[^\s<>\"']+")


class _RubyTolerantLoader(yaml.SafeLoader):
    """Reads Ruby-tagged YAML (``!ruby/hash:...``) as plain mappings, lists and strings."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)  # YAML has no fourth kind of node
    return loader.construct_scalar(node)


_RubyTolerantLoader.add_multi_constructor("!", _untagged)


@dataclass
class Tally:
    passed: Counter[str] = field(default_factory=Counter)
    counted: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def check(self, mail: str, name: str, ok: bool, detail: str = "") -> None:
        self.counted[name] += 1
        self.passed[name] += ok
        if not ok:
            self.failures.append(f"{mail} {name}: {detail}")


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


def covered(expected: str, got: str) -> float:
    want = tokens(expected)
    if not want:
        return 1.0
    have = tokens(got)
    return sum(min(n, have[t]) for t, n in want.items()) / sum(want.values())


def expected_address(expected: dict[str, Any]) -> str | None:
    found = _ADDRESS.findall(str(expected.get("from_email") or ""))
    return found[-1].strip(".").casefold() if found else None


def header_lines(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return " ".join(line for line in head.split("\r\n") if line.lower().startswith(name.lower() + ":"))


def compare(mail: str, raw: bytes, expected: dict[str, Any], result: dict[str, Any], tally: Tally) -> None:
    address = expected_address(expected)
    interaction = result.get("interaction")
    if address is None:
        return  # nothing to become an interaction with, nothing to compare
    tally.check(mail, "interaction", interaction is not None, str(result.get("dead_letter")))
    if interaction is None:
        return
    sender = next((i["value"] for i in interaction["sender"]["identifiers"] if i["kind"] == "email"), None)
    from_header = header_lines(raw, "From").casefold()
    reply_to_quirk = address not in from_header and address in header_lines(raw, "Reply-To").casefold()
    if not reply_to_quirk:
        tally.check(mail, "sender", sender == address, f"{sender!r} != {address!r}")
    if (mail, "subject") not in PEER_MISTAKES:
        want, got = (_SPACE.sub(" ", s or "").strip() for s in (expected.get("subject"), interaction["subject"]))
        tally.check(mail, "subject", want == got, f"{got!r} != {want!r}")
    body = str(expected.get("body") or "")
    if body.strip() != PLACEHOLDER and (mail, "body") not in PEER_MISTAKES:
        got = "\n".join(filter(None, (interaction.get("text"), interaction.get("quoted_text"))))
        if expected.get("content_type") == "text/html":
            body = html_to_text(_TITLE_PREFIX.sub("", body))
            if interaction.get("html"):  # what each shows: the HTML (alternatives can differ in content)
                got = html_to_text(interaction["html"])
        share = covered(body, got)
        mojibake = "\ufffd" in got and "\ufffd" not in body
        tally.check(mail, "body", share >= 0.9 and not mojibake, f"{share:.0%} of the words, U+FFFD: {mojibake}")
    want_files = [a.get("filename") for a in expected.get("attachments") or [] if a.get("filename") != "message.html"]
    got_files = [a.get("name") for a in interaction["attachments"]]
    tally.check(mail, "attachments", len(want_files) == len(got_files), f"{got_files} != {want_files}")


def load(folder: Path) -> list[tuple[str, list[bytes], dict[str, Any]]]:
    """Each mail's name (``mailNNN``), its messages as IMAP delivers them, and the expected parse."""
    pairs = []
    for box in sorted(folder.glob("*.box")):
        text = box.with_suffix(".yml").read_text(encoding="utf-8")
        expected = yaml.load(text, Loader=_RubyTolerantLoader)  # noqa: S506  # a SafeLoader: tags become plain data
        pairs.append((box.stem.split("-")[0], list(messages(box)), expected))
    return pairs


async def run(pairs: list[tuple[str, list[bytes], dict[str, Any]]]) -> Tally:
    inspector = Inspector()
    tally = Tally()
    for mail, raws, expected in pairs:
        for raw in raws:
            compare(mail, raw, expected, (await inspector.inspect(raw)).as_json(), tally)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--show-failures", action="store_true", help="one line per failed check")
    args = parser.parse_args()
    pairs = load(args.folder)
    if not pairs:
        sys.exit(f"no .box files in {args.folder}")
    tally = asyncio.run(run(pairs))
    print(f"{len(pairs)} mails in {args.folder}")
    for name in FIELDS:
        n, ok = tally.counted[name], tally.passed[name]
        print(f"{name:<12} {ok:>4} / {n:<4} {100 * ok / max(n, 1):6.1f} %")
    if args.show_failures:
        print("\n".join(tally.failures))


if __name__ == "__main__":
    main()
