"""Dead letters too large for the broker: their raw bytes kept in a local file, the dead letter pointing at it.

A dead letter carries the raw bytes base64-encoded (x1.33), so a signed body of ~750 kB that cannot be
normalized makes a record over the broker's size limit (``sinks.kafka.clients.MAX_RECORD_BYTES``). No retry
can produce it, and dropping it would lose the customer's payload. So the bytes are written to
``<OMNITRAIL_DATA_DIR>/deadletter-bodies/<sha256>`` (fsync'd, named by their hash: writing the same body
twice is harmless) and the dead letter that goes to the topic holds the file's name, the SHA-256 and the
size instead (``raw_base64`` empty), with the same source and reason.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import structlog

from schemas.deadletter import DeadLetter

log = structlog.get_logger(__name__)
DIRECTORY = "deadletter-bodies"


class DeadLetterBodies:
    """The directory of set-aside raw bytes (blocking file I/O: a few per oversized dead letter, rare)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def set_aside(self, letter: DeadLetter) -> DeadLetter:
        """``letter`` with its raw bytes moved to a file: durable on disk when this returns."""
        raw = letter.raw
        digest = hashlib.sha256(raw).hexdigest()
        path = self.directory / digest
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{digest}.{os.getpid()}.partial")
            with partial.open("wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a power cut
            finally:
                os.close(directory)
        log.warning("deadletter.body_set_aside", source=letter.source, size=len(raw), file=path.name)
        return letter.model_copy(
            update={"raw_base64": "", "raw_file": f"{DIRECTORY}/{digest}", "raw_sha256": digest, "raw_size": len(raw)}
        )
