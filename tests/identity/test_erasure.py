"""Erasure of a person (GDPR Art. 17) on the embedded portal, and what it leaves on Kafka.

The person is a contract's contact person (so provisioned by identity), activated, logged in, with
profile contact data of its own; its client has invoices and a payment. The person's names, e-mails
and phones are never in an event store in clear; after the erasure they read "[erased]" everywhere,
no read model holds them, the person cannot log in, projections rebuild, and the client's money adds
up as before. The messages sealed for notifications about the person go with it; an erasure a crash
cut short never leaves the data readable, and repeating it finishes it. A change about a person whose
keys are gone, or one made while the key vault is busy, gets a clear answer.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from stdnum import iban

from libs.events import NewEvent, NotFound, RecordedEvent
from libs.events.kafka import KafkaConfig
from libs.events.pii import ERASED, SEALED_PREFIX, contact_subject
from libs.events.rebuild import Operations
from libs.events.registry import registry
from libs.events.relay import FileCheckpoint, Relay
from libs.events.schemas.contracts import ContractRegistered
from libs.events.schemas.identity import AccountProvisioned, PersonErased, PersonErasureStarted
from libs.events.sealed import (
    NOTIFICATIONS_SEALING_KEY,
    CannotUnseal,
    SealedMessage,
    load_or_create_private_key,
    unseal_notification,
)
from libs.events.store import AppendResult
from libs.events.vault import SqliteKeyVault
from services.billing.projections import CONTRACTS
from services.identity.domain import Account, BeginErasure, ErasePerson, Person, Provision, decide, evolve
from services.identity.erasure import erase_person
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually
from tests.identity.conftest import PASSWORD, Zone, new_email
from tests.servers import KAFKA_SKIP, delete_namespace, server_setting

CLIENT_ID, CLIENT_NAME = "CL-3003", "Przewozy Bałtyk Sp. z o.o."
FIRST, LAST, PHONE = "Erazm", "Ciołkowski", "603 777 111"
WORK_PHONE, WORK_EMAIL = "+48 22 555 77 11", "erazm.ciolkowski@baltyk.pl"
COLLEAGUE = ("Ewa", "Kęszycka", "604 888 222")


def person(email: str, names: tuple[str, str, str] = (FIRST, LAST, PHONE)) -> dict[str, str]:
    return {"first_name": names[0], "last_name": names[1], "email": email, "phone": names[2]}


def traces(email: str) -> tuple[str, ...]:
    """What must not be found anywhere once the person is erased (phones as their digits)."""
    return (email, email.split("@")[0], "603777111", LAST, WORK_EMAIL, "225557711")


def stored_text(database: Path, skip: tuple[str, ...] = ()) -> str:
    """Every value of every table of a SQLite file, as text."""
    with sqlite3.connect(database) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        values = [
            value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            for table in tables
            if table not in skip
            for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from sqlite_master)
            for value in row
        ]
    return "\n".join(values)


def event_stores(zone: Zone) -> str:
    return "\n".join(stored_text(path) for path in sorted(zone.data_dir.glob("*/events.db")))


def read_models(zone: Zone) -> str:
    # the dev outbox stands in for the mail and SMS providers: what was sent is in the mailboxes, not here
    return "\n".join(stored_text(p, skip=("rm_dev_outbox",)) for p in sorted(zone.data_dir.glob("*/readmodels.db")))


async def caught_up(zone: Zone) -> bool:
    for runtime in zone.portal.runtimes.values():
        for runner in runtime.runners:
            if any((await runner.consumer.lag()).values()):
                return False
    return True


async def register_contract(zone: Zone, number: str, *people: dict[str, str]) -> str:
    body: dict[str, Any] = {
        "contract_number": number,
        "client": {"client_id": CLIENT_ID, "name": CLIENT_NAME, "nip": "5260250274"},
        "contract_type": "operating",
        "start_date": "2026-01-15",
        "end_date": "2029-01-15",
        "net_value": "185000.00",
        "asset": {"kind": "samochód ciężarowy", "make": "Volvo", "model": "FH16", "year": 2025},
        "contact_persons": list(people),
    }
    response = await zone.http.post("/api/contracts/backoffice/contracts", json=body, headers=zone.backoffice)
    assert response.status_code == 201, response.text
    contract_id: str = response.json()["contract_id"]
    return contract_id


async def invoice_and_pay(zone: Zone, contract_id: str) -> None:
    async def billing_knows() -> bool:
        return await zone.portal.runtimes["billing"].documents.get(CONTRACTS, contract_id) is not None

    await eventually(billing_knows, what="billing knowing the contract")
    line = {"description": "Rata leasingowa", "vat_rate": "23", "net": "1000.00", "vat": "230.00", "gross": "1230.00"}
    for number, due in (("FV/2026/03/001", "2026-03-15"), ("FV/2026/04/001", "2026-04-15")):
        body = {
            "number": number,
            "contract_id": contract_id,
            "kind": "instalment",
            "issue_date": "2026-03-01",
            "due_date": due,
            "lines": [line],
            "net_total": "1000.00",
            "vat_total": "230.00",
            "gross_total": "1230.00",
        }
        issued = await zone.http.post("/api/billing/backoffice/invoices", json=body, headers=zone.backoffice)
        assert issued.status_code == 201, issued.text
    payment = {
        "client_id": CLIENT_ID,
        "amount": "1500.00",
        "received_on": "2026-03-10",
        "title": "FV/2026/03/001",
        "account": iban.calc_check_digits("PL00102010260000042270201111") + "102010260000042270201111",
    }
    paid = await zone.http.post("/api/billing/backoffice/payments", json=payment, headers=zone.backoffice)
    assert paid.status_code == 201, paid.text


async def money(zone: Zone) -> dict[str, Any]:
    """What the client's users see of its money: the dashboard and every invoice with what it still owes."""
    headers = bearer(mint_access_token(zone.data_dir / "secrets", CLIENT_ID, account_id="acc-accountant"))
    dashboard = await zone.http.get("/api/billing/dashboard", headers=headers)
    invoices = await zone.http.get("/api/billing/invoices", headers=headers, params={"limit": 100})
    assert dashboard.status_code == invoices.status_code == 200, (dashboard.text, invoices.text)
    items = invoices.json()["items"]
    return {
        "dashboard": dashboard.json(),
        "invoices": sorted((item["number"], item["gross_total"], item["outstanding"]) for item in items),
        "outstanding": sum(Decimal(item["outstanding"]) for item in items),
    }


