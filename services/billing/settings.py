from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.events.service.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    issuer_name: str = Field(default="Alior Leasing sp. z o.o.", description="The seller printed on PDFs.")
    max_document_bytes: int = Field(default=20 * 1024 * 1024, description="The largest PDF the back office may upload.")
    orphan_blob_grace_seconds: int = Field(
        default=3600,
        ge=60,
        description="A stored file no event refers to (its event was never appended) is deleted once this old.",
    )
    orphan_blob_sweep_seconds: float = Field(
        default=3600, ge=0, description="Seconds between sweeps for such files, the first at start; 0: none."
    )
