"""Settings of the payments service (env prefix PAYMENTS_). Secrets are SecretStr: never logged or shown.

In dev mode, unset PayU credentials default to those of the gateway sandbox
(`python -m services.gateway_sandbox`, started by `make dev`); outside dev mode they must be set,
or payments report "unavailable".
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from libs.events.service.settings import ServiceSettings

SANDBOX_POS_ID = "300746"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105  (the dev sandbox's published test credential)
SANDBOX_SECOND_KEY = "sandbox-second-key"


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    gateway: Literal["payu"] = "payu"
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The portal's public base URL: notifyUrl and continueUrl are built on it.",
    )
    continue_path: str = Field(
        default="/platnosci/powrot", description="Where the gateway sends the person back (?payment=<id>)."
    )

    payu_url: str = Field(default="http://127.0.0.1:8010", description="PayU's base URL (or the sandbox's).")
    payu_pos_id: str | None = None
    payu_client_id: str | None = Field(default=None, description="OAuth client_id; usually the POS id.")
    payu_client_secret: SecretStr | None = None
    payu_second_key: SecretStr | None = Field(default=None, description="Second key (MD5): signs notifications.")
    payu_signature_algorithms: list[str] = Field(
        default_factory=lambda: ["MD5", "SHA-256"], description="Algorithms accepted in OpenPayu-Signature."
    )
    payu_validity_seconds: int = Field(
        default=1800, ge=60, description="validityTime of an order: PayU cancels it when unpaid past this."
    )

    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, ge=0)
    order_timeout_seconds: float = Field(
        default=120.0, gt=0, description="A payment still without a gateway order after this is superseded."
    )

    @classmethod
    def of(cls, settings: ServiceSettings) -> PaymentsSettings:
        """The service's settings as this class (a runtime may hold them as the base class)."""
        if isinstance(settings, cls):
            return settings
        return cls.model_validate(settings.model_dump())

    def payu_credentials(self) -> tuple[str, str, SecretStr, SecretStr] | None:
        """(pos id, client id, client secret, second key), the sandbox's in dev mode; None if unset."""
        pos_id = self.payu_pos_id or (SANDBOX_POS_ID if self.dev_mode else None)
        client_id = self.payu_client_id or pos_id
        secret = self.payu_client_secret or (SecretStr(SANDBOX_CLIENT_SECRET) if self.dev_mode else None)
        second_key = self.payu_second_key or (SecretStr(SANDBOX_SECOND_KEY) if self.dev_mode else None)
        if pos_id is None or client_id is None or secret is None or second_key is None:
            return None
        return pos_id, client_id, secret, second_key
