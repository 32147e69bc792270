"""Changing the login e-mail or the phone, notifications' side: the confirmation link to the new address,
the code by SMS to the new number, the notice (the new value masked) to the current address, and
payment e-mails to the new address once the change is confirmed.

Most tests append identity's events to its store as identity records them (services/identity/contact.py
seals the messages); the last ones run the whole portal and go through identity's own API.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from libs.events.jsonutil import dumps
from libs.events.schemas.identity import (
    ContactChangeNoticeIssued,
    LoginEmailChanged,
    LoginEmailChangeRequested,
    PhoneChanged,
    PhoneChangeRequested,
)
from libs.events.sealed import NotificationRequest, SealedMessage, seal_notification
from libs.events.warsaw import WARSAW, midnight_after
from services.notifications.projections import ACCOUNTS
from tests.helpers import eventually
from tests.identity.conftest import PASSWORD, Zone, bearer, new_email
from tests.identity.conftest import zone as zone  # the fixture: the whole portal, identity's API included
from tests.notifications.conftest import ISSUED_AT, PAYER, Harness, Locale, StartPortal

CURRENT_EMAIL = "zofia.zolkiewska@nowak.pl"
NEW_EMAIL = "zofia.nowa@transbud.pl"
NEW_PHONE = "+48602345789"
TOKEN = "5b0e7f3c-1d2a-4e6b-9c8d-7f6e5d4c3b2a.v8Jx3pLm7RtZ4wYc9NbF3hJs6GdUe1AqKx8vQ2pLm7RtZ4w"
LINK = f"https://strefaklienta.aliorleasing.pl/potwierdz-email#token={TOKEN}"
CODE = "482913"
LINK_EXPIRES = midnight_after(ISSUED_AT, 1)
CODE_EXPIRES = midnight_after(ISSUED_AT)


def _seal(portal: Harness, request: NotificationRequest) -> SealedMessage:
    return seal_notification(request, portal.public_key)


def email_change(
    portal: Harness, new: str = NEW_EMAIL, locale: Locale = "pl"
) -> tuple[LoginEmailChangeRequested, ContactChangeNoticeIssued]:
    """As identity records a request to log in with `new`: the link to it, the notice to the current address."""
    params = {"first_name": "Zofia", "valid_until": LINK_EXPIRES.astimezone(WARSAW).isoformat()}
    link = NotificationRequest(
        channel="email",
        to=new,
        template="login_email_confirmation",
        locale=locale,
        params={**params, "link": LINK, "new_email": new},
    )
    notice = NotificationRequest(
        channel="email",
        to=CURRENT_EMAIL,
        template="contact_change_notice",
        locale=locale,
        params={**params, "change": "login_email", "new_value": new},
    )
    return (
        LoginEmailChangeRequested(
            account_id="acc-1",
            new_email=new,
            token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
            expires_at=LINK_EXPIRES,
            requested_in_session="sess-1",
            notification=_seal(portal, link),
        ),
        ContactChangeNoticeIssued(account_id="acc-1", change="login_email", notification=_seal(portal, notice)),
    )


def phone_change(
    portal: Harness, new: str = NEW_PHONE, locale: Locale = "pl", change: str = "phone"
) -> tuple[PhoneChangeRequested, ContactChangeNoticeIssued]:
    """As identity records a request to receive the codes on `new`: the code to it, the notice by e-mail."""
    sms = NotificationRequest(
        channel="sms",
        to=new,
        template="phone_change_code",
        locale=locale,
        params={"code": CODE, "valid_until": CODE_EXPIRES.astimezone(WARSAW).isoformat()},
    )
    notice = NotificationRequest(
        channel="email",
        to=CURRENT_EMAIL,
        template="contact_change_notice",
        locale=locale,
        params={"first_name": "Zofia", "change": change, "new_value": new},
    )
    return (
        PhoneChangeRequested(
            account_id="acc-1",
            new_phone=new,
            code_hash=hashlib.sha256(CODE.encode()).hexdigest(),
            expires_at=CODE_EXPIRES,
            notification=_seal(portal, sms),
        ),
        ContactChangeNoticeIssued(account_id="acc-1", change=change, notification=_seal(portal, notice)),
    )


async def _only(portal: Harness, to: str) -> dict[str, Any]:
    (entry,) = await portal.outbox(to=to)
    return entry


async def test_the_confirmation_link_goes_to_the_new_address_and_the_notice_to_the_current_one(
    portal: Harness,
) -> None:
    requested, notice = email_change(portal, new="Zofia.Nowa@Transbud.pl")
    causes = [await portal.emit(requested), await portal.emit(notice)]

    outcomes = [await portal.outcome_of(cause) for cause in causes]
    assert [(o.type, o.data["template"], o.data["recipient"]) for o in outcomes] == [
        ("NotificationSent", "login_email_confirmation", "Z***@Transbud.pl"),
        ("NotificationSent", "contact_change_notice", "z***@nowak.pl"),
    ]
    mail = await _only(portal, NEW_EMAIL)
    assert mail["template"] == "login_email_confirmation"
    assert mail["subject"] == "Potwierdź nowy adres e-mail do logowania – Strefa Klienta Alior Leasing"
    text = mail["text"]
    assert text.startswith("Dzień dobry Zofia,\n\notrzymaliśmy prośbę o zmianę adresu e-mail, którym logujesz się")
    assert "na ten adres (Zofia.Nowa@Transbud.pl)" in text
    assert f"\n\n{LINK}\n\n" in text
    assert "link jest ważny do północy dnia następnego po dniu wygenerowania wiadomości (do 23:59 dnia 15.03.2030)" in (
        text
    )
    assert "W razie problemów z logowaniem skontaktuj się z Działem Obsługi Klienta" in text
    assert f'href="{LINK}"' in mail["html"]

    info = await _only(portal, CURRENT_EMAIL)
    assert info["template"] == "contact_change_notice"
    assert info["subject"] == "Prośba o zmianę adresu e-mail do logowania – Strefa Klienta Alior Leasing"
    assert "na adres Z***@Transbud.pl (ze względów bezpieczeństwa podajemy tylko jego fragment)" in info["text"]
    assert "link jest ważny do godz. 23:59 dnia 15.03.2030" in info["text"]
    assert "Jeśli to nie Ty, niezwłocznie skontaktuj się z Alior Leasing: telefonicznie (32 745 64 56)" in info["text"]
    for part in (info["subject"], info["text"], info["html"]):
        assert "nowa@transbud" not in part.lower()  # the whole new address never reaches the old mailbox
        assert TOKEN not in part
    assert len(await portal.outbox()) == 2


async def test_the_code_goes_by_sms_to_the_new_number_and_the_notice_shows_it_only_in_part(portal: Harness) -> None:
    requested, notice = phone_change(portal)
    causes = [await portal.emit(requested), await portal.emit(notice)]

    outcomes = [await portal.outcome_of(cause) for cause in causes]
    assert [(o.data["channel"], o.data["recipient"]) for o in outcomes] == [
        ("sms", "+48******789"),
        ("email", "z***@nowak.pl"),
    ]
    sms = await _only(portal, NEW_PHONE)
    assert sms["template"] == "phone_change_code"
    assert sms["text"] == (
        f"Strefa Klienta: kod potwierdzający zmianę numeru telefonu to {CODE}. "
        "Kod jest ważny do północy (do 23:59 dnia 14.03.2030). Nie przekazuj go nikomu."
    )
    info = await _only(portal, CURRENT_EMAIL)
    assert info["subject"] == "Prośba o zmianę numeru telefonu – Strefa Klienta Alior Leasing"
    assert "na numer +48******789 (ze względów bezpieczeństwa podajemy tylko jego fragment)" in info["text"]
    assert "Zmiana nastąpi dopiero po wpisaniu kodu, który wysłaliśmy SMS-em na nowy numer." in info["text"]
    for part in (info["text"], info["html"]):
        assert "602345789" not in part
        assert CODE not in part


async def test_the_messages_speak_english_when_the_locale_is_en(portal: Harness) -> None:
    requested, notice = phone_change(portal, locale="en")
    for event in (requested, notice):
        await portal.outcome_of(await portal.emit(event))
    sms = await _only(portal, NEW_PHONE)
    assert sms["text"] == (
        f"Strefa Klienta: the code confirming your new phone number is {CODE}. "
        "It is valid until midnight (until 23:59 on 14.03.2030). Do not share it with anyone."
    )
    info = await _only(portal, CURRENT_EMAIL)
    assert info["subject"] == "A request to change your phone number – Strefa Klienta Alior Leasing"
    assert "to +48******789 (for your security we show only part of it)" in info["text"]
    assert "If it was not you, contact Alior Leasing at once" in info["text"]


async def test_a_notice_of_a_kind_of_change_it_does_not_know_names_no_value(portal: Harness) -> None:
    _, notice = phone_change(portal, change="postal_address")
    await portal.outcome_of(await portal.emit(notice))
    info = await _only(portal, CURRENT_EMAIL)
    assert info["subject"] == "Prośba o zmianę danych kontaktowych – Strefa Klienta Alior Leasing"
    assert "602345789" not in info["text"]
    assert "Jeśli to nie Ty" in info["text"]


async def test_a_link_or_code_expired_before_it_could_be_sent_is_recorded_as_failed_and_not_sent(
    portal: Harness,
) -> None:
    portal.runtime.clock = lambda: LINK_EXPIRES  # past both deadlines
    link, email_notice = email_change(portal)
    code, _ = phone_change(portal)
    expired = [await portal.emit(link), await portal.emit(code)]
    notice = await portal.emit(email_notice)

    for cause in expired:
        outcome = await portal.outcome_of(cause)
        assert (outcome.type, outcome.data["reason"], outcome.data["attempts"]) == ("NotificationFailed", "expired", 0)
    assert (await portal.outcome_of(notice)).type == "NotificationSent"  # information: it has no deadline
    assert [entry["template"] for entry in await portal.outbox()] == ["contact_change_notice"]


async def test_the_link_and_the_code_stay_out_of_every_event_store_read_model_and_log(
    start_portal: StartPortal, captured_logs: Callable[[], str]
) -> None:
    portal = await start_portal()
    await portal.emit(portal.account_provisioned("acc-1", CURRENT_EMAIL, "Zofia"), account_id="acc-1")
    causes = [*email_change(portal), *phone_change(portal)]
    for event in causes:
        await portal.outcome_of(await portal.emit(event))
    await portal.emit(LoginEmailChanged(account_id="acc-1", old_email=CURRENT_EMAIL, new_email=NEW_EMAIL))
    await portal.idle()

    secret = re.compile(rf"{re.escape(TOKEN.split('.')[1])}|(?<![A-Za-z0-9_\-]){CODE}(?![A-Za-z0-9_\-])")
    outbox = dumps(await portal.outbox()).decode()
    assert secret.search(outbox)  # delivered, so the search below can see them where they are
    for service in ("identity", "notifications"):
        events = await portal.portal.platform.event_stores[service].read_all()
        assert events
        assert not secret.search(dumps([event.model_dump(mode="json") for event in events]).decode()), service
    documents = portal.portal.platform.document_stores["notifications"]
    async with documents.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
        tables = [row[0] for row in await cursor.fetchall()]
    assert "rm_accounts" in tables
    for table in tables:
        if table == "rm_dev_outbox":  # the mailbox itself
            continue
        async with documents.db.execute(f'SELECT doc FROM "{table}"') as cursor:  # noqa: S608
            for (doc,) in await cursor.fetchall():
                assert not secret.search(bytes(doc).decode()), table
    logs = captured_logs()
    assert "notification_sent" in logs
    assert not secret.search(logs)


async def test_once_confirmed_payment_emails_go_to_the_new_address(portal: Harness) -> None:
    old = "anna.kowalczyk@transbud.pl"
    await portal.emit(portal.account_provisioned(PAYER, old), account_id=PAYER)
    before = await portal.pay(portal.payment("accepted", payment_id="pay-1"))
    assert (await portal.outcome_of(before)).data["recipient"] == "a***@transbud.pl"

    await portal.emit(LoginEmailChanged(account_id=PAYER, old_email=old, new_email="anna@kowalczyk.pl"), PAYER)
    await portal.emit(PhoneChanged(account_id=PAYER, old_phone="+48601234567", new_phone=NEW_PHONE), PAYER)

    async def change_reached_notifications() -> bool:  # the change is confirmed before the next payment
        account = await portal.runtime.documents.get(ACCOUNTS, PAYER)
        return account is not None and account["phone"] == NEW_PHONE

    await eventually(change_reached_notifications, what="the contact change in notifications' accounts")
    after = await portal.pay(portal.payment("failed", payment_id="pay-2"))
    assert (await portal.outcome_of(after)).data["recipient"] == "a***@kowalczyk.pl"

    sent = [(entry["to"], entry["template"]) for entry in await portal.outbox()]
    assert sorted(sent) == [("anna.kowalczyk@transbud.pl", "payment_accepted"), ("anna@kowalczyk.pl", "payment_failed")]
    account = await portal.runtime.documents.get(ACCOUNTS, PAYER)
    assert account is not None
    assert (account["email"], account["phone"], account["first_name"]) == ("anna@kowalczyk.pl", NEW_PHONE, "Anna")


# The whole portal: identity's API seals, notifications delivers, and what arrives works.


async def _arrived(zone: Zone, to: str, template: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def delivered() -> bool:
        response = await zone.http.get("/api/notifications/dev/outbox", params={"to": to})
        assert response.status_code == 200, response.text
        found[:] = [entry for entry in response.json() if entry["template"] == template]
        return bool(found)

    await eventually(delivered, what=f"{template} in the outbox of {to}")
    return found[0]


async def test_the_link_that_reaches_the_new_address_changes_the_login_email(zone: Zone) -> None:
    old, new = new_email("stary"), new_email("nowy")
    me = await zone.active_user(old)
    body = {"new_email": new, "current_password": PASSWORD}
    response = await zone.http.post("/api/identity/contact/email", json=body, headers=bearer(me["access_token"]))
    assert response.status_code == 202, response.text

    notice = await _arrived(zone, old, "contact_change_notice")
    assert new not in notice["text"]
    assert "n***@firma.pl" in notice["text"]
    mail = await _arrived(zone, new, "login_email_confirmation")
    (link,) = re.findall(r"https?://\S+token=\S+", mail["text"])
    assert urlparse(link).query == ""  # the token is in the fragment: no server ever gets it
    token = parse_qs(urlparse(link).fragment)["token"][0]
    response = await zone.http.post("/api/identity/contact/email/confirm", json={"token": token})
    assert response.status_code == 200, response.text
    assert (await zone.login(new)).status_code == 200
    assert (await zone.login(old)).status_code == 401


async def test_the_code_that_reaches_the_new_number_changes_the_phone(zone: Zone) -> None:
    email = new_email()
    me = await zone.active_user(email)
    headers = bearer(me["access_token"])
    body = {"new_phone": "602 345 789", "current_password": PASSWORD}
    assert (await zone.http.post("/api/identity/contact/phone", json=body, headers=headers)).status_code == 202

    notice = await _arrived(zone, email, "contact_change_notice")
    assert "+48******789" in notice["text"]
    sms = await _arrived(zone, NEW_PHONE, "phone_change_code")
    (code,) = re.findall(r"\b\d{6}\b", sms["text"])
    response = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": code}, headers=headers)
    assert response.status_code == 200, response.text
    (changed,) = await zone.account_events(email, "PhoneChanged")
    assert changed.data["new_phone"] == NEW_PHONE
