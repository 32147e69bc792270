"""E-mail over SMTP (aiosmtplib): a plain-text and an HTML part, UTF-8, one connection per message."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from pydantic import SecretStr

from libs.events.envelope import utc_now
from services.notifications.ports import DeliveryError, OutgoingMessage


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender_address: str
    sender_name: str
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    implicit_tls: bool = False
    timeout: float = 15.0
    reply_to: str | None = None


def build_email(message: OutgoingMessage, config: SmtpConfig) -> EmailMessage:
    """The MIME message. Its Message-ID derives from the notification id, so a resent copy is
    recognisable as the same message by the receiving side."""
    email = EmailMessage()
    domain = config.sender_address.rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<{message.notification_id}@{domain}>"
    email["Date"] = format_datetime(utc_now())
    email["From"] = Address(display_name=config.sender_name, addr_spec=config.sender_address)
    email["To"] = message.to
    if config.reply_to:
        email["Reply-To"] = config.reply_to
    email["Subject"] = message.subject or ""
    email["Content-Language"] = message.locale
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return email


class SmtpSender:
    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: OutgoingMessage) -> str | None:
        config = self._config
        email = build_email(message, config)
        try:
            await aiosmtplib.send(
                email,
                sender=config.sender_address,
                recipients=[message.to],
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                start_tls=config.starttls and not config.implicit_tls,
                use_tls=config.implicit_tls,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise DeliveryError(
                f"recipient refused: {'; '.join(f'{r.code} {r.message}' for r in error.recipients)}",
                transient=all(400 <= code < 500 for code in codes),
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"{type(error).__name__}: {error.code} {error.message}", transient=400 <= error.code < 500
            ) from None
        except aiosmtplib.SMTPNotSupported as error:  # e.g. STARTTLS required, not offered: configuration
            raise DeliveryError(f"SMTPNotSupported: {error}", transient=False) from None
        except (aiosmtplib.SMTPException, OSError) as error:  # refused, reset, timed out: try again later
            raise DeliveryError(f"{type(error).__name__}: {error}", transient=True) from None
        return str(email["Message-ID"])
