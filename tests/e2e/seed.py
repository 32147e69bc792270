"""Demo data for the browser tests, fed through the back-office endpoints like the core system would.

Two clients; Anna Kowalska is the contact person of both (so she may switch between them), Piotr
Nowak only of the first and not yet activated (the activation test activates him in the browser).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from libs.events.warsaw import warsaw_date

PASSWORD = "Zielona-Ciezarowka-2026!"


def nip(prefix: str) -> str:
    """A valid NIP from 9 digits (the check digit appended)."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(prefix, weights, strict=True)) % 11
    if check == 10:
        raise ValueError(f"no valid NIP starts with {prefix}")
    return prefix + str(check)


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    nip: str


ANNA = Person("Anna", "Kowalska", "anna.kowalska@transbud.example.pl", "+48601234567")
PIOTR = Person("Piotr", "Nowak", "piotr.nowak@transbud.example.pl", "+48602345678")
TRANSBUD = Client("CL-TRANSBUD", "Transbud Sp. z o.o.", nip("526025027"))
LOGISTYKA = Client("CL-LOGISTYKA", "Kowalski Logistyka S.A.", nip("777000124"))
ACCOUNT = "61109010140000071219812874"


@dataclass
class Seeded:
    today: date
    contracts: dict[str, str] = field(default_factory=dict)
    """contract number -> contract id"""
    invoices: dict[str, str] = field(default_factory=dict)
    """invoice number -> invoice id"""

    def as_env(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "contracts": self.contracts, "invoices": self.invoices}


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _month(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, min(start.day, 28))


