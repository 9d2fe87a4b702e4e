"""Media settings (``OMNITRAIL_MEDIA_*``): where attachment content is kept and from where it may be fetched."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings
from schemas.errors import FatalError

#: The providers' media hosts (a leading ``.`` allows every subdomain). Twilio answers its media URL
#: with a redirect to its CDN; WhatsApp Cloud's media URLs are on lookaside.fbsbx.com; Messenger and
#: Instagram attachments are Meta CDN links; Telegram serves files from its Bot API host.
PROVIDER_HOSTS = (
    "api.twilio.com",
    ".twiliocdn.com",
    "graph.facebook.com",
    "lookaside.fbsbx.com",
    ".fbcdn.net",
    ".cdninstagram.com",
    "api.telegram.org",
)


class MediaSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_MEDIA_", extra="forbid")
    toml_section: ClassVar[str | None] = "media"

    enabled: bool = Field(default=True, description="false: `omnitrail up` does not run the media stage")
    store: Literal["folder", "s3"] = Field(
        default="folder", description="folder: OMNITRAIL_DATA_DIR/media (one machine); s3: any S3-compatible store"
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (store=s3)")
    s3_endpoint: str | None = Field(default=None, description="The S3 API's URL; unset: AWS for s3_region")
    s3_region: str = Field(default="us-east-1", description="The bucket's region")
    s3_access_key_id: str | None = Field(default=None, description="unset: the environment's AWS credentials")
    s3_secret_access_key: SecretStr | None = None
    max_bytes: int = Field(default=100 * 1024 * 1024, gt=0, description="A file larger than this is not kept")
    allowed_hosts: str = Field(
        default=",".join(PROVIDER_HOSTS),
        description="Hosts media is fetched from, comma-separated (.example.com: its subdomains); nothing else",
    )
    allow_http: bool = Field(default=False, description="Plain-HTTP media URLs (tests on loopback only)")
    graph_api_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="The Graph API (WhatsApp Cloud media ids)"
    )
    meta_access_token: SecretStr | None = Field(
        default=None, description="Graph API token of the WhatsApp Business account; unset: WhatsApp media not fetched"
    )
    attempts: int = Field(default=5, ge=1, description="Tries of a provider that is unavailable before giving up")
    retry_first_s: float = Field(default=1.0, gt=0, description="First wait between tries (doubles, capped at 60 s)")
    timeout_s: float = Field(default=30.0, gt=0, description="Connect and read timeout of one media request")
    concurrency: int = Field(default=4, ge=1, description="Attachments fetched at once per media process")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus port of `omnitrail media`; 0: off")
    url_ttl_s: int = Field(default=300, ge=10, le=3600, description="Lifetime of the console's signed media URLs")

    def hosts(self) -> tuple[str, ...]:
        hosts = tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
        if not hosts:
            raise FatalError("OMNITRAIL_MEDIA_ALLOWED_HOSTS is empty: no media could be fetched")
        return hosts

    def folder(self, data_dir: Path) -> Path:
        return data_dir / "media"
