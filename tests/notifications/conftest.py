"""A portal with the notifications service and a stand-in identity (its event store only), a real
local SMTP server (aiosmtpd), and helpers to append identity's events the way identity would.

The stand-in keeps these tests independent of the identity service's own implementation: all they
need from identity is its published schemas and an event store to append to.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import pytest
import structlog
from aiosmtpd.controller import Controller
from nacl.public import PublicKey

from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.schemas.identity import ActivationCodeIssued, ActivationLinkIssued, SubAccountCreated
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, NotificationRequest, load_public_key, seal_notification
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from libs.events.warsaw import WARSAW, midnight_after
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from services.notifications.service import definition as notifications
from services.notifications.templates import Brand
from tests.helpers import eventually

ISSUED_AT = datetime(2030, 3, 14, 9, 30, tzinfo=UTC)
"""When the test codes and links are issued: valid until midnight (Warsaw) of that day, or the next."""
OUTCOMES = frozenset({"NotificationSent", "NotificationFailed"})
Locale = Literal["pl", "en"]

BRAND = Brand(
    company_name="Alior Leasing",
    portal_url="https://strefaklienta.aliorleasing.pl",
    activation_url="https://strefaklienta.aliorleasing.pl/aktywacja",
    support_phone="32 745 64 56",
    support_email="dok@aliorleasing.pl",
)

identity_stand_in = ServiceDefinition(name="identity", title="identity (its event store only)")


@dataclass
class Harness:
    portal: EmbeddedPortal
    http: httpx.AsyncClient
    backoffice: dict[str, str]
    public_key: PublicKey
    data_dir: Path

    @property
    def runtime(self) -> ServiceRuntime:
        return self.portal.runtimes["notifications"]

    @property
    def identity_events(self) -> SqliteEventStore:
        return self.portal.platform.event_stores["identity"]

    @property
    def notification_events(self) -> SqliteEventStore:
        return self.portal.platform.event_stores["notifications"]

    async def emit(self, event: DomainEvent, account_id: str = "acc-1") -> RecordedEvent:
        """Appends `event` to identity's store, as identity would."""
        stream = f"identity-account-{account_id}"
        context = EventContext(client_id="CL-1001", actor=f"account:{account_id}")
        result = await self.identity_events.append(
            stream, [NewEvent.from_domain(event, context)], expected_version=ANY_VERSION
        )
        (recorded,) = await self.identity_events.read_stream(stream, from_version=result.stream_version)
        return recorded

    async def outcomes(self) -> list[RecordedEvent]:
        return [event for event in await self.notification_events.read_all() if event.type in OUTCOMES]

    async def outcome_of(self, cause: RecordedEvent) -> RecordedEvent:
        """The NotificationSent or NotificationFailed of `cause`, once recorded."""
        found: list[RecordedEvent] = []

        async def recorded() -> bool:
            found[:] = [e for e in await self.outcomes() if e.data["cause_event_id"] == str(cause.event_id)]
            return bool(found)

        await eventually(recorded, what=f"the outcome of {cause.type}")
        (outcome,) = found
        return outcome

    async def outbox(self, **params: str) -> list[dict[str, Any]]:
        response = await self.http.get("/api/notifications/dev/outbox", params=params)
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        return entries

    # Events as identity would record them (the secrets sealed for notifications)

    def code_issued(
        self,
        code: str = "739214",
        phone: str = "+48601234567",
        locale: Locale = "pl",
        key: PublicKey | None = None,
    ) -> ActivationCodeIssued:
        expires_at = midnight_after(ISSUED_AT)
        params = {"code": code, "valid_until": expires_at.astimezone(WARSAW).isoformat()}  # as identity sends it
        request = NotificationRequest(channel="sms", to=phone, template="activation_code", locale=locale, params=params)
        return ActivationCodeIssued(
            account_id="acc-1",
            code_hash=hashlib.sha256(code.encode()).hexdigest(),
            expires_at=expires_at,
            notification=seal_notification(request, key or self.public_key),
        )

    def link_issued(
        self, link: str, email: str = "zofia.zolkiewska@nowak.pl", locale: Locale = "pl"
    ) -> ActivationLinkIssued:
        # No valid_until: notifications takes the event's expires_at.
        params = {"link": link, "first_name": "Zofia"}
        request = NotificationRequest(
            channel="email", to=email, template="activation_link", locale=locale, params=params
        )
        return ActivationLinkIssued(
            account_id="acc-1",
            token_hash=hashlib.sha256(link.encode()).hexdigest(),
            expires_at=midnight_after(ISSUED_AT, days=1),
            notification=seal_notification(request, self.public_key),
        )

    def subaccount_created(self, email: str = "jan.kowalski@nowak.pl", **params: str) -> SubAccountCreated:
        request = NotificationRequest(channel="email", to=email, template="subaccount_invitation", params=params)
        return SubAccountCreated(
            account_id="acc-2",
            client_id="CL-1001",
            created_by="acc-1",
            scopes=("invoices:read",),
            notification=seal_notification(request, self.public_key),
        )


