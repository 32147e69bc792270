from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")


definition = ServiceDefinition(name="billing", title="Strefa Klienta: billing", settings=BillingSettings)
