"""No plain code, link or recipient lasts anywhere but in the dev mailbox (which is the mailbox itself)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from libs.events.jsonutil import dumps
from tests.notifications.conftest import SmtpServer, StartPortal, free_port

CODE = "739214"
TOKEN = "Kx8vQ2pLm7RtZ4wYc9NbF3hJs6GdUe1A"
LINK = f"https://strefaklienta.aliorleasing.pl/aktywacja?token={TOKEN}"
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
