"""The dashboard ("Strona główna"): overdue, upcoming instalments, overpayment, latest documents,
repayment accounts, clients to switch to; and the same answer after rebuilding every read model."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from tests.billing.conftest import (
    ACCOUNT,
    CLIENT_A,
    CLIENT_B,
    Billing,
    instalments,
    invoice_body,
    nrb,
    start_portal,
)
from tests.billing.test_backoffice import a_pdf
from tests.billing.test_client_api import World, build


async def dashboard(billing: Billing, **token: Any) -> dict[str, Any]:
    response = await billing.get("dashboard", headers=billing.token(**token))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_overdue_upcoming_and_then_an_overpayment_applied_to_the_next_invoice(billing: Billing) -> None:
    world = await build(billing)
    third = await billing.issue(
        "FV/2026/03/0002", world.contract, instalment_number=3, issue_date="2026-03-02", due_date="2026-03-16"
    )
    await billing.caught_up()
    before = await dashboard(billing)
    assert before["today"] == "2026-03-10"
    assert before["overdue"] == {"count": 1, "total": "1000.00", "oldest_due_date": "2026-02-14"}
    (upcoming,) = before["upcoming"]
    assert (upcoming["contract_number"], upcoming["number"], upcoming["due_date"]) == ("UL/1/2026", 3, "2026-03-16")
    assert (upcoming["gross"], upcoming["invoiced"], upcoming["paid"], upcoming["state"]) == (
        "1230.00",
        True,
        False,
        "open",
    )
    assert before["overpayment"] == "0.00"

    paid = await billing.pay("4000.00", title="Przelew za raty", received_on="2026-03-09")
    assert [(s["invoice_id"], s["amount"]) for s in paid["settlements"]] == [
        (world.partly, "1000.00"),
        (third["invoice_id"], "1230.00"),
        (world.open, "1230.00"),
    ]
    assert paid["overpayment"] == "540.00"
    await billing.caught_up()
    after = await dashboard(billing)
    assert after["overdue"] == {"count": 0, "total": "0.00", "oldest_due_date": None}
    assert after["upcoming"][0]["paid"] is True
    assert after["overpayment"] == "540.00"

    fourth = await billing.issue(
        "FV/2026/04/0001", world.contract, instalment_number=4, issue_date="2026-04-01", due_date="2026-04-15"
    )
    assert [(s["amount"], s["outstanding"], s["full"]) for s in fourth["settlements"]] == [("540.00", "690.00", False)]
    await billing.caught_up()
    assert (await dashboard(billing))["overpayment"] == "0.00"
    detail = (await billing.get(f"invoices/{fourth['invoice_id']}")).json()
    (settlement,) = detail["settlements"]
    assert (settlement["source"], settlement["payment_title"], settlement["settled_on"]) == (
        "overpayment",
        "Przelew za raty",
        "2026-03-10",
    )
    assert (detail["status"], detail["outstanding"]) == ("partially_paid", "690.00")


async def test_upcoming_shows_only_the_instalments_due_from_today_to_day_30_each_with_its_own_invoice(
    billing: Billing,
) -> None:
    """Two contracts of 36 instalments every 30 days. Today is 2026-03-10: the first contract's
    instalment 3 is due today (paid, after a correction issued the same day), its 4th on day 30 (not
    invoiced yet); the second's 3rd is due tomorrow (open), its 4th on day 31 (invoiced early, not shown)."""
    first = await billing.register_contract("UL/1/2026", schedule=instalments(date(2026, 1, 9), 36))
    second = await billing.register_contract("UL/2/2026", schedule=instalments(date(2026, 1, 10), 36))
    await billing.issue("FV/A/2", first, instalment_number=2, issue_date="2026-02-01", due_date="2026-02-08")
    await billing.issue("FV/A/3", first, instalment_number=3, issue_date="2026-03-01", due_date="2026-03-10")
    line = {"description": "Korekta raty", "vat_rate": "23", "net": "-100.00", "vat": "-23.00", "gross": "-123.00"}
    correction = invoice_body(
        "FK/A/3",
        first,
        kind="correction",
        corrects_invoice_number="FV/A/3",
        instalment_number=3,
        issue_date="2026-03-01",
        due_date="2026-03-10",
        lines=[line],
        net_total="-100.00",
        vat_total="-23.00",
        gross_total="-123.00",
    )
    assert (await billing.post("invoices", correction)).status_code == 201
    await billing.pay("1107.00", title="Zapłata za FV/A/3", received_on="2026-03-09")
    await billing.issue("FV/B/3", second, instalment_number=3, issue_date="2026-03-02", due_date="2026-03-11")
    await billing.issue("FV/B/4", second, instalment_number=4, issue_date="2026-03-05", due_date="2026-04-10")
    await billing.caught_up()

    board = await dashboard(billing)
    rows = [
        (row["contract_number"], row["number"], row["due_date"], row["state"], (row["invoice"] or {}).get("number"))
        for row in board["upcoming"]
    ]
    assert rows == [
        ("UL/1/2026", 3, "2026-03-10", "paid", "FV/A/3"),
        ("UL/2/2026", 3, "2026-03-11", "open", "FV/B/3"),
        ("UL/1/2026", 4, "2026-04-09", "not_invoiced", None),
    ]
    paid = board["upcoming"][0]["invoice"]
    assert (paid["gross_total"], paid["paid"], paid["outstanding"], paid["status"]) == (
        "1230.00",
        "1230.00",
        "0.00",
        "paid",
    )
    assert board["overdue"] == {"count": 1, "total": "1230.00", "oldest_due_date": "2026-02-08"}

    limited = await dashboard(billing, contract_ids=(second,))
    assert [(row["contract_number"], row["number"]) for row in limited["upcoming"]] == [("UL/2/2026", 3)]


