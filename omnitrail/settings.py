"""Process-wide settings: PostgreSQL, HTTP, API tokens, worker tuning (``OMNITRAIL_*``); Kafka's are in sinks.kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from schemas.config import OmnitrailSettings
from schemas.errors import FatalError

Role = Literal["agent", "admin"]


class AppSettings(OmnitrailSettings):
    """Process-wide settings (``OMNITRAIL_*``)."""

    database_url: SecretStr | None = Field(default=None, description="unset: embedded PostgreSQL")
    data_dir: Path = Path(".omnitrail")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's line and headers must arrive whole within this (else 408)"
    )
    http_max_header_bytes: int = Field(
        default=65_536, ge=4096, description="Most bytes of request line and headers per request (else 431)"
    )
    trusted_proxies: str = Field(
        default="", description="Addresses/networks of reverse proxies whose X-Forwarded-For is believed; none if empty"
    )
    public_url: str = Field(
        default="http://localhost:8080",
        description="What providers call; signs webhooks. Unset: http://localhost:<OMNITRAIL_HTTP_PORT>",
    )
    default_region: str = Field(default="PT", min_length=2, max_length=2)
    api_tokens: SecretStr = Field(default=SecretStr(""), description="token:role,token:role")
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, /metrics needs `Authorization: Bearer <this>` (Prometheus bearer auth)"
    )
    api_docs: bool = Field(
        default=False, description="Serve /docs and /redoc (their pages load scripts from cdn.jsdelivr.net)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: human-readable on a terminal, JSON lines otherwise"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_timeout_s: float = Field(default=10.0, gt=0, description="A webhook body must arrive whole within this")
    worker_batch_size: int = Field(default=2000, ge=1)
    worker_batch_window_ms: int = Field(default=10, ge=1)
    worker_lanes: int = Field(
        default=4, ge=1, description="Batches in flight at once per worker, each over its own partitions"
    )
    worker_id: str | None = None
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Prometheus port of `omnitrail worker` on OMNITRAIL_HTTP_HOST; 0: off"
    )

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _public_url_follows_port(self) -> AppSettings:
        # Only the port set (a second stack, a busy 8080): signatures are checked against the URL it serves.
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://localhost:{self.http_port}"
        return self

    @field_validator("default_region")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def tokens(self) -> dict[str, Role]:
        """Parse ``OMNITRAIL_API_TOKENS``; raise FatalError naming the variable on a bad entry."""
        result: dict[str, Role] = {}
        for entry in filter(None, (e.strip() for e in self.api_tokens.get_secret_value().split(","))):
            token, sep, role = entry.rpartition(":")
            if not sep or not token or role not in ("agent", "admin"):
                raise FatalError("OMNITRAIL_API_TOKENS: each entry must be token:agent or token:admin")
            result[token] = role  # type: ignore[assignment]  # narrowed by the membership test above
        return result
