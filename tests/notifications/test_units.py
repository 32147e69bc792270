"""The pure parts: masking, the notification aggregate, templates and deadlines, settings, provider choice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from nacl.public import PrivateKey

from libs.events.docstore import DocumentStore
from libs.events.envelope import utc_now
from libs.events.schemas.notifications import NotificationFailed, NotificationSent, notification_id_for
from libs.events.sealed import CannotUnseal, NotificationRequest, seal_notification
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.warsaw import midnight_after
from services.notifications.adapters.outbox import OutboxSender
from services.notifications.adapters.smsapi import SmsApiSender
from services.notifications.adapters.smtp import SmtpSender
from services.notifications.delivery import Opener
from services.notifications.domain import (
    Notification,
    RecordOutcome,
    decide,
    evolve,
    mask_email,
    mask_phone,
    redact,
)
from services.notifications.ports import Unconfigured
from services.notifications.service import email_sender, sms_sender
from services.notifications.settings import NotificationsSettings
from services.notifications.templates import Deadline, TemplateError, Templates, deadline
from tests.notifications.conftest import BRAND


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+48601234567", "+48******567"), ("+4930123456789", "+49********789"), ("601234567", "******567")],
)
def test_phone_numbers_are_masked(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [("jan.kowalski@firma.pl", "j***@firma.pl"), ("j@firma.pl", "j***@firma.pl"), ("not-an-address", "***")],
)
def test_email_addresses_are_masked(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_redact_masks_the_recipient_and_hides_parameter_values() -> None:
    text = "550 <jan@firma.pl> rejected message with code 739214 (ok)"
    assert redact(text, "jan@firma.pl", ["739214", "ok"], "email") == (
        "550 <j***@firma.pl> rejected message with code [redacted] (ok)"
    )
    assert redact("invalid number 48601234567", "+48601234567", []) == "invalid number +48******567"


def _sent() -> NotificationSent:
    cause = uuid4()
    return NotificationSent(
        notification_id=notification_id_for(cause),
        cause_event_id=cause,
        cause_event_type="ActivationCodeIssued",
        channel="sms",
        template="activation_code",
        locale="pl",
        recipient="+48******567",
        provider="outbox",
        attempts=1,
        sent_at=utc_now(),
    )


def test_a_notification_records_one_outcome_and_then_nothing() -> None:
    sent = _sent()
    assert decide(Notification(), RecordOutcome(sent)) == [sent]
    settled = evolve(Notification(), sent)
    assert settled.outcome == "sent"
    failed = NotificationFailed(
        notification_id=sent.notification_id,
        cause_event_id=sent.cause_event_id,
        cause_event_type=sent.cause_event_type,
        reason="retries_exhausted",
        error="down",
        attempts=4,
        failed_at=utc_now(),
    )
    assert decide(settled, RecordOutcome(failed)) == []
    assert decide(evolve(Notification(), failed), RecordOutcome(sent)) == []


def test_one_cause_has_one_notification_id() -> None:
    cause = uuid4()
    assert notification_id_for(cause) == notification_id_for(cause)
    assert notification_id_for(cause) != notification_id_for(uuid4())


@pytest.mark.parametrize(
    ("issued", "days", "date"),
    [
        (datetime(2030, 3, 14, 9, 30, tzinfo=UTC), 0, "14.03.2030"),
        (datetime(2030, 3, 14, 23, 30, tzinfo=UTC), 0, "15.03.2030"),  # 00:30 on the 15th in Warsaw
        (datetime(2030, 3, 30, 12, 0, tzinfo=UTC), 1, "31.03.2030"),  # the night clocks go forward
        (datetime(2030, 10, 26, 12, 0, tzinfo=UTC), 1, "27.10.2030"),  # the night clocks go back
    ],
)
def test_a_midnight_deadline_reads_as_2359_of_the_last_valid_day_in_warsaw(
    issued: datetime, days: int, date: str
) -> None:
    assert deadline(midnight_after(issued, days)) == Deadline(at_midnight=True, date=date, time="23:59")


def test_a_deadline_other_than_midnight_reads_as_its_warsaw_time() -> None:
    found = deadline(datetime(2030, 7, 1, 13, 30, tzinfo=UTC))
    assert (found.at_midnight, found.date, found.time) == (False, "01.07.2030", "15:30")
    request = NotificationRequest(
        channel="sms",
        to="+48601234567",
        template="activation_code",
        params={"code": "123456", "valid_until": "2030-07-01T13:30:00+00:00"},
    )
    assert "Kod jest ważny do godz. 15:30 dnia 01.07.2030." in Templates(BRAND).render(request).text


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"template": "welcome"}, "unknown template 'welcome'"),
        ({"channel": "email"}, "is for sms, not email"),
        ({"params": {"code": " "}}, "needs the parameters ['code']"),
        ({"params": {"code": "1", "valid_until": "jutro"}}, "not an ISO 8601 moment"),
        ({"params": {"code": "1", "valid_until": "2030-07-01T13:30:00"}}, "has no time zone"),
    ],
)
def test_a_request_templates_cannot_serve_is_a_template_error(changes: dict[str, object], error: str) -> None:
    request = NotificationRequest.model_validate(
        {"channel": "sms", "to": "+48601234567", "template": "activation_code", "params": {"code": "1"}} | changes
    )
    with pytest.raises(TemplateError, match=error.replace("[", r"\[").replace("(", r"\(")):
        Templates(BRAND).render(request)


def test_links_must_be_http_urls() -> None:
    request = NotificationRequest(
        channel="email", to="a@firma.pl", template="activation_link", params={"link": "javascript:alert(1)"}
    )
    with pytest.raises(TemplateError, match="'link' is not an http"):
        Templates(BRAND).render(request)


def test_every_template_renders_in_both_languages() -> None:
    params = {"code": "123456", "link": "https://example.pl/a?t=1", "valid_until": "2030-07-01T22:00:00+00:00"}
    for template, channel in (
        ("activation_code", "sms"),
        ("activation_link", "email"),
        ("subaccount_invitation", "email"),
    ):
        for locale in ("pl", "en"):
            request = NotificationRequest.model_validate(
                {"channel": channel, "to": "x", "template": template, "locale": locale, "params": params}
            )
            rendered = Templates(BRAND).render(request)
            assert rendered.text.strip()
            if channel == "email":
                assert rendered.subject
                assert "\n" not in rendered.subject
                assert rendered.html
                assert f'lang="{locale}"' in rendered.html
                assert "32 745 64 56" in rendered.text
                assert "dok@aliorleasing.pl" in rendered.text


def test_settings_come_from_notifications_variables_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATIONS_SMTP_HOST", "smtp.aliorleasing.pl")
    monkeypatch.setenv("NOTIFICATIONS_SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("NOTIFICATIONS_SMS_PROVIDER", "smsapi")
    monkeypatch.setenv("NOTIFICATIONS_SMSAPI_TOKEN", "hunter2-sms")
    monkeypatch.setenv("NOTIFICATIONS_SEND_ATTEMPTS", "6")
    settings = NotificationsSettings()
    assert (settings.smtp_host, settings.sms_provider, settings.send_attempts) == ("smtp.aliorleasing.pl", "smsapi", 6)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2-smtp"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


async def test_providers_follow_the_settings(tmp_path: Path) -> None:
    documents: DocumentStore = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    try:
        dev = NotificationsSettings(dev_mode=True)
        assert isinstance(email_sender(dev, documents, utc_now), OutboxSender)
        assert isinstance(sms_sender(dev, documents, utc_now), OutboxSender)
        smtp = dev.model_copy(update={"smtp_host": "smtp.example.pl"})
        assert isinstance(email_sender(smtp, documents, utc_now), SmtpSender)
        production = NotificationsSettings(dev_mode=False)
        assert isinstance(email_sender(production, documents, utc_now), Unconfigured)
        assert isinstance(sms_sender(production, documents, utc_now), Unconfigured)
        smsapi = production.model_copy(update={"sms_provider": "smsapi"})
        assert isinstance(sms_sender(smsapi, documents, utc_now), Unconfigured)  # no token
        assert isinstance(
            sms_sender(NotificationsSettings(sms_provider="smsapi", smsapi_token="t"), documents, utc_now),
            SmsApiSender,
        )
    finally:
        await documents.close()


@pytest.mark.parametrize("ciphertext", ["not base64 at all!", "AAAA", ""])
def test_a_damaged_sealed_message_cannot_be_unsealed(ciphertext: str) -> None:
    key = PrivateKey.generate()
    sealed = seal_notification(
        NotificationRequest(channel="sms", to="+48601234567", template="activation_code"), key.public_key
    )
    opener = Opener(key, documents=None)  # type: ignore[arg-type]  # triggers of identity read no documents
    assert opener.unseal(sealed).to == "+48601234567"
    with pytest.raises(CannotUnseal):
        opener.unseal(sealed.model_copy(update={"ciphertext": ciphertext}))
    with pytest.raises(CannotUnseal, match="not ours"):
        Opener(PrivateKey.generate(), documents=None).unseal(sealed)  # type: ignore[arg-type]
