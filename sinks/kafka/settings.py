"""How every process talks to Kafka (``OMNITRAIL_KAFKA_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings


class KafkaSettings(OmnitrailSettings):
    """How every process talks to Kafka (``OMNITRAIL_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_KAFKA_", extra="forbid")
    toml_section: ClassVar[str | None] = "kafka"

    bootstrap: str | None = Field(default=None, description="host:port[,host:port]; unset: embedded broker")
    idempotence: bool = Field(default=True, description="Idempotent producer (off for the embedded broker)")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    session_timeout_s: float = Field(default=30.0, gt=0)
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    rebalance_timeout_s: float = Field(default=60.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    partitions: int = Field(default=3, ge=1, description="Partitions per topic for `topics create`")
    replication_factor: int = Field(default=1, ge=1)
    linger_ms: int = Field(default=5, ge=0)
    fetch_max_wait_ms: int = Field(
        default=100, ge=1, description="How long the worker's fetches may wait at the broker for new records"
    )
