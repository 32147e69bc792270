from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")


definition = ServiceDefinition(name="payments", title="Strefa Klienta: payments", settings=PaymentsSettings)