async def erase(zone: Zone, account_id: str) -> httpx.Response:
    return await zone.http.post(f"/api/identity/backoffice/accounts/{account_id}/erasure", headers=zone.backoffice)


async def test_an_erased_person_reads_erased_everywhere_and_the_clients_money_still_adds_up(zone: Zone) -> None:
    email, colleague = new_email("erazm"), new_email("ewa")
    contract_id = await register_contract(zone, "UL/2026/03/0042", person(email), person(colleague, COLLEAGUE))
    await zone.wait_provisioned(email)
    await zone.activate(email)
    tokens = await zone.session(email)
    headers = bearer(tokens["access_token"])
    contact = {"position": "Kierownik floty", "work_phone": WORK_PHONE, "work_email": WORK_EMAIL}
    changed = await zone.http.put("/api/profile/me/contact", json=contact, headers=headers)
    assert changed.status_code == 200, changed.text
    await invoice_and_pay(zone, contract_id)
    await eventually(lambda: caught_up(zone), timeout=30, what="every consumer caught up")
    money_before = await money(zone)
    account_id = (await zone.account_events(email, "AccountProvisioned"))[0].stream_id.removeprefix("identity-account-")

    # before: in clear for the services, sealed at rest; the read models hold the person's data
    (provisioned,) = await zone.account_events(email, "AccountProvisioned")
    assert registry.decode(provisioned) == AccountProvisioned(
        account_id=account_id, email=email, phone="+48603777111", first_name=FIRST, last_name=LAST,
        source=f"contract:{contract_id}",
    )  # fmt: skip
    stored = event_stores(zone)
    assert CLIENT_NAME in stored  # the stores are readable, the client's data in clear
    assert not [trace for trace in traces(email) if trace in stored]
    assert all(trace in read_models(zone) for trace in traces(email))

    answer = await erase(zone, account_id)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"account_id": account_id, "status": "erased", "already_erased": False}

    # the events read "[erased]"; the colleague named by the same contract keeps its data
    erased = registry.decode((await zone.account_events(email, "AccountProvisioned"))[0])
    assert isinstance(erased, AccountProvisioned)
    assert (erased.email, erased.phone, erased.first_name, erased.last_name) == (ERASED,) * 4
    (registered,) = [registry.decode(e) for e in await zone.events("ContractRegistered", service="contracts")]
    assert isinstance(registered, ContractRegistered)
    assert [(p.first_name, p.email) for p in registered.contact_persons] == [(ERASED, ERASED), ("Ewa", colleague)]
    (person_contact,) = await zone.events("PersonContactDataChanged", service="profile")
    assert person_contact.data["contact"]["work_email"] == ERASED

    # the read models forget the person, not the colleague
    await eventually(lambda: caught_up(zone), timeout=30, what="every consumer caught up")
    left = read_models(zone)
    assert not [trace for trace in traces(email) if trace in left]
    assert colleague in left

    # it cannot log in, refresh or act anymore: its sessions ended with the erasure
    assert (await zone.http.get("/api/profile/me", headers=headers)).status_code == 401
    assert (await zone.login(email)).status_code == 401
    refresh = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401

    # the client's money adds up as before: invoices, payment, dashboard
    assert await money(zone) == money_before
    assert money_before["outstanding"] == Decimal("960.00")

    # projections rebuild from the erased events, without dead letters
    ops = Operations(zone.portal.runtimes, grace=0)
    for name in (
        "identity.accounts",
        "profile.persons",
        "profile.companies",
        "notifications.accounts",
        "billing.invoices",
    ):
        await ops.rebuild(name)
    assert not [trace for trace in traces(email) if trace in read_models(zone)]
    assert not await ops.dead_letters()
    assert await money(zone) == money_before
    listed = await zone.http.get(
        "/api/identity/backoffice/accounts", params={"email": colleague}, headers=zone.backoffice
    )
    assert listed.json()["first_name"] == "Ewa"


