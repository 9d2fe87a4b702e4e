"""Settings of the webhook spool (``OMNITRAIL_SPOOL_*``): where it lives and when it takes over."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings

SPOOL_FILE = "spool.sqlite3"


class SpoolSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_SPOOL_", extra="forbid")
    toml_section: ClassVar[str | None] = "spool"

    enabled: bool = Field(default=True, description="Spool webhooks to a local file while the broker is down")
    path: Path | None = Field(default=None, description="SQLite spool file; unset: <OMNITRAIL_DATA_DIR>/spool.sqlite3")
    ack_timeout_s: float = Field(
        default=3.0, gt=0, description="How long a webhook waits for the broker before its event is spooled"
    )
    drain_batch: int = Field(default=500, ge=1, description="Spooled events sent per broker round trip on recovery")

    def file(self, data_dir: Path) -> Path:
        return self.path if self.path is not None else data_dir / SPOOL_FILE
