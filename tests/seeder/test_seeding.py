"""A small seeding of an embedded portal, in-process (httpx ASGITransport), through the back office only.

The plan says what every client must see (overdue, upcoming, overpayment, each invoice's balance);
the portal's own read models, after settling the payments by its rules, must agree.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pypdf import PdfReader

from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from services.seeder.runner import SeedOptions, SeedReport, backoffice_client, seed
from services.seeder.world import DEMO_PASSWORD, ClientPlan, WorldOptions, demo_logins, plan
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
WORLD = WorldOptions(today=TODAY, seed=11, clients=5, history_months=18, pdf_clients=2)
OPTIONS = SeedOptions(world=WORLD, concurrency=4, pdf_workers=0, wait_timeout=60)
URL = "http://portal.test"


@dataclass
class Seeded:
    portal: EmbeddedPortal
    http: httpx.AsyncClient
    data_dir: Path
    report: SeedReport
    plans: list[ClientPlan]

    def backoffice(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.http._transport.app)  # type: ignore[attr-defined]
        return backoffice_client(URL, backoffice_token(self.data_dir), transport)

    async def events(self) -> dict[str, int]:
        """Head positions of the stores the back office feeds (identity's include the provisioning)."""
        stores = self.portal.platform.event_stores
        return {name: await stores[name].head_position() or 0 for name in ("contracts", "billing", "identity")}

    async def get(self, path: str, client_id: str, **params: Any) -> dict[str, Any]:
        token = mint_access_token(self.data_dir / "secrets", client_id)
        response = await self.http.get(path, headers=bearer(token), params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir, dev_mode=True))
    portal.runtimes["billing"].clock = lambda: NOW  # billing's "today" is the seeder's --today
    await portal.start()
    app = portal.app()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as http,
        backoffice_client(URL, backoffice_token(data_dir), httpx.ASGITransport(app=app)) as backoffice,
    ):
        report = await seed(backoffice, OPTIONS)
        yield Seeded(portal, http, data_dir, report, list(plan(WORLD)))
    await portal.stop()


async def test_every_planned_call_was_accepted(seeded: Seeded) -> None:
    assert seeded.report.ok, seeded.report.failures
    planned: dict[str, int] = {}
    for client in seeded.plans:
        for call in (*client.contract_calls, *client.billing_calls):
            planned[call.kind] = planned.get(call.kind, 0) + 1
    assert dict(seeded.report.calls) == planned
    assert seeded.report.events is not None
    assert seeded.report.events["contracts"] >= planned["contract"] + planned["schedule"]
    assert seeded.report.events["billing"] > 2 * planned["invoice"]
    assert seeded.report.demo_active
    assert seeded.report.activation_pending


async def test_dashboards_show_what_the_plan_expects(seeded: Seeded) -> None:
    for client in seeded.plans:
        expected = client.expected
        board = await seeded.get("/api/billing/dashboard", client.company.client_id)
        assert board["today"] == TODAY.isoformat()
        assert board["overdue"]["count"] == expected.overdue_count, client.company.client_id
        assert Decimal(board["overdue"]["total"]) == expected.overdue_total
        oldest = expected.oldest_overdue.isoformat() if expected.oldest_overdue else None
        assert board["overdue"]["oldest_due_date"] == oldest
        assert Decimal(board["overpayment"]) == expected.overpayment
        assert len(board["upcoming"]) == expected.upcoming
        assert len(board["latest_documents"]) == min(6, expected.documents)
        assert [a["account_number"] for a in board["repayment_accounts"]][:1] == [client.accounts[0].number]
    first, second = seeded.plans[0].expected, seeded.plans[1].expected
    assert first.overdue_count >= 1
    assert first.partially_paid >= 1
    assert second.overpayment > 0


async def test_every_invoice_has_the_planned_balance(seeded: Seeded) -> None:
    for client in seeded.plans:
        page = await seeded.get("/api/billing/invoices", client.company.client_id, limit=200)
        assert page["total"] == client.expected.invoices
        balances = {item["number"]: Decimal(item["outstanding"]) for item in page["items"]}
        assert balances == client.expected.outstanding
        notes = await seeded.get("/api/billing/interest-notes", client.company.client_id)
        assert notes["total"] == client.expected.interest_notes


async def test_documents_are_real_pdfs_with_polish_text(seeded: Seeded) -> None:
    client = seeded.plans[0]
    documents = await seeded.get("/api/billing/documents", client.company.client_id, limit=50)
    assert documents["total"] == client.expected.documents
    contract = next(item for item in documents["items"] if item["kind"] == "contract")
    token = mint_access_token(seeded.data_dir / "secrets", client.company.client_id)
    response = await seeded.http.get(contract["download"], headers=bearer(token))
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Umowa leasingu" in text
    assert client.contracts[0].asset.vin in text or any(c.asset.vin in text for c in client.contracts)
    assert "zł" in text


async def test_the_demo_person_logs_in_and_switches_between_its_two_clients(seeded: Seeded) -> None:
    logins = demo_logins(WORLD)
    assert logins is not None
    login = await seeded.http.post("/api/identity/login", json={"email": logins.email, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    first, second = (client_id for client_id, _ in logins.clients)
    board = (await seeded.http.get("/api/billing/dashboard", headers=bearer(token))).json()
    assert board["client_id"] == first
    assert {c["client_id"] for c in board["switchable_clients"]} == {first, second}
    assert board["overdue"]["count"] == seeded.plans[0].expected.overdue_count
    switched = await seeded.http.post("/api/identity/context", json={"client_id": second}, headers=bearer(token))
    assert switched.status_code == 200, switched.text
    board = (await seeded.http.get("/api/billing/dashboard", headers=bearer(switched.json()["access_token"]))).json()
    assert board["client_id"] == second
    assert Decimal(board["overpayment"]) == seeded.plans[1].expected.overpayment > 0


async def test_the_activation_address_gets_its_sms_code(seeded: Seeded) -> None:
    logins = demo_logins(WORLD)
    assert logins is not None
    started = await seeded.http.post("/api/identity/activation/start", json={"email": logins.activation_email})
    assert started.status_code == 202

    async def sms_sent() -> bool:
        outbox = await seeded.http.get("/api/notifications/dev/outbox", params={"to": logins.activation_phone})
        return any(entry["channel"] == "sms" for entry in outbox.json())

    await eventually(sms_sent, timeout=30, what="the activation SMS in the dev outbox")


async def test_seeding_again_appends_nothing(seeded: Seeded) -> None:
    async with seeded.backoffice() as backoffice:
        before = await seeded.events()
        again = await seed(backoffice, OPTIONS)
        assert again.ok, again.failures
        assert await seeded.events() == before
    assert again.events is not None
    assert set(again.events.values()) == {0}
    assert again.calls == seeded.report.calls
    assert again.demo_active
