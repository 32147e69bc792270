"""No plain code, link or recipient lasts anywhere but in the dev mailbox (which is the mailbox itself)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from libs.events.jsonutil import dumps
from tests.notifications.conftest import SmtpServer, StartPortal, free_port

CODE = "739214"
TOKEN = "Kx8vQ2pLm7RtZ4wYc9NbF3hJs6GdUe1A"
LINK = f"https://strefaklienta.aliorleasing.pl/aktywacja#token={TOKEN}"
PHONE = "+48601234567"
EMAIL = "zofia.zolkiewska@nowak.pl"


def plain_code(text: str) -> bool:
    """The code as a word of its own: inside base64 ciphertext (letters, digits, - and _ around it)
    six digits may occur by chance, and that is not the code in plain text."""
    return re.search(rf"(?<![A-Za-z0-9_\-]){CODE}(?![A-Za-z0-9_\-])", text) is not None


def leaks(text: str) -> list[str]:
    found = [secret for secret in (TOKEN, LINK, PHONE, EMAIL, PHONE.lstrip("+")) if secret in text]
    return found + (["code"] if plain_code(text) else [])


async def test_no_plain_code_link_or_recipient_in_events_read_models_or_logs(
    start_portal: StartPortal, smtp_server: SmtpServer, captured_logs: Callable[[], str]
) -> None:
    # SMS to the dev outbox; e-mail over real SMTP that refuses the first attempt; then SMTP down.
    smtp_server.mailbox.busy = 1
    portal = await start_portal(**smtp_server.settings(), send_attempts=3)
    causes = [
        await portal.emit(portal.code_issued(code=CODE, phone=PHONE)),
        await portal.emit(portal.link_issued(LINK, email=EMAIL)),
    ]
    outcomes = [await portal.outcome_of(cause) for cause in causes]
    assert [outcome.type for outcome in outcomes] == ["NotificationSent", "NotificationSent"]
    assert outcomes[1].data["attempts"] == 2

    down = await start_portal(
        email_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, send_attempts=2
    )
    failed = await down.outcome_of(await down.emit(down.link_issued(LINK, email=EMAIL)))
    assert failed.type == "NotificationFailed"

    # What was delivered did hold the secrets: the check below can see them when they are there.
    (sms,) = await portal.outbox()
    assert plain_code(sms["text"])
    assert LINK in smtp_server.mailbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]

    for harness in (portal, down):
        for service in ("identity", "notifications"):
            events = await harness.portal.platform.event_stores[service].read_all()
            assert events
            assert leaks(dumps([event.model_dump(mode="json") for event in events]).decode()) == []
            assert leaks(_raw_files(harness.data_dir / service, "events.db")) == []
        # Every read model of the service (audit trail, checkpoints, consumer status, dead letters,
        # access) but the dev mailbox, which is where the messages are meant to be.
        documents = harness.portal.platform.document_stores["notifications"]
        async with documents.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
            tables = [row[0] for row in await cursor.fetchall()]
        assert "rm_notification_log" in tables
        for table in tables:
            if table == "rm_dev_outbox":
                continue
            async with documents.db.execute(f'SELECT doc FROM "{table}"') as cursor:  # noqa: S608
                for (doc,) in await cursor.fetchall():
                    assert leaks(bytes(doc).decode()) == [], table

    logs = captured_logs()
    assert "notification_sent" in logs
    assert "notification_send_retry" in logs
    assert "notification_failed" in logs
    assert leaks(logs) == [], [line for line in logs.splitlines() if leaks(line)][:5]


def _raw_files(folder: Path, name: str) -> str:
    """The store's files as they lie on disk (the database and its write-ahead log)."""
    return "".join(path.read_bytes().decode("latin-1") for path in sorted(folder.glob(f"{name}*")))


EINVOICE_TOKEN = "Q0wtMTAwMQ.Zq5vN8cR2mXw7LpT4yHb9KdF3sGj6AeUo1BiVx0Wn"
EINVOICE_LINK = f"https://strefaklienta.aliorleasing.pl/profil/e-faktura/potwierdzenie#token={EINVOICE_TOKEN}"
RECIPIENTS = ("faktury@transbud.pl", "anna.kowalczyk@transbud.pl")
ADDRESS_BOOKS = frozenset({"rm_accounts", "rm_einvoice_addresses"})
"""Notifications' read models of addresses: they hold plain addresses by design, never a link."""


def link_leaks(text: str) -> list[str]:
    return [secret for secret in (EINVOICE_TOKEN, EINVOICE_LINK) if secret in text]


def recipient_leaks(text: str) -> list[str]:
    return [address for address in RECIPIENTS if address in text]


async def test_the_einvoice_confirmation_link_lasts_only_in_the_mailbox(
    start_portal: StartPortal, smtp_server: SmtpServer, captured_logs: Callable[[], str]
) -> None:
    # Over SMTP that is busy at first (a retry), to a server that is down (a failure), to the dev outbox.
    smtp_server.mailbox.busy = 1
    smtp = await start_portal(**smtp_server.settings(), send_attempts=3)
    down = await start_portal(
        email_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, send_attempts=2
    )
    dev = await start_portal()
    for harness in (smtp, down, dev):
        await harness.emit(harness.account_provisioned(email=RECIPIENTS[1]), account_id="acc-7")
        await harness.profile(harness.consent_given(RECIPIENTS[0]))
        causes = [
            await harness.profile(harness.confirmation_requested(EINVOICE_LINK, email=RECIPIENTS[0])),
            await harness.pay(harness.payment()),
            await harness.profile(harness.status_changed(email=RECIPIENTS[1])),
            await harness.bill(harness.invoice()),
        ]
        outcomes = [await harness.outcome_of(cause) for cause in causes]
        expected = "NotificationFailed" if harness is down else "NotificationSent"
        assert {outcome.type for outcome in outcomes} == {expected}

    # What was delivered did hold the link: the checks below can see it when it is there.
    delivered = [message.get_body(("plain",)) for message in smtp_server.mailbox.messages]
    assert len(delivered) == len(causes)
    assert any(body is not None and EINVOICE_LINK in body.get_content() for body in delivered)
    assert any(EINVOICE_LINK in entry["text"] for entry in await dev.outbox())

    for harness in (smtp, down, dev):
        for service in ("identity", "payments", "profile", "billing", "notifications"):
            events = await harness.portal.platform.event_stores[service].read_all()
            assert events
            text = dumps([event.model_dump(mode="json") for event in events]).decode()
            assert link_leaks(text) == [], service
            if service == "notifications":
                assert recipient_leaks(text) == []
        assert link_leaks(_raw_files(harness.data_dir / "profile", "events.db")) == []
        assert link_leaks(_raw_files(harness.data_dir / "notifications", "events.db")) == []
        documents = harness.portal.platform.document_stores["notifications"]
        async with documents.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
            tables = [row[0] for row in await cursor.fetchall()]
        assert set(tables) >= ADDRESS_BOOKS
        for table in tables:
            if table == "rm_dev_outbox":
                continue
            async with documents.db.execute(f'SELECT doc FROM "{table}"') as cursor:  # noqa: S608
                for (doc,) in await cursor.fetchall():
                    assert link_leaks(bytes(doc).decode()) == [], table
                    if table not in ADDRESS_BOOKS:
                        assert recipient_leaks(bytes(doc).decode()) == [], table

    logs = captured_logs()
    assert "notification_send_retry" in logs
    assert "notification_failed" in logs
    leaked = [line for line in logs.splitlines() if link_leaks(line) or recipient_leaks(line)]
    assert leaked == [], leaked[:5]
