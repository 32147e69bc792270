"""The triggers beyond identity, end to end: payments', profile's and billing's events in, e-mails out.

Each test appends the causing events to the service's own store (sealed where that service seals),
as payments, profile and billing would, and reads what notifications sent from the dev outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from libs.events.envelope import RecordedEvent, utc_now
from libs.events.projection import ConsumerRunner, ReactorRunner
from tests.helpers import eventually
from tests.notifications.conftest import (
    CLIENT,
    INVOICES_URL,
    Harness,
    SmtpServer,
    StartPortal,
)

NBSP = "\u00a0"
PAYER_EMAIL = "anna.kowalczyk@transbud.pl"
TOKEN = "Q1wtMTAwMQ.v8Jx3pLm7RtZ4wYc9NbF3hJs6GdUe1AqKx8vQ2pLm7R"
LINK = f"https://strefaklienta.aliorleasing.pl/profil/e-faktura/potwierdzenie#token={TOKEN}"


def zl(text: str) -> str:
    """An amount as the e-mails write it: "1 234,56 zł" with non-breaking spaces."""
    return text.replace(" ", NBSP)


async def _mail(portal: Harness, to: str, template: str) -> dict[str, Any]:
    (mail,) = [entry for entry in await portal.outbox(to=to) if entry["template"] == template]
    return mail


# payments


async def test_an_accepted_payment_is_confirmed_by_email_to_the_person_who_paid(portal: Harness) -> None:
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    await portal.emit(
        portal.account_provisioned("acc-8", "jan.kowalczyk@transbud.pl", first_name="Jan"), account_id="acc-8"
    )
    cause = await portal.pay(portal.payment("accepted"))

    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationSent"
    assert outcome.data["template"] == "payment_accepted"
    assert outcome.data["recipient"] == "a***@transbud.pl"
    assert outcome.causation_id == cause.event_id
    mail = await _mail(portal, PAYER_EMAIL, "payment_accepted")
    assert mail["subject"] == f"Potwierdzenie płatności {zl('2 469,12 zł')} – Strefa Klienta Alior Leasing"
    text = mail["text"]
    assert text.startswith("Dzień dobry Anna,\n\ndziękujemy za płatność online w Strefie Klienta Alior Leasing.")
    assert f"Operator płatności potwierdził wpłatę {zl('2 469,12 zł')} w dniu 15.03.2030." in text  # Warsaw's day
    assert (
        f"Opłacone faktury:\n- FV/2030/03/0001: {zl('1 234,56 zł')}\n- FV/2030/03/0002: {zl('1 234,56 zł')}\n" in text
    )
    assert INVOICES_URL in text
    assert "W razie pytań skontaktuj się z Działem Obsługi Klienta" in text
    assert "FV/2030/03/0002" in mail["html"]
    assert f'href="{INVOICES_URL}"' in mail["html"]
    assert await portal.outbox(to="jan.kowalczyk@transbud.pl") == []  # only the payer hears of it


async def test_a_failed_payment_is_reported_to_the_person_who_paid(portal: Harness) -> None:
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    cause = await portal.pay(portal.payment("failed", invoices=(("FV/2030/03/0007", "99.5"),)))

    assert (await portal.outcome_of(cause)).data["template"] == "payment_failed"
    mail = await _mail(portal, PAYER_EMAIL, "payment_failed")
    assert mail["subject"] == f"Płatność {zl('99,50 zł')} nie została zrealizowana – Strefa Klienta Alior Leasing"
    assert f"Te faktury pozostają do zapłaty:\n- FV/2030/03/0007: {zl('99,50 zł')}\n" in mail["text"]
    assert f"Płatność możesz ponowić w Strefie Klienta:\n\n{INVOICES_URL}" in mail["text"]


async def test_a_payment_by_an_account_notifications_never_saw_is_recorded_as_failed(portal: Harness) -> None:
    cause = await portal.pay(portal.payment(started_by="acc-unknown"))

    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationFailed"
    assert outcome.data["reason"] == "recipient_unknown"
    assert (outcome.data["channel"], outcome.data["template"], outcome.data["recipient"]) == (
        "email",
        "payment_accepted",
        None,
    )
    assert "acc-unknown" in outcome.data["error"]
    assert outcome.data["attempts"] == 0
    assert await portal.outbox() == []
    assert (await portal.runtime.runner("deliveries").current_status()).dead_letters == 0


# profile


async def test_the_einvoice_confirmation_link_is_mailed_to_the_address_to_confirm(portal: Harness) -> None:
    cause = await portal.profile(portal.confirmation_requested(LINK, email="Faktury@Transbud.pl"))

    outcome = await portal.outcome_of(cause)
    assert outcome.type == "NotificationSent"
    assert outcome.data["template"] == "einvoice_email_confirmation"
    assert outcome.data["recipient"] == "F***@Transbud.pl"
    mail = await _mail(portal, "faktury@transbud.pl", "einvoice_email_confirmation")
    assert mail["subject"] == "Potwierdź adres e-mail do e-faktur – Strefa Klienta Alior Leasing"
    text = mail["text"]
    assert "otrzymaliśmy prośbę o włączenie e-faktury dla firmy Transbud Sp. z o.o." in text
    assert f"\n\n{LINK}\n\n" in text
    # The deadline comes from the event's expires_at (midnight ending the 15th, Warsaw).
    assert "link jest ważny do północy dnia następnego po dniu wygenerowania wiadomości (do 23:59 dnia 15.03.2030)" in (
        text
    )
    assert f'href="{LINK}"' in mail["html"]


async def test_a_confirmation_for_a_new_address_says_so_in_english_too(portal: Harness) -> None:
    event = portal.confirmation_requested(LINK, purpose="email_change", locale="en")
    await portal.outcome_of(await portal.profile(event))
    mail = await _mail(portal, "faktury@transbud.pl", "einvoice_email_confirmation")
    assert mail["subject"] == "Confirm your e-invoice address – Strefa Klienta Alior Leasing"
    assert "a request to send the e-invoices of Transbud Sp. z o.o. to this e-mail address from now on" in mail["text"]
    assert "(until 23:59 on 15.03.2030)" in mail["text"]


async def test_a_request_status_change_is_mailed_to_the_person_who_filed_it(portal: Harness) -> None:
    await portal.profile(portal.status_changed("in_progress", email=None))  # profile knows no address
    cause = await portal.profile(portal.status_changed("rejected"))

    outcome = await portal.outcome_of(cause)
    assert outcome.data["template"] == "request_status_changed"
    mail = await _mail(portal, PAYER_EMAIL, "request_status_changed")
    assert mail["subject"] == "Zmiana statusu wniosku nr 8F3A2C1D: Odrzucony – Strefa Klienta Alior Leasing"
    text = mail["text"]
    assert text.startswith("Dzień dobry Anna,\n\nstatus Twojego wniosku „Duplikat faktury” (nr 8F3A2C1D)")
    assert "zmienił się na: Odrzucony." in text
    assert "Powód: Brak podpisu na wniosku" in text
    assert "Komentarz: Prosimy o złożenie wniosku ponownie." in text  # from the event
    assert "https://strefaklienta.aliorleasing.pl/wnioski/8f3a2c1d-0000-4000-8000-000000000001" in text
    # The change without a sealed e-mail, recorded first in profile's store, led to nothing at all.
    assert [o.data["cause_event_id"] for o in await portal.outcomes()] == [str(cause.event_id)]


# billing


async def test_an_invoice_is_mailed_only_with_consent_to_the_latest_confirmed_address(portal: Harness) -> None:
    first, second, third = "faktury@transbud.pl", "ksiegowosc@transbud.pl", "biuro@transbud.pl"

    await portal.bill(portal.invoice("FV/2030/03/0001"))  # no consent yet
    await portal.idle()
    assert await portal.outcomes() == []

    await portal.profile(portal.consent_given(first))
    to_first = await portal.bill(portal.invoice("FV/2030/03/0002"))
    assert (await portal.outcome_of(to_first)).data["recipient"] == "f***@transbud.pl"

    await portal.profile(portal.email_changed(second, previous=first))
    to_second = await portal.bill(portal.invoice("FV/2030/03/0003"))
    assert (await portal.outcome_of(to_second)).data["recipient"] == "k***@transbud.pl"

    await portal.profile(portal.consent_withdrawn(second))
    await portal.bill(portal.invoice("FV/2030/03/0004"))
    await portal.idle()

    await portal.profile(portal.consent_given(third))
    to_third = await portal.bill(portal.invoice("FV/2030/03/0005"))
    await portal.outcome_of(to_third)

    sent = {entry["to"]: entry["subject"] for entry in await portal.outbox() if entry["template"] == "invoice_issued"}
    assert sent == {
        first: "Nowa faktura FV/2030/03/0002 – Strefa Klienta Alior Leasing",
        second: "Nowa faktura FV/2030/03/0003 – Strefa Klienta Alior Leasing",
        third: "Nowa faktura FV/2030/03/0005 – Strefa Klienta Alior Leasing",
    }
    assert len(await portal.outcomes()) == 3  # no consent: nothing sent, and nothing failed either
    mail = await _mail(portal, first, "invoice_issued")
    details = (
        f"Numer: FV/2030/03/0002\nData wystawienia: 14.03.2030\nKwota brutto: {zl('1 234,56 zł')}\n"
        "Termin płatności: 28.03.2030\n"
    )
    assert details in mail["text"]
    assert f"Fakturę pobierzesz i opłacisz w Strefie Klienta:\n\n{INVOICES_URL}" in mail["text"]
    status = await portal.runtime.runner("deliveries").current_status()
    assert status.dead_letters == 0


async def test_the_invoice_email_has_no_attachment(start_portal: StartPortal, smtp_server: SmtpServer) -> None:
    portal = await start_portal(**smtp_server.settings())
    await portal.profile(portal.consent_given("faktury@transbud.pl"))
    outcome = await portal.outcome_of(await portal.bill(portal.invoice(gross="1000000")))
    assert outcome.data["provider"] == "smtp"
    (message,) = smtp_server.mailbox.messages
    assert smtp_server.mailbox.envelopes[0][1] == ["faktury@transbud.pl"]
    assert list(message.iter_attachments()) == []
    plain = message.get_body(("plain",))
    assert plain is not None
    assert f"Kwota brutto: {zl('1 000 000,00 zł')}" in plain.get_content()
    assert message["Subject"] == "Nowa faktura FV/2030/03/0001 – Strefa Klienta Alior Leasing"


# history and redelivery


async def test_causes_older_than_the_maximum_age_are_skipped(start_portal: StartPortal) -> None:
    portal = await start_portal(max_event_age_hours=2)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    await portal.profile(portal.consent_given("faktury@transbud.pl"))  # read models fold the whole history
    old = utc_now() - timedelta(hours=3)
    for event in (
        await portal.pay(portal.payment("accepted", payment_id="pay-old"), occurred_at=old),
        await portal.pay(portal.payment("failed", payment_id="pay-old-2"), occurred_at=old),
        await portal.bill(portal.invoice("FV/2029/12/0001"), occurred_at=old),
        await portal.profile(portal.confirmation_requested(LINK), occurred_at=old),
        await portal.profile(portal.status_changed("completed"), occurred_at=old),
    ):
        assert event.occurred_at == old
    recent = await portal.bill(portal.invoice("FV/2030/03/0009"), occurred_at=utc_now() - timedelta(hours=1))

    await portal.outcome_of(recent)
    await portal.idle()
    assert [o.data["cause_event_id"] for o in await portal.outcomes()] == [str(recent.event_id)]
    assert [entry["subject"] for entry in await portal.outbox()] == [
        "Nowa faktura FV/2030/03/0009 – Strefa Klienta Alior Leasing"
    ]


async def test_each_cause_is_sent_once_however_often_it_is_delivered(start_portal: StartPortal) -> None:
    portal = await start_portal(run_consumers=False)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    await portal.profile(portal.consent_given("faktury@transbud.pl"))
    causes: list[RecordedEvent] = [
        await portal.pay(portal.payment("accepted")),
        await portal.pay(portal.payment("failed", payment_id="pay-2")),
        await portal.profile(portal.confirmation_requested(LINK)),
        await portal.profile(portal.status_changed("completed")),
        await portal.bill(portal.invoice()),
    ]
    for projection in ("accounts", "einvoice_addresses"):
        assert await portal.runtime.runner(projection).run_once() >= 1
    runner = portal.runtime.runner("deliveries")
    assert isinstance(runner, ReactorRunner)
    assert await runner.run_once() >= len(causes)
    assert len(await portal.outbox()) == len(causes)

    # The checkpoint is lost: everything comes again. And another consumer group reads it too.
    await runner.consumer.reset()
    assert await runner.run_once() >= len(causes)
    replay = ReactorRunner(
        runner.reactor,
        portal.runtime.event_log.consumer("notifications.deliveries-replay", runner.reactor.sources),
        portal.runtime.documents,
        portal.runtime.registry,
        service="notifications",
        personal=portal.runtime.personal,
    )
    assert await replay.run_once() >= len(causes)

    assert sorted(entry["template"] for entry in await portal.outbox()) == [
        "einvoice_email_confirmation",
        "invoice_issued",
        "payment_accepted",
        "payment_failed",
        "request_status_changed",
    ]
    outcomes = await portal.outcomes()
    assert sorted(o.data["cause_event_id"] for o in outcomes) == sorted(str(c.event_id) for c in causes)
    assert {o.type for o in outcomes} == {"NotificationSent"}
    assert runner.status.dead_letters == replay.status.dead_letters == 0
    assert all(o.client_id == CLIENT for o in outcomes)


async def test_a_message_waits_for_the_read_model_it_needs_to_catch_up(start_portal: StartPortal) -> None:
    """The account and the consent are recorded before the payment and the invoice, but notifications'
    read models have not folded them yet when the deliveries consumer gets there."""
    portal = await start_portal(run_consumers=False)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    await portal.profile(portal.consent_given("faktury@transbud.pl"))
    causes = [await portal.pay(portal.payment()), await portal.bill(portal.invoice())]

    reacting = asyncio.create_task(portal.runtime.runner("deliveries").run_once())
    for projection in ("accounts", "einvoice_addresses"):
        assert await portal.runtime.runner(projection).run_once() >= 1
    assert await reacting >= len(causes)

    outcomes = {o.data["template"]: o.data for o in await portal.outcomes()}
    assert outcomes["payment_accepted"]["recipient"] == "a***@transbud.pl"
    assert outcomes["invoice_issued"]["recipient"] == "f***@transbud.pl"


def count_waits(runner: ConsumerRunner, monkeypatch: pytest.MonkeyPatch) -> list[Mapping[str, str]]:
    """The targets `runner` is asked to wait for (each a wait of a message for its read model)."""
    targets: list[Mapping[str, str]] = []
    wait = runner.wait_caught_up

    async def counted(target: Mapping[str, str], timeout: float) -> bool:
        targets.append(target)
        return await wait(target, timeout)

    monkeypatch.setattr(runner, "wait_caught_up", counted)
    return targets


async def test_a_payment_by_a_known_account_does_not_wait_for_the_rest_of_identity(
    start_portal: StartPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`accounts` follows identity, which records events all day long (every login): a payment by an
    account it already holds is mailed without waiting, however far behind it is with the rest."""
    portal = await start_portal(run_consumers=False, read_model_wait=3600)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    accounts = portal.runtime.runner("accounts")
    assert await accounts.run_once() == 1
    for n in range(3):  # identity goes on, and `accounts` does not read it
        await portal.emit(portal.account_provisioned(f"acc-{n}", f"osoba.{n}@transbud.pl"), account_id=f"acc-{n}")
    waits = count_waits(accounts, monkeypatch)
    cause = await portal.pay(portal.payment())

    assert await portal.runtime.runner("deliveries").run_once() >= 1
    outcome = await portal.outcome_of(cause)
    assert (outcome.type, outcome.data["recipient"]) == ("NotificationSent", "a***@transbud.pl")
    assert waits == []
    assert await accounts.consumer.lag() == {"identity": 3}


