"""Settings of the profile service (env prefix PROFILE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.events.blobs import OrphanBlobSettings
from libs.events.service.settings import ServiceSettings

MIB = 1024 * 1024


class ProfileSettings(OrphanBlobSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore")

    attachment_max_bytes: int = Field(default=10 * MIB, ge=1, description="Largest attachment accepted, per file.")
    attachment_max_files: int = Field(default=5, ge=0, le=20, description="Most attachments on one request.")
    portal_url: str = Field(
        default="http://localhost:8000", description="Where the client zone is served: links in e-mails point there."
    )
    blob_dir: Path | None = Field(default=None, description="Attachments (file blob store); default data_dir/blobs.")

    @property
    def blobs_root(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"
