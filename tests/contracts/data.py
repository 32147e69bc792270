"""Realistic back-office payloads for the contracts tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

CLIENTS = {
    "CL-1001": ("Transport Nowak Sp. z o.o.", "526-025-02-74"),
    "CL-2002": ("Budmax Kowalski S.A.", "113-000-45-63"),
}


def contract_body(
    number: str = "UL/2026/11/0001",
    client_id: str = "CL-1001",
    *,
    start: str = "2026-01-15",
    end: str = "2029-01-15",
    asset: dict[str, Any] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    name, nip = CLIENTS[client_id]
    body: dict[str, Any] = {
        "contract_number": number,
        "client": {"client_id": client_id, "name": name, "nip": nip},
        "contract_type": "operating",
        "start_date": start,
        "end_date": end,
        "net_value": "185000.00",
        "currency": "PLN",
        "asset": asset
        or {
            "kind": "samochód osobowy",
            "make": "Škoda",
            "model": "Superb",
            "vin": "TMBJJ7NP5L7012345",
            "registration_number": "WX 1234A",
            "year": 2025,
        },
        "contact_persons": [
            {"first_name": "Zofia", "last_name": "Żółkiewska", "email": "zofia@nowak.pl", "phone": "601 234 567"}
        ],
    }
    body.update(changes)
    return body


def _month(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, min(start.day, 28))


def instalment(number: int, due: date, net: str = "3000.00", interest: str = "420.15") -> dict[str, Any]:
    vat = (Decimal(net) * Decimal("0.23")).quantize(Decimal("0.01"))
    return {
        "number": number,
        "due_date": due.isoformat(),
        "net": net,
        "vat": str(vat),
        "gross": str(Decimal(net) + vat),
        "capital": str(Decimal(net) - Decimal(interest)),
        "interest": interest,
    }


def schedule_body(count: int = 36, first_due: str = "2026-02-15", net: str = "3000.00") -> dict[str, Any]:
    first = date.fromisoformat(first_due)
    return {"instalments": [instalment(n, _month(first, n - 1), net) for n in range(1, count + 1)]}
