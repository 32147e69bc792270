"""The plan, without a portal: deterministic, valid identifiers, money that adds up, dates that make sense."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import phonenumbers
import pytest
from stdnum import iban
from stdnum.pl import nip
from vininfo import Vin

from services.seeder.finance import annuity, grosze, schedule
from services.seeder.world import Call, ClientPlan, WorldOptions, demo_logins, plan

TODAY = date(2026, 3, 10)
OPTIONS = WorldOptions(today=TODAY, seed=7, clients=60)
PLATE = re.compile(r"^[A-Z]{2,3} [0-9A-Z]{4,5}$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def clients() -> list[ClientPlan]:
    return list(plan(OPTIONS))


def _calls(plans: list[ClientPlan]) -> list[Call]:
    return [call for client in plans for call in (*client.contract_calls, *client.billing_calls)]


def test_same_seed_same_calls_other_seed_other_calls(clients: list[ClientPlan]) -> None:
    assert _calls(list(plan(OPTIONS))) == _calls(clients)
    other = list(plan(WorldOptions(today=TODAY, seed=8, clients=60)))
    assert _calls(other) != _calls(clients)
    assert {c.company.nip for c in other} != {c.company.nip for c in clients}


def test_a_bigger_world_starts_with_the_smaller_one(clients: list[ClientPlan]) -> None:
    smaller = list(plan(WorldOptions(today=TODAY, seed=7, clients=10)))
    assert _calls(smaller) == _calls(clients[:10])


def test_identifiers_are_valid_and_unique(clients: list[ClientPlan]) -> None:
    nips = [c.company.nip for c in clients]
    assert all(nip.is_valid(value) for value in nips)
    assert len(set(nips)) == len(nips)
    vins = [contract.asset.vin for c in clients for contract in c.contracts]
    for value in vins:
        parsed = Vin(value)
        assert len(value) == 17
        assert parsed.verify_checksum(check_year=False), value
    assert len(set(vins)) == len(vins)
    plates = [k.asset.registration_number for c in clients for k in c.contracts if k.asset.registration_number]
    assert plates
    assert all(PLATE.match(p) for p in plates)
    assert len(set(plates)) == len(plates)
    accounts = {a.number for c in clients for a in c.accounts}
    assert all(iban.is_valid(f"PL{number}") for number in accounts)
    for client in clients:
        for person in client.persons:
            parsed = phonenumbers.parse(person.phone)
            assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
            assert person.email.isascii()
            assert "@" in person.email


def test_each_contact_acts_for_one_client_but_the_demo_person(clients: list[ClientPlan]) -> None:
    owners: dict[str, set[str]] = {}
    for client in clients:
        for person in client.persons:
            owners.setdefault(person.email, set()).add(client.company.client_id)
    shared = {email: ids for email, ids in owners.items() if len(ids) > 1}
    logins = demo_logins(OPTIONS)
    assert logins is not None
    assert shared == {logins.email: {clients[0].company.client_id, clients[1].company.client_id}}
    assert logins.activation_email in {p.email for p in clients[0].persons}
    assert logins.activation_email != logins.email


def test_idempotency_keys_are_unique_and_short(clients: list[ClientPlan]) -> None:
    keys = [call.key for call in _calls(clients)]
    assert len(set(keys)) == len(keys)
    assert max(len(key) for key in keys) <= 128
    assert all(key.startswith("seeder-7:") for key in keys)


def test_schedules_add_up_in_grosze(clients: list[ClientPlan]) -> None:
    terms: Counter[int] = Counter()
    for client in clients:
        for contract in client.contracts:
            rows = contract.instalments
            monthly = [row for row in rows if row.kind == "instalment"]
            terms[len(monthly)] += 1
            assert 24 <= len(monthly) <= 60
            assert sum((row.capital for row in rows), Decimal(0)) == contract.net_price - contract.residual
            for row in rows:
                assert row.net == row.capital + row.interest
                assert row.vat == grosze(row.net * Decimal("0.23"))
                assert row.gross == row.net + row.vat
                assert contract.start <= row.due_date <= contract.end
            assert [row.number for row in rows] == list(range(1, len(rows) + 1))
            payments = {row.net for row in monthly[:-1]}
            assert len(payments) == 1, "an annuity: equal instalments but the last"
    assert len(terms) >= 3


def test_annuity_matches_the_textbook_formula() -> None:
    rows = annuity(Decimal("100000.00"), Decimal(0), Decimal("0.12"), 12)
    assert rows[0] == (Decimal("7884.88"), Decimal("1000.00"))  # PMT(1%, 12, 100000) = 8884.88
    assert sum((capital for capital, _ in rows), Decimal(0)) == Decimal("100000.00")
    with_fee = schedule(TODAY, Decimal("120000.00"), Decimal("12000.00"), Decimal("1200.00"), Decimal("0.09"), 36)
    assert with_fee[0].kind == "initial_fee"
    assert with_fee[0].interest == 0
    assert with_fee[0].due_date == TODAY
    assert with_fee[-1].due_date == date(2029, 3, 10)


def test_invoice_and_payment_bodies_add_up(clients: list[ClientPlan]) -> None:
    for client in clients:
        invoiced = Decimal(0)
        for call in client.billing_calls:
            body = call.body
            if call.kind == "invoice":
                lines = body["lines"]
                for line in lines:
                    assert all(MONEY.match(line[part]) for part in ("net", "vat", "gross"))
                    assert Decimal(line["net"]) + Decimal(line["vat"]) == Decimal(line["gross"])
                    rate = Decimal(23) if line["vat_rate"] == "23" else Decimal(0)
                    assert Decimal(line["vat"]) == grosze(Decimal(line["net"]) * rate / 100)
                for total, part in (("net_total", "net"), ("vat_total", "vat"), ("gross_total", "gross")):
                    assert Decimal(body[total]) == sum((Decimal(line[part]) for line in lines), Decimal(0))
                assert body["issue_date"] <= TODAY.isoformat()
                assert body["due_date"] >= body["issue_date"]
                invoiced += Decimal(body["gross_total"])
            elif call.kind == "payment":
                assert Decimal(body["amount"]) > 0
                assert MONEY.match(body["amount"])
                assert body["received_on"] <= TODAY.isoformat()
            elif call.kind == "interest_note":
                assert Decimal(body["amount"]) > 0
                assert body["issue_date"] <= TODAY.isoformat()
        expected = client.expected
        assert invoiced == expected.invoiced
        settled = expected.invoiced - sum(expected.outstanding.values(), Decimal(0))
        assert expected.paid == settled + expected.overpayment, "money paid is either settled or an overpayment"


def test_the_demo_clients_and_the_rest_show_every_case(clients: list[ClientPlan]) -> None:
    first, second = clients[0].expected, clients[1].expected
    assert first.overdue_count >= 1
    assert first.partially_paid >= 1
    assert first.interest_notes >= 1
    assert first.upcoming >= 1
    assert second.overpayment > 0
    assert second.overdue_count == 0
    assert second.upcoming >= 1
    rest = [c.expected for c in clients[2:]]
    assert any(e.overdue_count for e in rest)
    assert any(e.interest_notes for e in rest)
    assert {c.company.form for c in clients} == {"sp_zoo", "sa", "jdg"}
    kinds = {k.asset.kind for c in clients for k in c.contracts}
    assert {"samochód osobowy", "ciągnik siodłowy"} <= kinds
    assert kinds & {"koparka gąsienicowa", "wózek widłowy"}


def test_dates_follow_today() -> None:
    later = list(plan(WorldOptions(today=TODAY + timedelta(days=400), seed=7, clients=3)))
    for client in later:
        for call in client.billing_calls:
            if call.kind == "payment":
                assert call.body["received_on"] <= (TODAY + timedelta(days=400)).isoformat()
    assert later[0].expected.overdue_count >= 1
    assert later[0].company == next(iter(plan(WorldOptions(today=TODAY, seed=7, clients=1)))).company
