from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings
from services.contracts.api import backoffice, client
from services.contracts.projections import PROJECTIONS


class ContractsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACTS_", extra="ignore")


definition = ServiceDefinition(
    name="contracts",
    title="Strefa Klienta: contracts",
    routers=[backoffice, client],
    projections=PROJECTIONS,
    settings=ContractsSettings,
)
