from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")


definition = ServiceDefinition(
    name="notifications", title="Strefa Klienta: notifications", settings=NotificationsSettings
)