async def test_latest_six_documents_accounts_and_switchable_clients(billing: Billing) -> None:
    await billing.register_contract("UL/1/2026")
    await billing.register_contract("UL/9/2026", client=CLIENT_B)
    for day in range(1, 9):
        response = await billing.publish("CL-A", f"Pismo {day}", a_pdf(), published_on=f"2026-03-0{day}")
        assert response.status_code == 201
    await billing.post("clients/CL-A/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "Alior Bank"})
    second = nrb("249000050000460012345678")
    await billing.post(
        "clients/CL-A/repayment-accounts",
        {"account_number": second, "bank_name": "Alior Bank", "purpose": "opłaty dodatkowe"},
    )
    await billing.grant("person-1", CLIENT_A)
    await billing.grant("person-1", CLIENT_B)
    await billing.caught_up()
    board = await dashboard(billing, account_id="person-1")
    assert [d["title"] for d in board["latest_documents"]] == [f"Pismo {day}" for day in range(8, 2, -1)]
    assert board["latest_documents"][0]["download"].endswith("/download")
    assert [(a["account_number"], a["purpose"]) for a in board["repayment_accounts"]] == [
        (ACCOUNT, "raty leasingowe"),
        (second, "opłaty dodatkowe"),
    ]
    assert board["switchable_clients"] == [
        {"client_id": "CL-B", "client_name": CLIENT_B[1], "current": False},
        {"client_id": "CL-A", "client_name": CLIENT_A[1], "current": True},
    ]
    assert (await dashboard(billing, account_id="somebody-else"))["switchable_clients"] == []
    assert (await dashboard(billing, scopes=("invoices:read",)))["latest_documents"] is None


async def test_the_dashboard_after_a_full_replay_equals_the_live_one(billing: Billing) -> None:
    world: World = await build(billing)
    await billing.pay("5000.00", title="nadpłata", received_on="2026-03-09")
    await billing.post(
        "invoices", invoice_body("FV/2026/04/0001", world.contract, instalment_number=3, due_date="2026-03-16")
    )
    await billing.post("clients/CL-A/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "Alior Bank"})
    await billing.grant("person-1", CLIENT_A)
    await billing.caught_up()
    paths = ["dashboard", "invoices", "interest-notes", "documents", f"contracts/{world.contract}/schedule-status"]
    token = billing.token(account_id="person-1")
    live = {path: (await billing.get(path, headers=token)).json() for path in paths}
    assert live["dashboard"]["overpayment"] != "0.00"

    data_dir = billing.secrets.parent
    await billing.portal.stop()
    for name in ("readmodels.db", "readmodels.db-wal", "readmodels.db-shm"):
        (data_dir / "billing" / name).unlink(missing_ok=True)
    fresh = await start_portal(data_dir)
    try:
        transport = httpx.ASGITransport(app=fresh.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            rebuilt = Billing(http, fresh, billing.backoffice, billing.secrets)
            await rebuilt.caught_up()
            replayed = {path: (await rebuilt.get(path, headers=token)).json() for path in paths}
    finally:
        await fresh.stop()
    assert replayed == live
