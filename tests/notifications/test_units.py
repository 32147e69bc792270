"""The pure parts: masking, the notification aggregate, templates and deadlines, settings, provider choice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from nacl.public import PrivateKey

from libs.events.docstore import Document, DocumentStore
from libs.events.envelope import DomainEvent, utc_now
from libs.events.projection import Projection
from libs.events.schemas.identity import AccountProvisioned
from libs.events.schemas.notifications import NotificationFailed, NotificationSent, notification_id_for
from libs.events.schemas.profile import EInvoiceConsentGiven, EInvoiceConsentWithdrawn, EInvoiceEmailChanged
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
from services.notifications.projections import accounts, einvoice_addresses
from services.notifications.service import email_sender, sms_sender
from services.notifications.settings import NotificationsSettings
from services.notifications.templates import CATALOGUE, Deadline, TemplateError, Templates, day, deadline, money
from services.notifications.triggers import triggers
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


EVERY_PARAM = {
    "code": "123456",
    "link": "https://example.pl/a?t=1",
    "valid_until": "2030-07-01T22:00:00+00:00",
    "status_label": "Zrealizowany",
    "amount": "1234.56",
    "currency": "PLN",
    "at": "2030-07-01T22:00:00+00:00",
    "number": "FV/2030/07/0001",
    "due_date": "2030-07-15",
}


def test_every_template_renders_in_both_languages() -> None:
    for template, spec in CATALOGUE.items():
        for locale in ("pl", "en"):
            request = NotificationRequest.model_validate(
                {"channel": spec.channel, "to": "x", "template": template, "locale": locale, "params": EVERY_PARAM}
            )
            rendered = Templates(BRAND).render(request)
            assert rendered.text.strip()
            if spec.channel == "email":
                assert rendered.subject
                assert "\n" not in rendered.subject
                assert rendered.html
                assert f'lang="{locale}"' in rendered.html
                assert "32 745 64 56" in rendered.text
                assert "dok@aliorleasing.pl" in rendered.text
                assert ("logowaniem" in rendered.text or "logging in" in rendered.text) == (spec.footer == "login")


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1234.56", "PLN", "1 234,56 zł"),
        ("0.5", "PLN", "0,50 zł"),
        ("999", "PLN", "999,00 zł"),
        ("1000000", "PLN", "1 000 000,00 zł"),
        ("-1234.5", "PLN", "-1 234,50 zł"),
        (Decimal("12345.67"), "EUR", "12 345,67 EUR"),
    ],
)
def test_amounts_read_as_in_the_client_zone_with_non_breaking_spaces(
    amount: str | Decimal, currency: str, shown: str
) -> None:
    assert money(amount, currency) == shown.replace(" ", "\u00a0")


def test_dates_read_dd_mm_yyyy_and_moments_on_their_warsaw_day() -> None:
    assert day("2030-03-28") == "28.03.2030"
    assert day(date(2030, 3, 28)) == "28.03.2030"
    assert day("2030-03-14T23:30:00+00:00") == "15.03.2030"
    assert day(datetime(2030, 7, 31, 21, 59, tzinfo=UTC)) == "31.07.2030"
    with pytest.raises(TemplateError, match="not ISO 8601"):
        day("28.03.2030")
    with pytest.raises(TemplateError, match="not a decimal number"):
        money("dużo")


def test_a_subject_keeps_the_non_breaking_spaces_of_its_amount() -> None:
    request = NotificationRequest(
        channel="email", to="a@firma.pl", template="payment_accepted", params=EVERY_PARAM | {"amount": "1234567.8"}
    )
    subject = Templates(BRAND).render(request).subject
    assert subject == "Potwierdzenie płatności 1\u00a0234\u00a0567,80\u00a0zł – Strefa Klienta Alior Leasing"


def _folded(projection: Projection, *events: DomainEvent) -> Document | None:
    doc: Document | None = None
    for event in events:
        doc = projection.fold(doc, event, None)  # type: ignore[arg-type]  # the folds do not read the envelope
    return doc


def test_the_einvoice_address_is_the_latest_confirmed_one_while_the_consent_stands() -> None:
    def given(email: str) -> EInvoiceConsentGiven:
        return EInvoiceConsentGiven(client_id="CL-1", email=email, given_by="account:a", given_at=utc_now())

    def changed(email: str) -> EInvoiceEmailChanged:
        at = utc_now()
        return EInvoiceEmailChanged(
            client_id="CL-1",
            email=email,
            previous_email="a@firma.pl",
            requested_by="account:a",
            requested_at=at,
            changed_at=at,
            confirmation_id="c",
        )

    withdrawn = EInvoiceConsentWithdrawn(client_id="CL-1", email="b@firma.pl", withdrawn_by="a", withdrawn_at=utc_now())
    assert _folded(einvoice_addresses, given("a@firma.pl")) == {
        "client_id": "CL-1",
        "consent": True,
        "email": "a@firma.pl",
    }
    assert _folded(einvoice_addresses, given("a@firma.pl"), changed("b@firma.pl")) == {
        "client_id": "CL-1",
        "consent": True,
        "email": "b@firma.pl",
    }
    assert _folded(einvoice_addresses, given("a@firma.pl"), changed("b@firma.pl"), withdrawn) == {
        "client_id": "CL-1",
        "consent": False,
        "email": None,
    }
    assert _folded(einvoice_addresses, given("a@firma.pl"), withdrawn, given("c@firma.pl")) == {
        "client_id": "CL-1",
        "consent": True,
        "email": "c@firma.pl",
    }
    account = AccountProvisioned(
        account_id="acc-1", email="jan@firma.pl", phone="+48601234567", first_name="Jan", last_name="K", source="x"
    )
    assert _folded(accounts, account) == {
        "account_id": "acc-1",
        "email": "jan@firma.pl",
        "phone": "+48601234567",
        "first_name": "Jan",
    }


def test_the_triggers_follow_four_services_and_skip_history_beyond_identity() -> None:
    assert triggers.sources == ("billing", "identity", "payments", "profile")
    skipping = {name for name, trigger in triggers.by_type.items() if trigger.skip_history}
    assert skipping == {
        "PaymentAccepted",
        "PaymentFailed",
        "EInvoiceConfirmationRequested",
        "RequestStatusChanged",
        "InvoiceIssued",
    }
    for name, trigger in triggers.by_type.items():
        assert trigger.skip_history or trigger.source == "identity", name


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
