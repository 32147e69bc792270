from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")


definition = ServiceDefinition(name="identity", title="Strefa Klienta: identity", settings=IdentitySettings)
