from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.events.blobs import OrphanBlobSettings
from libs.events.service.settings import ServiceSettings


class BillingSettings(OrphanBlobSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    issuer_name: str = Field(default="Alior Leasing sp. z o.o.", description="The seller printed on PDFs.")
    max_document_bytes: int = Field(default=20 * 1024 * 1024, description="The largest PDF the back office may upload.")
