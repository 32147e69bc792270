"""Settings of the notifications service (env prefix NOTIFICATIONS_). Secrets are SecretStr: never logged."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from libs.events.service.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    # E-mail
    email_transport: Literal["smtp", "outbox"] | None = Field(
        default=None,
        description='"smtp", or "outbox" (the dev mailbox, dev mode only); unset: smtp when smtp_host is set, '
        "else the outbox.",
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=True, description="Require STARTTLS (port 587).")
    smtp_implicit_tls: bool = Field(default=False, description="TLS from the first byte (port 465).")
    smtp_timeout: float = Field(default=15.0, gt=0)
    sender_address: str = "strefaklienta@aliorleasing.pl"
    sender_name: str = "Strefa Klienta Alior Leasing"
    reply_to: str | None = Field(default="dok@aliorleasing.pl", description="Where replies to our e-mails go.")

    # SMS
    sms_provider: Literal["outbox", "smsapi"] = Field(
        default="outbox", description='"smsapi" (SMSAPI.pl) or "outbox" (the dev mailbox, dev mode only).'
    )
    smsapi_url: str = "https://api.smsapi.pl/sms.do"
    smsapi_token: SecretStr | None = Field(default=None, description="OAuth bearer token of the SMSAPI account.")
    smsapi_sender: str | None = Field(default=None, description="Registered sender name; unset: the account's.")
    smsapi_timeout: float = Field(default=15.0, gt=0)

    # Retries of one notification (exponential backoff between attempts)
    send_attempts: int = Field(default=4, ge=1, le=10)
    retry_initial_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=30.0, ge=0)

    # Which events still lead to a message
    max_event_age_hours: float = Field(
        default=24.0,
        gt=0,
        description="Payment results, invoices and profile's messages whose cause occurred longer ago than this "
        "(when notifications reaches it) are skipped, not sent: a consumer that starts following a service reads "
        "its whole history, which must not be mailed out. Also the longest outage after which they are still sent.",
    )
    read_model_wait: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a message whose recipient notifications' own read models (accounts, e-invoice "
        "addresses) do not know yet may wait for them to catch up with identity's and profile's events as they "
        "stood when the message came, before it goes by what they hold (a known recipient never waits).",
    )

    # What the messages say (the client zone's texts)
    company_name: str = "Alior Leasing"
    portal_url: str = "https://strefaklienta.aliorleasing.pl"
    activation_path: str = "/aktywacja"
    invoices_path: str = Field(default="/faktury", description="The client zone's invoices page, linked from e-mails.")
    support_phone: str = "32 745 64 56"
    support_email: str = "dok@aliorleasing.pl"

    @classmethod
    def of(cls, settings: ServiceSettings) -> NotificationsSettings:
        """The service's settings as this class (a runtime holds them as the base class)."""
        if isinstance(settings, cls):
            return settings
        return cls.model_validate(settings.model_dump())
