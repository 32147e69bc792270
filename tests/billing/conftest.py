"""The embedded portal for billing's API tests, with billing's clock frozen and helpers that feed
contracts, schedules, invoices and payments through the back-office APIs.

Contracts and their schedules go through the contracts service's own back-office API
(POST /api/contracts/backoffice/contracts and .../{contract_id}/schedule); billing learns them from
the ContractRegistered and ScheduleAgreed events it projects, exactly as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from stdnum import iban

from libs.events.access import ALL_SCOPES
from libs.events.envelope import EventContext, NewEvent
from libs.events.schemas.identity import ClientAccessGranted
from libs.events.store import ANY_VERSION
from services.billing.projections import CONTRACTS
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

NOW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
TODAY = date(2026, 3, 10)
"""Billing's "today" (Warsaw) in these tests."""

CLIENT_A = ("CL-A", "Transport Żółkiewski Sp. z o.o.", "5260250274")
CLIENT_B = ("CL-B", "Budowa Kęszycki S.A.", "7770001111")


def nrb(account: str) -> str:
    """A valid NRB for 24 digits of bank and account number (check digits computed)."""
    return iban.calc_check_digits(f"PL00{account}") + account


ACCOUNT = nrb("102010260000042270201111")


def vat23(net: str) -> dict[str, str]:
    amount = Decimal(net)
    vat = (amount * Decimal("0.23")).quantize(Decimal("0.01"))
    return {"net": f"{amount:.2f}", "vat": f"{vat:.2f}", "gross": f"{amount + vat:.2f}"}


def invoice_body(number: str, contract_id: str, net: str = "1000.00", **changes: Any) -> dict[str, Any]:
    line = {"description": "Rata leasingowa — część kapitałowa i odsetkowa", "vat_rate": "23", **vat23(net)}
    body: dict[str, Any] = {
        "number": number,
        "contract_id": contract_id,
        "kind": "instalment",
        "issue_date": "2026-02-01",
        "due_date": "2026-02-15",
        "lines": [line],
        "net_total": line["net"],
        "vat_total": line["vat"],
        "gross_total": line["gross"],
    }
    body.update(changes)
    return body


def instalments(start: date, count: int, net: str = "1000.00") -> list[dict[str, str | int]]:
    rows: list[dict[str, str | int]] = []
    for number in range(1, count + 1):
        amounts = vat23(net)
        rows.append(
            {
                "number": number,
                "due_date": (start + timedelta(days=30 * (number - 1))).isoformat(),
                **amounts,
                "capital": f"{Decimal(net) - Decimal('100.00'):.2f}",
                "interest": "100.00",
            }
        )
    return rows


@dataclass
class Billing:
    http: httpx.AsyncClient
    portal: EmbeddedPortal
    backoffice: dict[str, str]
    secrets: Path

    def token(
        self,
        client_id: str = CLIENT_A[0],
        scopes: tuple[str, ...] = ALL_SCOPES,
        account_id: str | None = None,
        contract_ids: tuple[str, ...] | None = None,
    ) -> dict[str, str]:
        return bearer(mint_access_token(self.secrets, client_id, scopes, account_id, contract_ids=contract_ids))

    async def register_contract(
        self, number: str, client: tuple[str, str, str] = CLIENT_A, schedule: list[dict[str, Any]] | None = None
    ) -> str:
        client_id, name, nip = client
        body = {
            "contract_number": number,
            "client": {"client_id": client_id, "name": name, "nip": nip},
            "contract_type": "operating",
            "start_date": "2026-01-01",
            "end_date": "2029-01-01",
            "net_value": "120000.00",
            "asset": {"kind": "samochód ciężarowy", "make": "Volvo", "model": "FH16", "year": 2025},
        }
        response = await self.http.post("/api/contracts/backoffice/contracts", json=body, headers=self.backoffice)
        assert response.status_code == 201, response.text
        contract_id: str = response.json()["contract_id"]
        if schedule is not None:
            response = await self.http.post(
                f"/api/contracts/backoffice/contracts/{contract_id}/schedule",
                json={"instalments": schedule},
                headers=self.backoffice,
            )
            assert response.status_code == 201, response.text
        await eventually(lambda: self._known(contract_id, schedule is not None), what="billing knowing the contract")
        return contract_id

    async def _known(self, contract_id: str, with_schedule: bool) -> bool:
        doc = await self.portal.runtimes["billing"].documents.get(CONTRACTS, contract_id)
        return doc is not None and "contract_number" in doc and (bool(doc["instalments"]) or not with_schedule)

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {**self.backoffice, **({"Idempotency-Key": key} if key else {})}
        return await self.http.post(f"/api/billing/backoffice/{path}", json=body, headers=headers)

    async def issue(self, number: str, contract_id: str, net: str = "1000.00", **changes: Any) -> dict[str, Any]:
        response = await self.post("invoices", invoice_body(number, contract_id, net, **changes))
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def pay(
        self, amount: str, title: str = "Przelew", client_id: str = CLIENT_A[0], received_on: str = "2026-03-01"
    ) -> dict[str, Any]:
        body = {
            "client_id": client_id,
            "amount": amount,
            "received_on": received_on,
            "title": title,
            "account": ACCOUNT,
        }
        response = await self.post("payments", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def publish(self, client_id: str, title: str, content: bytes, **fields: str) -> httpx.Response:
        data = {"client_id": client_id, "kind": "letter", "title": title, **fields}
        files = {"file": ("dokument.pdf", content, "application/pdf")}
        return await self.http.post(
            "/api/billing/backoffice/documents", data=data, files=files, headers=self.backoffice
        )

    async def grant(
        self, account_id: str, client: tuple[str, str, str], active_scopes: tuple[str, ...] = ALL_SCOPES
    ) -> None:
        """Identity's ClientAccessGranted, appended to identity's store (the identity service is built apart)."""
        event = ClientAccessGranted(
            account_id=account_id, client_id=client[0], client_name=client[1], scopes=active_scopes
        )
        store = self.portal.platform.event_stores["identity"]
        await store.append(
            f"identity-account-{account_id}-{client[0]}",
            [NewEvent.from_domain(event, EventContext(client_id=client[0]))],
            ANY_VERSION,
        )

    async def caught_up(self) -> None:
        """Waits until every billing projection has folded everything appended so far."""
        runtime = self.portal.runtimes["billing"]

        async def done() -> bool:
            for runner in runtime.runners:
                lag = await runner.consumer.lag()
                if any(lag.values()):
                    return False
            return True

        await eventually(done, what="billing's projections catching up")

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/billing/{path}", params=params, headers=headers or self.token())


async def start_portal(data_dir: Path) -> EmbeddedPortal:
    embedded = EmbeddedPortal(PortalSettings(data_dir=data_dir, dev_mode=True))
    embedded.runtimes["billing"].clock = lambda: NOW
    await embedded.start()
    return embedded


@pytest.fixture
async def billing(tmp_path: Path) -> AsyncIterator[Billing]:
    data_dir = tmp_path / "data"
    embedded = await start_portal(data_dir)
    transport = httpx.ASGITransport(app=embedded.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        headers = {"Authorization": f"Bearer {backoffice_token(data_dir)}"}
        yield Billing(http, embedded, headers, data_dir / "secrets")
    await embedded.stop()
