"""The GDPR export with the person's files: a zip of ``export.json`` and each kept file her interactions reference.

``export.json`` is the export document (:mod:`sinks.contact_export`) as ``omnitrail gdpr export``
prints it. Each attachment the media stage kept (``media.state == "stored"``) on an interaction of
hers is one entry, ``files/<sha256>.<ext>`` (the extension from the type sniffed from the bytes),
streamed from the object store chunk by chunk: a large file is never held whole in memory. A file
another customer's interaction also references is hers too (the interaction is in her export); a
file that is not on one of her interactions is never read.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import zipfile
from dataclasses import dataclass
from typing import IO, Any

import structlog

from sinks.media.store import MediaStore

log = structlog.get_logger(__name__)

DOCUMENT = "export.json"
#: Entries larger than this need ZIP64 (written as such when the size is unknown or larger).
_ZIP32_MAX = 0x7FFFFFFF


def text(document: dict[str, Any]) -> str:
    """The export document as the command prints it."""
    return json.dumps(document, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class KeptFile:
    sha256: str
    content_type: str | None
    size: int | None

    @property
    def entry(self) -> str:
        extension = mimetypes.guess_extension(self.content_type or "") or ".bin"
        return f"files/{self.sha256}{extension}"


def kept_files(document: dict[str, Any]) -> list[KeptFile]:
    """Each file kept for an attachment of the document's interactions, once (content-addressed)."""
    files: dict[str, KeptFile] = {}
    for row in document["interactions"]:
        for attachment in row["document"].get("attachments") or []:
            media = attachment.get("media") or {}
            sha256 = media.get("sha256")
            if media.get("state") == "stored" and sha256 and sha256 not in files:
                files[sha256] = KeptFile(sha256, media.get("content_type"), media.get("size"))
    return list(files.values())


async def write(document: dict[str, Any], store: MediaStore, target: IO[bytes]) -> int:
    """Write the zip to ``target`` (a file open for binary writing); returns how many files it holds.

    A file the store no longer has (deleted by a purge after the document was read) is left out."""
    written = 0
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(DOCUMENT, text(document) + "\n", compress_type=zipfile.ZIP_DEFLATED)
        for kept in kept_files(document):
            if not await store.has(kept.sha256):
                log.warning("gdpr.export_file_missing", sha256=kept.sha256)
                continue
            info = zipfile.ZipInfo(kept.entry)
            info.compress_type = zipfile.ZIP_STORED  # photos, audio, video: compressed already
            large = kept.size is None or kept.size > _ZIP32_MAX
            with archive.open(info, "w", force_zip64=large) as entry:
                async for chunk in store.read(kept.sha256):
                    await asyncio.to_thread(entry.write, chunk)
            written += 1
    return written
