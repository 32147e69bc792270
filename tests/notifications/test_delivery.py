"""The notifications service end to end: identity's events in, SMS and e-mail out, outcomes recorded."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from nacl.public import PrivateKey

from libs.events.envelope import RecordedEvent
from libs.events.projection import ReactorRunner
from libs.events.schemas.identity import SubAccountCreated
from libs.events.schemas.notifications import notification_id_for
from libs.events.sealed import NotificationRequest, seal_notification
from services.notifications.delivery import Deliveries, Opener, RetryPolicy
from services.notifications.ports import Unconfigured
from services.notifications.templates import Templates
from services.notifications.triggers import Outgoing, TriggerContext, Triggers
from tests.helpers import eventually
from tests.notifications.conftest import BRAND, Harness, Locale, SmtpServer, StartPortal, free_port, later

LINK = "https://strefaklienta.aliorleasing.pl/aktywacja?token=Jq7dK2mWx9Lr4TfYb8NcVp3HsZa6GeUo&lang=pl"
CONTACT = ("32 745 64 56", "dok@aliorleasing.pl")


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    assert part.get_content_charset() == "utf-8"
    content: str = part.get_content()
    return content.replace("\r\n", "\n")  # SMTP's line ends


async def test_an_activation_code_reaches_the_outbox_as_a_polish_sms(portal: Harness) -> None:
    cause = await portal.emit(portal.code_issued(code="739214"))

    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationSent"
    assert outcome.stream_id == f"notifications-notification-{notification_id_for(cause.event_id)}"
    assert outcome.causation_id == cause.event_id
    assert outcome.correlation_id == cause.correlation_id
    assert outcome.data["channel"] == "sms"
    assert outcome.data["template"] == "activation_code"
    assert outcome.data["recipient"] == "+48******567"
    assert outcome.data["provider"] == "outbox"
    assert outcome.data["attempts"] == 1
    (sms,) = await portal.outbox(to="+48601234567")
    assert sms["channel"] == "sms"
    assert sms["template"] == "activation_code"
    assert sms["to"] == "+48601234567"
    assert sms["subject"] is None
    assert sms["text"] == (
        "Strefa Klienta: Twój kod autoryzacyjny to 739214. "
        "Kod jest ważny do północy (do 23:59 dnia 14.03.2030). Nie przekazuj go nikomu."
    )


async def test_the_sms_speaks_english_when_the_locale_is_en(portal: Harness) -> None:
    await portal.outcome_of(await portal.emit(portal.code_issued(code="520981", locale="en")))
    (sms,) = await portal.outbox()
    assert sms["text"] == (
        "Strefa Klienta: your authorisation code is 520981. "
        "It is valid until midnight (until 23:59 on 14.03.2030). Do not share it with anyone."
    )


@pytest.mark.parametrize(
    ("locale", "subject", "phrases"),
    [
        (
            "pl",
            "Link aktywacyjny do Strefy Klienta Alior Leasing",
            [
                "Dzień dobry Zofia,",
                "nadaj własne hasło do logowania",
                "link aktywacyjny jest ważny do północy dnia następnego po dniu wygenerowania wiadomości "
                "(do 23:59 dnia 15.03.2030)",
                "skontaktuj się z Działem Obsługi Klienta: telefonicznie (32 745 64 56) "
                "bądź e-mailem (dok@aliorleasing.pl)",
            ],
        ),
        (
            "en",
            "Your activation link for Strefa Klienta Alior Leasing",
            [
                "Hello Zofia,",
                "set your own password",
                "the activation link is valid until midnight of the day after the day this message was generated "
                "(until 23:59 on 15.03.2030)",
                "contact our Customer Service: by phone (32 745 64 56) or by e-mail (dok@aliorleasing.pl)",
            ],
        ),
    ],
)
async def test_the_activation_link_goes_out_over_smtp(
    start_portal: StartPortal, smtp_server: SmtpServer, locale: Locale, subject: str, phrases: list[str]
) -> None:
    portal = await start_portal(**smtp_server.settings())
    cause = await portal.emit(portal.link_issued(LINK, email="Zofia.Zolkiewska@nowak.pl", locale=locale))

    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationSent", outcome.data
    assert outcome.data["provider"] == "smtp"
    assert outcome.data["recipient"] == "Z***@nowak.pl"
    (message,) = smtp_server.mailbox.messages
    assert smtp_server.mailbox.envelopes == [("strefaklienta@aliorleasing.pl", ["Zofia.Zolkiewska@nowak.pl"])]
    assert message["Subject"] == subject
    assert message["To"] == "Zofia.Zolkiewska@nowak.pl"
    assert message["From"] == "Strefa Klienta Alior Leasing <strefaklienta@aliorleasing.pl>"
    assert message["Reply-To"] == "dok@aliorleasing.pl"
    assert message["Message-ID"] == outcome.data["provider_message_id"]
    assert message["Message-ID"] == f"<{notification_id_for(cause.event_id)}@aliorleasing.pl>"
    text = body(message, "plain")
    assert f"\n{LINK}\n" in text
    for phrase in phrases:
        assert phrase in text
    html = body(message, "html")
    assert f'<html lang="{locale}">' in html
    assert 'href="' + LINK.replace("&", "&amp;") + '"' in html  # autoescaped, and the link still works
    assert all(contact in html for contact in CONTACT)
    assert await portal.outbox() == []  # real SMTP: nothing in the dev mailbox


async def test_a_subaccount_invitation_is_escaped_in_html_and_lands_in_the_dev_mailbox(portal: Harness) -> None:
    event = portal.subaccount_created(
        email="jan.kowalski@nowak.pl",
        first_name="Jan <script>",
        client_name="Transport Nowak Sp. z o.o.",
        invited_by="Zofia Żółkiewska",
    )
    await portal.outcome_of(await portal.emit(event))
    (mail,) = await portal.outbox(to="Jan.Kowalski@nowak.pl")
    assert mail["channel"] == "email"
    assert mail["template"] == "subaccount_invitation"
    assert mail["subject"] == "Zaproszenie do Strefy Klienta Alior Leasing"
    assert mail["text"].startswith("Dzień dobry Jan <script>,\n\nZofia Żółkiewska utworzył(a) dla Ciebie konto")
    assert "(firma: Transport Nowak Sp. z o.o.)." in mail["text"]
    assert "https://strefaklienta.aliorleasing.pl/aktywacja" in mail["text"]
    assert "Jan &lt;script&gt;" in mail["html"]
    assert "<script>" not in mail["html"]


async def test_the_dev_outbox_lists_newest_first_and_filters_by_recipient(portal: Harness) -> None:
    portal.runtime.clock = later()
    first = await portal.emit(portal.code_issued(code="111111", phone="+48601234567"))
    await portal.outcome_of(first)
    second = await portal.emit(portal.code_issued(code="222222", phone="+48609876543"))
    await portal.outcome_of(second)
    third = await portal.emit(portal.subaccount_created(email="jan.kowalski@nowak.pl"))
    await portal.outcome_of(third)

    entries = await portal.outbox()
    assert [entry["template"] for entry in entries] == ["subaccount_invitation", "activation_code", "activation_code"]
    assert [entry["sent_at"] for entry in entries] == sorted((entry["sent_at"] for entry in entries), reverse=True)
    for spelled in ("+48609876543", "48609876543", "609876543", "609 876 543"):
        (only,) = await portal.outbox(to=spelled)
        assert "222222" in only["text"]
    assert len(await portal.outbox(limit="1")) == 1
    assert await portal.outbox(to="nobody@nowak.pl") == []


async def test_the_same_event_delivered_twice_sends_one_message(start_portal: StartPortal) -> None:
    portal = await start_portal(run_consumers=False)
    runner = portal.runtime.runner("deliveries")
    assert isinstance(runner, ReactorRunner)
    cause = await portal.emit(portal.code_issued())
    assert await runner.run_once() >= 1
    assert len(await portal.outbox()) == 1

    # The checkpoint is lost: the same event comes again. And another consumer group reads it too.
    await runner.consumer.reset()
    assert await runner.run_once() >= 1
    replay = ReactorRunner(
        runner.reactor,
        portal.runtime.event_log.consumer("notifications.deliveries-replay", runner.reactor.sources),
        portal.runtime.documents,
        portal.runtime.registry,
        service="notifications",
        personal=portal.runtime.personal,
    )
    assert await replay.run_once() >= 1

    assert len(await portal.outbox()) == 1
    (outcome,) = await portal.outcomes()
    assert outcome.type == "NotificationSent"
    assert outcome.data["cause_event_id"] == str(cause.event_id)
    assert runner.status.dead_letters == replay.status.dead_letters == 0


async def test_a_message_sealed_for_another_key_fails_sends_nothing_and_the_consumer_goes_on(portal: Harness) -> None:
    stranger = PrivateKey.generate().public_key
    cause = await portal.emit(portal.code_issued(code="404404", key=stranger))
    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "cannot_unseal"
    assert outcome.data["attempts"] == 0
    assert outcome.data["channel"] is None
    assert await portal.outbox() == []

    after = await portal.outcome_of(await portal.emit(portal.code_issued(code="505505")))
    assert after.type == "NotificationSent"
    assert [sms["text"].split()[6] for sms in await portal.outbox()] == ["505505."]
    status = await portal.runtime.runner("deliveries").current_status()
    assert status.dead_letters == 0
    assert status.running


async def test_an_smtp_server_that_is_busy_is_retried_until_it_accepts(
    start_portal: StartPortal, smtp_server: SmtpServer
) -> None:
    smtp_server.mailbox.busy = 2
    portal = await start_portal(**smtp_server.settings(), send_attempts=4)
    outcome = await portal.outcome_of(await portal.emit(portal.link_issued(LINK)))
    assert outcome.type == "NotificationSent"
    assert outcome.data["attempts"] == 3
    assert smtp_server.mailbox.attempts == 3
    assert len(smtp_server.mailbox.messages) == 1


async def test_an_smtp_server_that_is_down_ends_in_notification_failed_after_the_bounded_retries(
    start_portal: StartPortal,
) -> None:
    portal = await start_portal(
        email_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, send_attempts=3
    )
    outcome = await portal.outcome_of(await portal.emit(portal.link_issued(LINK)))
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "retries_exhausted"
    assert outcome.data["attempts"] == 3
    assert outcome.data["provider"] == "smtp"
    assert outcome.data["recipient"] == "z***@nowak.pl"
    # The consumer goes on: the next message is delivered (here to the outbox, the SMS channel).
    assert (await portal.outcome_of(await portal.emit(portal.code_issued()))).type == "NotificationSent"
    assert (await portal.runtime.runner("deliveries").current_status()).dead_letters == 0


async def test_a_permanent_smtp_refusal_is_not_retried(start_portal: StartPortal, smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.refuse = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    portal = await start_portal(**smtp_server.settings(), send_attempts=4)
    outcome = await portal.outcome_of(await portal.emit(portal.link_issued(LINK)))
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "rejected"
    assert outcome.data["attempts"] == 1
    assert "550" in outcome.data["error"]
    assert "zofia.zolkiewska@nowak.pl" not in outcome.data["error"]
    assert "z***@nowak.pl" in outcome.data["error"]
    assert smtp_server.mailbox.messages == []


async def test_a_code_that_expired_before_it_could_be_sent_is_not_sent(portal: Harness) -> None:
    expiry = portal.code_issued().expires_at
    portal.runtime.clock = lambda: expiry
    outcome = await portal.outcome_of(await portal.emit(portal.code_issued()))
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "expired"
    assert await portal.outbox() == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"template": "no_such_template"}, "unknown template"),
        ({"template": "activation_link"}, "is for email, not sms"),
        ({"params": {}}, "needs the parameters ['code']"),
        ({"to": "601234567"}, "not an E.164 phone number"),
    ],
)
async def test_a_request_that_cannot_be_rendered_is_recorded_as_failed(
    portal: Harness, params: dict[str, Any], error: str
) -> None:
    request: dict[str, Any] = {
        "channel": "sms",
        "to": "+48601234567",
        "template": "activation_code",
        "params": {"code": "123456"},
    }
    request.update(params)
    event = portal.code_issued().model_copy(
        update={"notification": seal_notification(NotificationRequest(**request), portal.public_key)}
    )
    outcome = await portal.outcome_of(await portal.emit(event))
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] in {"template_error", "invalid_request"}
    assert error in outcome.data["error"]
    assert await portal.outbox() == []


async def test_outside_dev_mode_the_outbox_delivers_nothing_and_says_so(start_portal: StartPortal) -> None:
    portal = await start_portal(dev_mode=False)
    outcome = await portal.outcome_of(await portal.emit(portal.code_issued()))
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "not_configured"
    assert "NOTIFICATIONS_SMS_PROVIDER=smsapi" in outcome.data["error"]


@pytest.mark.parametrize("dev_mode", [True, False])
async def test_the_dev_outbox_route_exists_only_in_dev_mode(start_portal: StartPortal, dev_mode: bool) -> None:
    portal = await start_portal(dev_mode=dev_mode)
    response = await portal.http.get("/api/notifications/dev/outbox")
    paths = (await portal.http.get("/api/notifications/openapi.json")).json()["paths"]
    if dev_mode:
        assert response.status_code == 200
        assert response.json() == []
        assert "/dev/outbox" in paths
    else:
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert not any(path.startswith("/dev") for path in paths)
    assert "/backoffice/notifications" in paths


async def test_the_back_office_sees_the_outcomes_with_masked_recipients(portal: Harness) -> None:
    sent = await portal.emit(portal.code_issued())
    failed = await portal.emit(portal.code_issued(key=PrivateKey.generate().public_key))
    await portal.outcome_of(sent)
    await portal.outcome_of(failed)

    async def listed(**params: str) -> list[dict[str, Any]]:
        response = await portal.http.get(
            "/api/notifications/backoffice/notifications", params=params, headers=portal.backoffice
        )
        assert response.status_code == 200
        docs: list[dict[str, Any]] = response.json()
        return docs

    await eventually(lambda: _count(listed(), 2), what="both outcomes in the audit trail")
    (delivered,) = await listed(status="sent")
    assert delivered["cause_event_id"] == str(sent.event_id)
    assert delivered["recipient"] == "+48******567"
    assert delivered["client_id"] == "CL-1001"
    (refused,) = await listed(status="failed")
    assert refused["reason"] == "cannot_unseal"
    assert (await listed(cause_event_id=str(failed.event_id)))[0]["status"] == "failed"
    unauthenticated = await portal.http.get("/api/notifications/backoffice/notifications")
    assert unauthenticated.status_code == 401


async def _count(docs: Any, expected: int) -> bool:
    return len(await docs) == expected


async def test_a_trigger_that_asks_for_nothing_records_nothing(start_portal: StartPortal) -> None:
    """A handler may decide an event needs no message (say, an invoice of a client without e-mail)."""
    portal = await start_portal(run_consumers=False)  # only the reactor below reacts
    quiet = Triggers()

    @quiet.on(SubAccountCreated, source="identity")
    async def nothing(event: SubAccountCreated, recorded: RecordedEvent, context: TriggerContext) -> Outgoing | None:
        return None

    deliveries = Deliveries(
        triggers=quiet,
        templates=Templates(BRAND),
        senders={"sms": Unconfigured("unused"), "email": Unconfigured("unused")},
        commands=portal.runtime.commands,
        opener=Opener(PrivateKey.generate(), portal.runtime.documents),
        clock=portal.runtime.clock,
        retry=RetryPolicy(),
    )
    assert deliveries.reactor().sources == ("identity",)
    assert deliveries.reactor().handles == {"SubAccountCreated"}
    event = portal.subaccount_created()
    await deliveries.react(event, await portal.emit(event))
    assert await portal.outcomes() == []
