"""The notifications service: SMS and e-mail for other services' events, with retries and an audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog

from libs.events.docstore import Collection, DocumentStore
from libs.events.projection import Reactor
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, load_or_create_private_key
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from services.notifications.adapters.outbox import OutboxSender
from services.notifications.adapters.smsapi import SmsApiSender
from services.notifications.adapters.smtp import SmtpConfig, SmtpSender
from services.notifications.api import backoffice, dev
from services.notifications.delivery import CatchUp, Deliveries, Opener, RetryPolicy
from services.notifications.ports import Sender, Unconfigured
from services.notifications.projections import accounts, einvoice_addresses, notification_log
from services.notifications.settings import NotificationsSettings
from services.notifications.templates import Brand, Templates
from services.notifications.triggers import triggers

log = structlog.get_logger(__name__)

__all__ = ["NotificationsSettings", "definition"]


def email_sender(settings: NotificationsSettings, documents: DocumentStore, clock: Callable[[], datetime]) -> Sender:
    transport = settings.email_transport or ("smtp" if settings.smtp_host else "outbox")
    if transport == "smtp":
        if not settings.smtp_host:
            return Unconfigured("e-mail over SMTP needs NOTIFICATIONS_SMTP_HOST")
        return SmtpSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender_address=settings.sender_address,
                sender_name=settings.sender_name,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                implicit_tls=settings.smtp_implicit_tls,
                timeout=settings.smtp_timeout,
                reply_to=settings.reply_to,
            )
        )
    if not settings.dev_mode:
        return Unconfigured("the dev outbox takes e-mail in dev mode only; set NOTIFICATIONS_SMTP_HOST")
    return OutboxSender(documents, clock)


def sms_sender(settings: NotificationsSettings, documents: DocumentStore, clock: Callable[[], datetime]) -> Sender:
    if settings.sms_provider == "smsapi":
        if settings.smsapi_token is None:
            return Unconfigured("SMS through SMSAPI needs NOTIFICATIONS_SMSAPI_TOKEN")
        return SmsApiSender(
            settings.smsapi_token,
            url=settings.smsapi_url,
            sender_name=settings.smsapi_sender,
            timeout=settings.smsapi_timeout,
        )
    if not settings.dev_mode:
        return Unconfigured("the dev outbox takes SMS in dev mode only; set NOTIFICATIONS_SMS_PROVIDER=smsapi")
    return OutboxSender(documents, clock)


def catch_up(runtime: ServiceRuntime, wait: float) -> CatchUp:
    """Waits until the projections folding `collection` have read what their sources hold now (their
    ends, taken once), at most `wait` seconds; then the caller goes by what the read model holds (and
    the wait is logged). Events appended meanwhile do not prolong it.

    So a message caused right after what its recipient comes from (an account provisioned, a consent
    given) finds it, and one caused by an account never provisioned is held up only until the read
    model has read that far."""

    async def wait_for(collection: Collection) -> None:
        names = [projection.name for projection in runtime.projections if projection.collection == collection]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        for name in names:
            try:
                runner = runtime.runner(name)
            except KeyError:  # consumers not built (yet): nothing to wait for
                continue
            try:
                target = await runner.consumer.ends()
                caught_up = await runner.wait_caught_up(target, max(0.0, deadline - loop.time()))
            except Exception as error:  # the log is unreachable: go by the read model as it is
                log.warning("read_model_lag_unknown", projection=name, error=str(error))
                continue
            if not caught_up:
                log.warning("read_model_behind", projection=name, waited_seconds=wait)

    return wait_for


def reactors(runtime: ServiceRuntime) -> Sequence[Reactor]:
    settings = NotificationsSettings.of(runtime.settings)

    def clock() -> datetime:
        return runtime.clock()  # looked up on every call: tests freeze the runtime's clock

    sms = sms_sender(settings, runtime.documents, clock)
    email = email_sender(settings, runtime.documents, clock)
    for channel, sender in (("sms", sms), ("email", email)):
        if isinstance(sender, Unconfigured):
            log.warning("notification_channel_not_configured", channel=channel, reason=sender.reason)
    log.info("notification_providers", sms=sms.name, email=email.name, smtp_host=settings.smtp_host)
    portal_url = settings.portal_url.rstrip("/")
    deliveries = Deliveries(
        triggers=triggers,
        templates=Templates(
            Brand(
                company_name=settings.company_name,
                portal_url=portal_url,
                activation_url=portal_url + settings.activation_path,
                support_phone=settings.support_phone,
                support_email=settings.support_email,
            )
        ),
        senders={"sms": sms, "email": email},
        commands=runtime.commands,
        opener=Opener(
            load_or_create_private_key(settings.secrets_dir / NOTIFICATIONS_SEALING_KEY),
            runtime.documents,
            invoices_url=portal_url + settings.invoices_path,
            catch_up=catch_up(runtime, settings.read_model_wait),
        ),
        clock=clock,
        retry=RetryPolicy(settings.send_attempts, settings.retry_initial_delay, settings.retry_max_delay),
        max_event_age=timedelta(hours=settings.max_event_age_hours),
    )
    return [deliveries.reactor()]


definition = ServiceDefinition(
    name="notifications",
    title="Strefa Klienta: notifications",
    routers=[backoffice],
    dev_routers=[dev],
    projections=[notification_log, accounts, einvoice_addresses],
    reactors=reactors,
    settings=NotificationsSettings,
)