async def test_erasing_twice_is_harmless_and_the_address_may_come_back_as_a_new_person(zone: Zone) -> None:
    email = new_email("erazm")
    account_id = await zone.provision(email)
    first = await erase(zone, account_id)
    assert first.status_code == 200
    again = await erase(zone, account_id)
    assert again.status_code == 200
    assert again.json() == {"account_id": account_id, "status": "erased", "already_erased": True}
    assert len(await zone.account_events(email, "PersonErased")) == 1
    assert await zone.portal.platform.vault.erased(account_id)

    newcomer = await zone.provision(email)  # the released address names a new account
    assert newcomer != account_id
    body = {"email": email, "password": PASSWORD}
    activated = await zone.http.post("/api/identity/backoffice/dev/activate", json=body, headers=zone.backoffice)
    assert activated.json()["account_id"] == newcomer
    assert (await zone.login(email, PASSWORD)).status_code == 200


async def test_erasing_an_unknown_or_malformed_account_is_a_clear_error(zone: Zone) -> None:
    unknown = await erase(zone, str(uuid4()))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "account_not_found"
    malformed = await erase(zone, "not-an-id")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "account_id"
    refused = await zone.http.post(f"/api/identity/backoffice/accounts/{uuid4()}/erasure")
    assert refused.status_code == 401  # the back office's token only