def _instalments(first_due: date, count: int, gross: Decimal) -> list[dict[str, str | int]]:
    net = (gross / Decimal("1.23")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    vat = gross - net
    interest = (net * Decimal("0.18")).quantize(Decimal("0.01"))
    rows: list[dict[str, str | int]] = []
    for number in range(1, count + 1):
        rows.append(
            {
                "number": number,
                "due_date": _month(first_due, number - 1).isoformat(),
                "net": _money(net),
                "vat": _money(vat),
                "gross": _money(gross),
                "capital": _money(net - interest),
                "interest": _money(interest),
            }
        )
    return rows


def _invoice(number: str, contract_id: str, instalment: dict[str, Any], issue: date) -> dict[str, Any]:
    line = {
        "description": f"Rata leasingowa nr {instalment['number']}",
        "net": instalment["net"],
        "vat_rate": "23",
        "vat": instalment["vat"],
        "gross": instalment["gross"],
    }
    return {
        "number": number,
        "contract_id": contract_id,
        "kind": "instalment",
        "instalment_number": instalment["number"],
        "issue_date": issue.isoformat(),
        "due_date": instalment["due_date"],
        "lines": [line],
        "net_total": line["net"],
        "vat_total": line["vat"],
        "gross_total": line["gross"],
    }


def pdf(text: str) -> bytes:
    """A small, valid one-page PDF."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


async def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body


async def _eventually(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.1)


async def seed(base_url: str, backoffice_token: str) -> Seeded:
    headers = {"Authorization": f"Bearer {backoffice_token}"}
    today = warsaw_date(datetime.now(UTC))
    seeded = Seeded(today)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        contracts = [
            (
                "UL/2025/0142",
                TRANSBUD,
                "operating",
                ("Samochód osobowy", "Škoda", "Octavia Combi", "WX1234A"),
                [ANNA, PIOTR],
            ),
            (
                "UL/2025/0178",
                TRANSBUD,
                "financial",
                ("Samochód dostawczy", "Ford", "Transit Custom", "WX5678B"),
                [ANNA],
            ),
            ("UL/2024/0930", LOGISTYKA, "operating", ("Ciągnik siodłowy", "Volvo", "FH 500", "KR9876C"), [ANNA]),
        ]
        for number, client, kind, (asset_kind, make, model, plate), people in contracts:
            start = today - timedelta(days=75)
            body = {
                "contract_number": number,
                "client": {"client_id": client.client_id, "name": client.name, "nip": client.nip},
                "contract_type": kind,
                "start_date": start.isoformat(),
                "end_date": _month(start, 36).isoformat(),
                "net_value": "185000.00" if kind == "operating" else "142300.50",
                "asset": {"kind": asset_kind, "make": make, "model": model, "registration_number": plate, "year": 2025},
                "contact_persons": [
                    {"first_name": p.first_name, "last_name": p.last_name, "email": p.email, "phone": p.phone}
                    for p in people
                ],
            }
            registered = await _ok(await http.post("/api/contracts/backoffice/contracts", json=body))
            seeded.contracts[number] = registered["contract_id"]

        # The first contract: a schedule, two invoices (one overdue, one paid) and an overpayment.
        first = seeded.contracts["UL/2025/0142"]
        first_due = _month(today - timedelta(days=45), 0)
        rows = _instalments(first_due, 24, Decimal("2583.00"))
        await _ok(await http.post(f"/api/contracts/backoffice/contracts/{first}/schedule", json={"instalments": rows}))
        other = seeded.contracts["UL/2024/0930"]
        other_rows = _instalments(today + timedelta(days=10), 12, Decimal("12300.00"))
        await _ok(
            await http.post(f"/api/contracts/backoffice/contracts/{other}/schedule", json={"instalments": other_rows})
        )

        for index, row in enumerate(rows[:2]):
            number = f"FV/{today.year}/{index + 1:05d}"
            issue = date.fromisoformat(str(row["due_date"])) - timedelta(days=14)
            body = _invoice(number, first, row, issue)

            async def issued(body: dict[str, Any] = body) -> bool:
                response = await http.post("/api/billing/backoffice/invoices", json=body)
                if response.status_code == 422 and "unknown" in response.text:
                    return False
                accepted = await _ok(response)
                seeded.invoices[str(body["number"])] = accepted["invoice_id"]
                return True

            await _eventually(issued, f"invoice {number}")
        # The second invoice paid exactly; the first stays overdue. Logistyka paid ahead: an overpayment.
        paid_number = f"FV/{today.year}/00002"
        for client, amount, title, reference in (
            (TRANSBUD, str(rows[1]["gross"]), f"Zapłata {paid_number}", "WB-0001"),
            (LOGISTYKA, "500.00", "Wpłata na poczet rat", "WB-0002"),
        ):
            payment = {
                "client_id": client.client_id,
                "amount": amount,
                "received_on": today.isoformat(),
                "title": title,
                "account": ACCOUNT,
                "reference": reference,
            }

            async def paid(payment: dict[str, Any] = payment) -> bool:
                response = await http.post("/api/billing/backoffice/payments", json=payment)
                if response.status_code == 422 and "unknown_client" in response.text:
                    return False
                await _ok(response)
                return True

            await _eventually(paid, f"payment {reference}")
        for client in (TRANSBUD, LOGISTYKA):
            account = {"account_number": ACCOUNT, "bank_name": "Alior Bank S.A.", "purpose": "raty leasingowe"}
            await _ok(
                await http.post(f"/api/billing/backoffice/clients/{client.client_id}/repayment-accounts", json=account)
            )
        for title, kind in (("Umowa leasingu UL/2025/0142", "contract"), ("Aneks nr 1 do umowy UL/2025/0142", "annex")):
            files = {"file": (f"{kind}.pdf", pdf(title.encode("ascii", "replace").decode()), "application/pdf")}
            data = {"client_id": TRANSBUD.client_id, "kind": kind, "title": title, "contract_id": first}
            await _ok(await http.post("/api/billing/backoffice/documents", data=data, files=files))
        note = {
            "number": f"NO/{today.year}/0007",
            "invoice_number": f"FV/{today.year}/00001",
            "days_late": 12,
            "amount": "18.40",
            "issue_date": today.isoformat(),
            "due_date": (today + timedelta(days=14)).isoformat(),
        }
        await _ok(await http.post("/api/billing/backoffice/interest-notes", json=note))

        # Anna is active (her password set the demo way); Piotr activates in the browser.
        async def anna_provisioned() -> bool:
            found = await http.get("/api/identity/backoffice/accounts", params={"email": ANNA.email})
            return found.status_code == 200 and len(found.json().get("grants", [])) == 2

        await _eventually(anna_provisioned, "Anna's two clients")
        await _ok(
            await http.post("/api/identity/backoffice/dev/activate", json={"email": ANNA.email, "password": PASSWORD})
        )

        async def piotr_provisioned() -> bool:
            found = await http.get("/api/identity/backoffice/accounts", params={"email": PIOTR.email})
            return found.status_code == 200

        await _eventually(piotr_provisioned, "Piotr's account")
    return seeded