async def test_a_payment_by_an_account_not_read_yet_waits_until_the_read_model_has_read_that_far(
    start_portal: StartPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not until `accounts` has read everything: identity's later events do not hold the message up."""
    portal = await start_portal(run_consumers=False, read_model_wait=3600)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    cause = await portal.pay(portal.payment())
    accounts = portal.runtime.runner("accounts")
    waits = count_waits(accounts, monkeypatch)

    reacting = asyncio.create_task(portal.runtime.runner("deliveries").run_once())
    await eventually(lambda: bool(waits), what="the payment waiting for `accounts`")
    await portal.emit(portal.account_provisioned("acc-8", "jan.kowalczyk@transbud.pl"), account_id="acc-8")
    accounts.batch_size = 1
    assert await accounts.run_once() == 1  # acc-7, where identity ended when the payment came; not acc-8
    assert await reacting >= 1

    outcome = await portal.outcome_of(cause)
    assert (outcome.type, outcome.data["recipient"]) == ("NotificationSent", "a***@transbud.pl")
    assert len(waits) == 1
    assert await accounts.consumer.lag() == {"identity": 1}


async def test_without_waiting_a_message_goes_by_what_the_read_model_holds(start_portal: StartPortal) -> None:
    portal = await start_portal(run_consumers=False, read_model_wait=0)
    await portal.emit(portal.account_provisioned(), account_id="acc-7")
    await portal.profile(portal.consent_given("faktury@transbud.pl"))
    await portal.pay(portal.payment())
    await portal.bill(portal.invoice())

    assert await portal.runtime.runner("deliveries").run_once() >= 2  # the read models never ran
    (outcome,) = await portal.outcomes()
    assert (outcome.data["template"], outcome.data["reason"]) == ("payment_accepted", "recipient_unknown")
    assert await portal.outbox() == []
