"""Erasure of a person (GDPR Art. 17) on the embedded portal, and what it leaves on Kafka.

The person is a contract's contact person (so provisioned by identity), activated, logged in, with
profile contact data of its own; its client has invoices and a payment. The person's names, e-mails
and phones are never in an event store in clear; after the erasure they read "[erased]" everywhere,
no read model holds them, the person cannot log in, projections rebuild, and the client's money adds
up as before.
"""

from __future__ import annotations

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

from libs.events import NotFound, RecordedEvent
from libs.events.kafka import KafkaConfig
from libs.events.pii import ERASED, contact_subject
from libs.events.rebuild import Operations
from libs.events.registry import registry
from libs.events.relay import FileCheckpoint, Relay
from libs.events.schemas.contracts import ContractRegistered
from libs.events.schemas.identity import AccountProvisioned, PersonErased
from services.billing.projections import CONTRACTS
from services.identity.domain import Account, ErasePerson, Person, Provision, decide, evolve
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