class StartPortal(Protocol):
    def __call__(self, *, dev_mode: bool = True, run_consumers: bool = True, **settings: Any) -> Awaitable[Harness]: ...


@pytest.fixture
async def start_portal(tmp_path: Path) -> AsyncIterator[StartPortal]:
    """Starts a portal; keyword arguments override the notifications service's settings."""
    counter = itertools.count()
    async with contextlib.AsyncExitStack() as stack:

        async def start(*, dev_mode: bool = True, run_consumers: bool = True, **settings: Any) -> Harness:
            data_dir = tmp_path / f"portal-{next(counter)}"
            portal = EmbeddedPortal(
                PortalSettings(data_dir=data_dir, dev_mode=dev_mode), services=(identity_stand_in, notifications)
            )
            runtime = portal.runtimes["notifications"]
            runtime.settings = runtime.settings.model_copy(
                update={"retry_initial_delay": 0.01, "retry_max_delay": 0.05, **settings}
            )
            await portal.start(run_consumers)
            stack.push_async_callback(portal.stop)
            transport = httpx.ASGITransport(app=portal.app())
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://portal.test")
            )
            return Harness(
                portal=portal,
                http=http,
                backoffice={"Authorization": f"Bearer {backoffice_token(data_dir)}"},
                public_key=load_public_key(data_dir / "secrets" / f"{NOTIFICATIONS_SEALING_KEY}.pub"),
                data_dir=data_dir,
            )

        yield start


@pytest.fixture
async def portal(start_portal: StartPortal) -> Harness:
    """Dev mode: SMS and e-mail go to the dev outbox."""
    return await start_portal()


# A real SMTP server


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; answers 451 to the first `busy` messages and
    `refuse` (a whole SMTP reply) to every recipient when set."""

    busy: int = 0
    refuse: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    attempts: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.busy:
            return "451 4.3.0 Mailbox busy, try again later"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Notifications settings sending e-mail here (plain SMTP: no STARTTLS on a test server)."""
        return {"email_transport": "smtp", "smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, mailbox)
    finally:
        controller.stop()


# Logs


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Every structlog line at every level, and the standard library's (httpx, aiosmtplib...) from INFO
    up, as text. (configure_logging never lets the standard library below WARNING; at DEBUG, aiosqlite
    would echo every SQL statement with its parameters, the dev mailbox's writes included.)"""
    previous = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    caplog.set_level(logging.INFO)
    try:

        def text() -> str:
            ours = [repr(entry) for entry in capture.entries]
            # aiosmtpd ("mail.log") is the test's SMTP server, the receiving side: not the service's log.
            stdlib = [f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("mail.log")]
            return "\n".join(ours + stdlib)

        yield text
    finally:
        structlog.configure(**previous)


def later(start: datetime = ISSUED_AT, step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """A clock that moves on by `step` at every reading: deterministic order without sleeping."""
    ticks = itertools.count()
    return lambda: start + step * next(ticks)