async def test_kafka_carries_the_personal_data_sealed_and_it_reads_erased_after(zone: Zone, tmp_path: Path) -> None:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    email = new_email("erazm")
    account_id = await zone.provision(email, phone=PHONE, first_name=FIRST, last_name=LAST)
    config = KafkaConfig(bootstrap, namespace=f"erasure-{uuid4().hex[:12]}")
    store = zone.portal.platform.event_stores["identity"]  # what the relay follows: the stored events
    relay = Relay("identity", store, config, FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    consumer = AIOKafkaConsumer(
        config.topic("identity"), bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        published = await relay.publish_pending()
        assert published > 0
        await consumer.start()
        values: list[bytes] = []
        while len(values) < published:
            fetched = await consumer.getmany(timeout_ms=5000)
            values.extend(record.value for records in fetched.values() for record in records)
        messages = b"\n".join(values).decode()
        assert account_id in messages
        assert not [trace for trace in (email, "603777111", FIRST, LAST) if trace in messages]

        personal = zone.runtime.personal
        assert personal is not None
        events = [RecordedEvent.from_json(value) for value in values]
        (provisioned,) = [e for e in await personal.open(events) if e.type == "AccountProvisioned"]
        assert (provisioned.data["email"], provisioned.data["last_name"]) == (email, LAST)

        assert (await erase(zone, account_id)).status_code == 200
        (provisioned,) = [e for e in await personal.open(events) if e.type == "AccountProvisioned"]
        assert (provisioned.data["email"], provisioned.data["last_name"]) == (ERASED, ERASED)
    finally:
        await consumer.stop()
        await relay.stop()
        await delete_namespace(config)


async def stored_events(zone: Zone, service: str = "identity") -> list[RecordedEvent]:
    """The events as the service's store holds them: personal values sealed."""
    store = zone.portal.platform.event_stores[service]
    found: list[RecordedEvent] = []
    while batch := await store.read_all(after=found[-1].global_position if found else None):
        found.extend(batch)
    return found


async def test_what_was_sealed_for_notifications_about_the_person_goes_with_it(zone: Zone) -> None:
    email, colleague = new_email("erazm"), new_email("ewa")
    account_id = await zone.provision(email, phone=PHONE)
    colleague_id = await zone.provision(colleague, phone=COLLEAGUE[2])
    for address in (email, colleague):
        assert (await zone.start(address)).status_code == 202

    async def both_codes_issued() -> bool:
        return all([await zone.account_events(address, "ActivationCodeIssued") for address in (email, colleague)])

    await eventually(both_codes_issued, what="an activation code for each")
    assert (await erase(zone, account_id)).status_code == 200

    stored = {e.stream_id: e for e in await stored_events(zone) if e.type == "ActivationCodeIssued"}
    erased, kept = (stored[f"identity-account-{account}"] for account in (account_id, colleague_id))
    assert str(erased.data["notification"]["ciphertext"]).startswith(SEALED_PREFIX)
    notifications_key = load_or_create_private_key(zone.data_dir / "secrets" / NOTIFICATIONS_SEALING_KEY)
    with pytest.raises(CannotUnseal):  # notifications' own key cannot open what the store holds
        unseal_notification(SealedMessage.model_construct(**erased.data["notification"]), notifications_key)
    personal = zone.runtime.personal
    assert personal is not None
    opened_erased, opened_kept = await personal.open([erased, kept])
    assert opened_erased.data["notification"]["ciphertext"] == ERASED
    with pytest.raises(CannotUnseal):
        zone.unseal(opened_erased)
    sms = zone.unseal(opened_kept)
    assert sms.to == "+48604888222"

    async def delivered() -> bool:
        outbox = await zone.http.get("/api/notifications/dev/outbox", params={"to": sms.to})
        return any(sms.params["code"] in entry["text"] for entry in outbox.json())

    await eventually(delivered, timeout=30, what="the colleague's code delivered")


class SimulatedCrash(Exception):
    pass


@pytest.mark.parametrize("crash", ["after_the_keys_are_erased", "after_person_erased_is_recorded"])
async def test_an_erasure_cut_short_leaves_nothing_readable_and_repeating_it_finishes_it(
    zone: Zone, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    email = new_email("erazm")
    contract_id = await register_contract(zone, "UL/2026/03/0099", person(email))
    await zone.wait_provisioned(email)
    account_id = (await zone.account_events(email, "AccountProvisioned"))[0].stream_id.removeprefix("identity-account-")
    runtime = zone.runtime
    assert runtime.vault is not None
    if crash == "after_the_keys_are_erased":
        erase_key = runtime.vault.erase

        async def erase_then_crash(subject: str) -> bool:
            await erase_key(subject)
            raise SimulatedCrash(subject)

        monkeypatch.setattr(runtime.vault, "erase", erase_then_crash)
    else:
        append = runtime.events.append

        async def append_then_crash(
            stream_id: str, events: list[NewEvent], expected_version: int | None
        ) -> AppendResult:
            result = await append(stream_id, events, expected_version)
            if any(event.type == "PersonErased" for event in events):
                raise SimulatedCrash(stream_id)
            return result

        monkeypatch.setattr(runtime.events, "append", append_then_crash)

    with pytest.raises(SimulatedCrash):
        await erase_person(runtime, account_id, "backoffice:test")
    provisioned = registry.decode((await zone.account_events(email, "AccountProvisioned"))[0])
    assert isinstance(provisioned, AccountProvisioned)
    assert (provisioned.email, provisioned.last_name) == (ERASED, ERASED)
    assert (await zone.login(email)).status_code == 401

    monkeypatch.undo()
    again = await erase(zone, account_id)
    assert again.status_code == 200, again.text
    assert again.json()["already_erased"] is (crash == "after_person_erased_is_recorded")
    (erased,) = [registry.decode(event) for event in await zone.account_events(email, "PersonErased")]
    assert isinstance(erased, PersonErased)
    assert erased.contact_subjects == (contact_subject(email),)
    (registered,) = [
        registry.decode(e) for e in await zone.events("ContractRegistered", service="contracts")
        if e.data["contract_id"] == contract_id
    ]  # fmt: skip
    assert isinstance(registered, ContractRegistered)
    assert registered.contact_persons[0].email == ERASED  # the contact-person key went too
    await eventually(lambda: caught_up(zone), timeout=30, what="every consumer caught up")
    assert not [trace for trace in (email, "603777111", LAST) if trace in read_models(zone)]
    assert await zone.provision(email) != account_id  # the address was released


async def test_a_change_about_a_person_whose_keys_are_gone_is_refused_as_for_an_unknown_account(zone: Zone) -> None:
    email = new_email("erazm")
    tokens = await zone.active_user(email)
    account_id = (await zone.account_events(email, "AccountProvisioned"))[0].stream_id.removeprefix("identity-account-")
    vault = zone.runtime.vault
    assert vault is not None
    await vault.erase(account_id)  # an erasure between its steps: its keys deleted, PersonErased not recorded yet
    contact = {"position": "Kierownik floty", "work_phone": WORK_PHONE, "work_email": WORK_EMAIL}
    refused = await zone.http.put("/api/profile/me/contact", json=contact, headers=bearer(tokens["access_token"]))
    assert refused.status_code == 404, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "account_not_found"
    assert not await zone.events("PersonContactDataChanged", service="profile")


async def test_a_busy_key_vault_answers_503_and_the_next_try_goes_through(zone: Zone) -> None:
    vault = zone.runtime.vault
    assert isinstance(vault, SqliteKeyVault)
    await vault.db.execute("PRAGMA busy_timeout=50")  # not the ten seconds it waits in service
    body = {"client_id": CLIENT_ID, "client_name": CLIENT_NAME, **person(new_email("erazm"))}
    with contextlib.closing(sqlite3.connect(zone.data_dir / "vault" / "keys.db", isolation_level=None)) as ops_cli:
        ops_cli.execute("BEGIN IMMEDIATE")  # another process sharing the vault holds its write lock
        busy = await zone.http.post("/api/identity/backoffice/accounts", json=body, headers=zone.backoffice)
        ops_cli.execute("ROLLBACK")
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json()["code"] == "temporarily_unavailable"
    assert busy.headers["retry-after"]
    retried = await zone.http.post("/api/identity/backoffice/accounts", json=body, headers=zone.backoffice)
    assert retried.status_code == 201, retried.text


def test_an_account_whose_erasure_began_refuses_everything_but_its_erasure() -> None:
    provision = Provision(
        "acc-1",
        Person("Erazm", LAST, "erazm@baltyk.pl", "+48603777111"),
        CLIENT_ID,
        CLIENT_NAME,
        (),
        None,
        "backoffice",
    )
    state = Account()
    for event in decide(state, provision):
        state = evolve(state, event)
    (started,) = decide(state, BeginErasure(datetime.now(UTC), "backoffice:test"))
    assert isinstance(started, PersonErasureStarted)
    assert started.contact_subjects == (contact_subject("erazm@baltyk.pl"),)
    state = evolve(state, started)
    assert state.status == "erased"
    assert decide(state, BeginErasure(datetime.now(UTC), "backoffice:test")) == []
    with pytest.raises(NotFound):
        decide(state, provision)
    erased = decide(state, ErasePerson(datetime.now(UTC), "backoffice:test"))[-1]
    assert isinstance(erased, PersonErased)
    assert erased.contact_subjects == started.contact_subjects


def test_the_erased_account_refuses_everything_but_another_erasure() -> None:
    provision = Provision(
        "acc-1",
        Person("Erazm", LAST, "erazm@baltyk.pl", "+48603777111"),
        CLIENT_ID,
        CLIENT_NAME,
        (),
        None,
        "backoffice",
    )
    state = Account()
    for event in decide(state, provision):
        state = evolve(state, event)
    with pytest.raises(NotFound):
        decide(Account(), ErasePerson(datetime.now(UTC), "backoffice:test"))
    *revoked, erased = decide(state, ErasePerson(datetime.now(UTC), "backoffice:test"))
    assert [event.event_type for event in revoked] == ["ClientAccessRevoked"]
    assert isinstance(erased, PersonErased)
    assert (erased.client_ids, erased.contact_subjects) == ((CLIENT_ID,), (contact_subject("erazm@baltyk.pl"),))
    assert "erazm" not in erased.model_dump_json().lower()  # PersonErased holds no personal data
    for event in (*revoked, erased):
        state = evolve(state, event)
    assert state.status == "erased"
    assert decide(state, ErasePerson(datetime.now(UTC), "backoffice:test")) == []
    with pytest.raises(NotFound):
        decide(state, provision)
