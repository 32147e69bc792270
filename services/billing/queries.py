"""The read side of billing: queries over the read models, always within the caller's client and
contracts. "Overdue" and "upcoming" are decided here against today's date in Warsaw (passed in)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from libs.events.access import ACCESS, Principal
from libs.events.docstore import Collection, Document, DocumentStore, Filter, Sort
from libs.events.projection import public
from services.billing.projections import (
    CONTRACTS,
    DOCUMENTS,
    INTEREST_NOTES,
    INVOICES,
    LEDGERS,
    PAYMENTS,
    money,
)

API = "/api/billing"
UNPAID = ("open", "partially_paid")
InvoiceStatus = Literal["open", "partially_paid", "paid", "overdue", "credit"]
InvoiceSort = Literal["issue_date", "-issue_date", "due_date", "-due_date", "number", "-number"]
UPCOMING_DAYS = 30
LATEST_DOCUMENTS = 6


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def scope_filter(principal: Principal) -> dict[str, Any]:
    """The client, and the contracts if the caller is limited to some."""
    found: dict[str, Any] = {"client_id": principal.client_id}
    if principal.contract_ids is not None:
        found["contract_id"] = {"$in": sorted(principal.contract_ids)}
    return found


def _and(filter_: dict[str, Any], name: str, condition: Mapping[str, Any]) -> None:
    """Adds range conditions on a field, keeping the stricter bound where two meet."""
    current = dict(filter_.get(name, {}))
    for operator, value in condition.items():
        if operator in current:
            value = max(current[operator], value) if operator in ("$gt", "$gte") else min(current[operator], value)
        current[operator] = value
    filter_[name] = current


def _range(low: date | None, high: date | None) -> dict[str, str]:
    bounds = {}
    if low is not None:
        bounds["$gte"] = low.isoformat()
    if high is not None:
        bounds["$lte"] = high.isoformat()
    return bounds


def displayed_status(doc: Document, today: date) -> str:
    if doc["status"] in UNPAID and doc["due_date"] < today.isoformat():
        return "overdue"
    return str(doc["status"])


def _status_filter(filter_: dict[str, Any], status: InvoiceStatus, today: date) -> None:
    day = today.isoformat()
    if status == "overdue":
        filter_["status"] = {"$in": list(UNPAID)}
        _and(filter_, "due_date", {"$lt": day})
    elif status in UNPAID:
        filter_["status"] = status
        _and(filter_, "due_date", {"$gte": day})
    else:
        filter_["status"] = status


async def _contract_numbers(store: DocumentStore, docs: Sequence[Document]) -> dict[str, str]:
    ids = sorted({doc["contract_id"] for doc in docs if doc.get("contract_id")})
    found = await store.get_many(CONTRACTS, ids)
    return {contract_id: doc.get("contract_number", "") for contract_id, doc in found.items()}


def invoice_item(doc: Document, today: date, contract_numbers: Mapping[str, str]) -> Document:
    invoice_id = doc["invoice_id"]
    keys = (
        "invoice_id", "number", "contract_id", "instalment_number", "kind", "issue_date", "due_date",
        "net_total", "vat_total", "gross_total", "paid", "outstanding", "currency", "ksef_number", "paid_on",
    )  # fmt: skip
    status = displayed_status(doc, today)
    return {
        **{key: doc.get(key) for key in keys},
        "contract_number": contract_numbers.get(doc.get("contract_id") or ""),
        "status": status,
        "overdue": status == "overdue",
        "links": {"self": f"{API}/invoices/{invoice_id}", "pdf": f"{API}/invoices/{invoice_id}/pdf"},
    }


@dataclass(frozen=True)
class Page:
    items: list[Document]
    total: int
    limit: int
    offset: int

    def body(self) -> Document:
        return {"items": self.items, "total": self.total, "limit": self.limit, "offset": self.offset}


@dataclass(frozen=True)
class InvoiceQuery:
    status: InvoiceStatus | None = None
    contract_id: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    sort: InvoiceSort = "-issue_date"
    limit: int = 50
    offset: int = 0


def _sort(spec: str) -> Sort:
    name = spec.lstrip("-")
    direction: Literal[1, -1] = -1 if spec.startswith("-") else 1
    return [(name, direction), ("number", direction)] if name != "number" else [(name, direction)]


async def _total(
    store: DocumentStore, collection: Collection, filter_: Filter, limit: int, offset: int, found: int
) -> int:
    """How many documents match: a page shorter than the limit tells, unless it lies past the end."""
    if found < limit and (found > 0 or offset == 0):
        return offset + found
    return await store.count(collection, filter_)


async def list_invoices(store: DocumentStore, principal: Principal, query: InvoiceQuery, today: date) -> Page:
    filter_ = scope_filter(principal)
    if query.contract_id is not None:
        if not principal.may_see_contract(query.contract_id):
            return Page([], 0, query.limit, query.offset)
        filter_["contract_id"] = query.contract_id
    if query.status is not None:
        _status_filter(filter_, query.status, today)
    if issued := _range(query.issued_from, query.issued_to):
        _and(filter_, "issue_date", issued)
    if due := _range(query.due_from, query.due_to):
        _and(filter_, "due_date", due)
    docs = await store.find(INVOICES, filter_, sort=_sort(query.sort), limit=query.limit, skip=query.offset)
    total, numbers = await asyncio.gather(
        _total(store, INVOICES, filter_, query.limit, query.offset, len(docs)), _contract_numbers(store, docs)
    )
    return Page([invoice_item(doc, today, numbers) for doc in docs], total, query.limit, query.offset)


async def invoice_details(store: DocumentStore, principal: Principal, invoice_id: str, today: date) -> Document:
    doc = principal.owned(await store.get(INVOICES, invoice_id), "invoice")
    numbers = await _contract_numbers(store, [doc])
    payments = await store.get_many(PAYMENTS, [s["payment_id"] for s in doc["settlements"] if s["payment_id"]])
    corrections = await store.get_many(
        INVOICES, [s["correction_invoice_id"] for s in doc["settlements"] if s["correction_invoice_id"]]
    )
    settlements = []
    for settlement in doc["settlements"]:
        payment = payments.get(settlement["payment_id"] or "")
        correction = corrections.get(settlement["correction_invoice_id"] or "")
        settlements.append(
            {
                **settlement,
                "payment_received_on": payment["received_on"] if payment else None,
                "payment_title": payment["title"] if payment else None,
                "payment_amount": payment["amount"] if payment else None,
                "correction_number": correction["number"] if correction else None,
            }
        )
    corrected = await store.get(INVOICES, doc["corrects_invoice_id"]) if doc.get("corrects_invoice_id") else None
    return {
        **invoice_item(doc, today, numbers),
        "lines": doc["lines"],
        "settlements": settlements,
        "corrects_invoice_id": doc.get("corrects_invoice_id"),
        "corrects_invoice_number": corrected["number"] if corrected else None,
    }


# --- schedules -----------------------------------------------------------------------------------


async def _instalment_invoices(
    store: DocumentStore, client_id: str, contract_ids: Sequence[str], numbers: Sequence[int] | None = None
) -> dict[tuple[str, int], Document]:
    """The first invoice (not a correction) of each instalment of the contracts; with `numbers`, only
    of the instalments so numbered (found through the `(client_id, contract_id, instalment_number)` index)."""
    if not contract_ids:
        return {}
    filter_: dict[str, Any] = {"client_id": client_id, "contract_id": {"$in": list(contract_ids)}}
    if numbers is not None:
        filter_["instalment_number"] = {"$in": sorted(set(numbers))}
    docs = await store.find(INVOICES, filter_)
    found: dict[tuple[str, int], Document] = {}
    for doc in sorted(docs, key=lambda d: (d["issue_date"], d["number"])):
        if doc.get("instalment_number") is not None and doc["kind"] != "correction":
            found.setdefault((doc["contract_id"], doc["instalment_number"]), doc)
    return found


def _instalment_state(invoice: Document | None, today: date) -> str:
    if invoice is None:
        return "not_invoiced"
    if invoice["status"] == "paid":
        return "paid"
    return "overdue" if displayed_status(invoice, today) == "overdue" else "open"


def _instalment_row(contract: Document, instalment: Document, invoice: Document | None, today: date) -> Document:
    return {
        "contract_id": contract["contract_id"],
        "contract_number": contract.get("contract_number"),
        "number": instalment["number"],
        "due_date": instalment["due_date"],
        "net": instalment["net"],
        "vat": instalment["vat"],
        "gross": instalment["gross"],
        "capital": instalment["capital"],
        "interest": instalment["interest"],
        "state": _instalment_state(invoice, today),
        "invoiced": invoice is not None,
        "paid": invoice is not None and invoice["status"] == "paid",
        "invoice": None
        if invoice is None
        else {
            "invoice_id": invoice["invoice_id"],
            "number": invoice["number"],
            "due_date": invoice["due_date"],
            "gross_total": invoice["gross_total"],
            "paid": invoice["paid"],
            "outstanding": invoice["outstanding"],
            "status": displayed_status(invoice, today),
        },
    }


async def owned_contract(store: DocumentStore, principal: Principal, contract_id: str) -> Document:
    return principal.owned(await store.get(CONTRACTS, contract_id), "contract")


async def schedule_status(store: DocumentStore, principal: Principal, contract_id: str, today: date) -> Document:
    contract = await owned_contract(store, principal, contract_id)
    invoices = await _instalment_invoices(store, principal.client_id, [contract_id])
    rows = [
        _instalment_row(contract, instalment, invoices.get((contract_id, instalment["number"])), today)
        for instalment in sorted(contract.get("instalments", []), key=lambda i: i["number"])
    ]
    totals = {part: money(sum((_dec(row[part]) for row in rows), Decimal(0))) for part in ("net", "vat", "gross")}
    paid = sum((_dec(row["invoice"]["paid"]) for row in rows if row["invoice"]), Decimal(0))
    outstanding = sum((_dec(row["invoice"]["outstanding"]) for row in rows if row["invoice"]), Decimal(0))
    return {
        "contract_id": contract_id,
        "contract_number": contract.get("contract_number"),
        "client_name": contract.get("client_name"),
        "status": contract.get("status"),
        "today": today.isoformat(),
        "currency": contract.get("currency", "PLN"),
        "instalments": rows,
        "totals": {**totals, "paid": money(paid), "outstanding": money(outstanding)},
    }


# --- dashboard -----------------------------------------------------------------------------------


def document_item(doc: Document) -> Document:
    document_id = doc["document_id"]
    return {
        "document_id": document_id,
        "title": doc["title"],
        "kind": doc["kind"],
        "contract_id": doc.get("contract_id"),
        "invoice_id": doc.get("invoice_id"),
        "published_on": doc["published_on"],
        "size": doc["file"]["size"],
        "download": f"{API}/documents/{document_id}/download",
    }


async def _overdue(store: DocumentStore, principal: Principal, today: date) -> Document:
    filter_ = scope_filter(principal)
    _status_filter(filter_, "overdue", today)
    docs = await store.find(INVOICES, filter_, sort=[("due_date", 1)])
    return {
        "count": len(docs),
        "total": money(sum((_dec(doc["outstanding"]) for doc in docs), Decimal(0))),
        "oldest_due_date": docs[0]["due_date"] if docs else None,
    }


async def _upcoming(store: DocumentStore, principal: Principal, today: date) -> list[Document]:
    until = (today + timedelta(days=UPCOMING_DAYS)).isoformat()
    contracts = [
        doc
        for doc in await store.find(CONTRACTS, {"client_id": principal.client_id})
        if principal.may_see_contract(doc["contract_id"]) and doc.get("status") != "terminated"
    ]
    due = [
        (contract, instalment)
        for contract in contracts
        for instalment in contract.get("instalments", [])
        if today.isoformat() <= instalment["due_date"] <= until
    ]
    invoices = await _instalment_invoices(
        store,
        principal.client_id,
        sorted({contract["contract_id"] for contract, _ in due}),
        [instalment["number"] for _, instalment in due],
    )
    rows = [
        _instalment_row(contract, instalment, invoices.get((contract["contract_id"], instalment["number"])), today)
        for contract, instalment in due
    ]
    return sorted(rows, key=lambda row: (row["due_date"], row["contract_number"] or "", row["number"]))


async def latest_documents(store: DocumentStore, principal: Principal, limit: int = LATEST_DOCUMENTS) -> list[Document]:
    docs = await store.find(
        DOCUMENTS, scope_filter(principal), sort=[("published_on", -1), ("published_at", -1)], limit=limit
    )
    return [document_item(doc) for doc in docs]


async def switchable_clients(store: DocumentStore, principal: Principal) -> list[Document]:
    grants = await store.find(ACCESS, {"account_id": principal.account_id, "kind": "grant"})
    clients = [
        {
            "client_id": g["client_id"],
            "client_name": g.get("client_name"),
            "current": g["client_id"] == principal.client_id,
        }
        for g in grants
        if g.get("active", True)
    ]
    return sorted(clients, key=lambda c: (c["client_name"] or "", c["client_id"]))


async def dashboard(store: DocumentStore, principal: Principal, today: date) -> Document:
    """Its parts are independent, so their queries run at once: a request waits for the slowest part
    (two round trips on MongoDB), not for all six queries one after another. A part outside the caller's
    scopes is not queried (None)."""
    parts: dict[str, Awaitable[Any]] = {
        "ledger": store.get(LEDGERS, principal.client_id),
        "overdue": _overdue(store, principal, today),
    }
    if "contracts:read" in principal.scopes:
        parts["upcoming"] = _upcoming(store, principal, today)
    if "documents:read" in principal.scopes:
        parts["latest_documents"] = latest_documents(store, principal)
    parts["switchable_clients"] = switchable_clients(store, principal)
    # not a TaskGroup: a failed query must raise as itself (StoreUnavailable: 503), not in an ExceptionGroup
    found = dict(zip(parts, await asyncio.gather(*parts.values()), strict=True))
    ledger = found["ledger"] or {}
    return {
        "client_id": principal.client_id,
        "today": today.isoformat(),
        "overdue": found["overdue"],
        "upcoming": found.get("upcoming"),
        "overpayment": ledger.get("overpayment", "0.00"),
        "latest_documents": found.get("latest_documents"),
        "repayment_accounts": ledger.get("repayment_accounts", []),
        "switchable_clients": found["switchable_clients"],
    }


# --- interest notes, documents, the settlement statement -----------------------------------------


async def list_interest_notes(
    store: DocumentStore, principal: Principal, contract_id: str | None, limit: int, offset: int
) -> Page:
    filter_ = scope_filter(principal)
    if contract_id is not None:
        if not principal.may_see_contract(contract_id):
            return Page([], 0, limit, offset)
        filter_["contract_id"] = contract_id
    total = await store.count(INTEREST_NOTES, filter_)
    docs = await store.find(INTEREST_NOTES, filter_, sort=[("issue_date", -1), ("_id", 1)], limit=limit, skip=offset)
    invoices = await store.get_many(INVOICES, [doc["invoice_id"] for doc in docs])
    items = [{**public(doc), "invoice_number": invoices.get(doc["invoice_id"], {}).get("number")} for doc in docs]
    return Page(items, total, limit, offset)


async def list_documents(
    store: DocumentStore, principal: Principal, kind: str | None, contract_id: str | None, limit: int, offset: int
) -> Page:
    filter_: dict[str, Any] = scope_filter(principal)
    if kind is not None:
        filter_["kind"] = kind
    if contract_id is not None:
        if not principal.may_see_contract(contract_id):
            return Page([], 0, limit, offset)
        filter_["contract_id"] = contract_id
    total = await store.count(DOCUMENTS, filter_)
    docs = await store.find(
        DOCUMENTS, filter_, sort=[("published_on", -1), ("published_at", -1)], limit=limit, skip=offset
    )
    return Page([document_item(doc) for doc in docs], total, limit, offset)


async def statement(store: DocumentStore, principal: Principal, today: date) -> Document:
    """Everything the settlement statement shows: invoices, payments and the balance."""
    filter_: Filter = scope_filter(principal)
    invoices = await store.find(INVOICES, filter_, sort=[("issue_date", 1), ("number", 1)])
    numbers = {doc["invoice_id"]: doc["number"] for doc in invoices}
    payments = []
    for payment in await store.find(PAYMENTS, {"client_id": principal.client_id}, sort=[("received_on", 1)]):
        allocations = [
            {**a, "number": numbers[a["invoice_id"]]} for a in payment["allocations"] if a["invoice_id"] in numbers
        ]
        if principal.contract_ids is None or allocations:
            payments.append({**public(payment), "allocations": allocations})
    items = [{**doc, "status": displayed_status(doc, today)} for doc in invoices]
    owed = [doc for doc in items if doc["status"] != "credit"]
    outstanding = sum((_dec(doc["outstanding"]) for doc in owed), Decimal(0))
    ledger = await store.get(LEDGERS, principal.client_id) or {}
    overpayment = _dec(ledger.get("overpayment", "0.00")) if principal.contract_ids is None else Decimal(0)
    overdue = sum((_dec(doc["outstanding"]) for doc in items if doc["status"] == "overdue"), Decimal(0))
    return {
        "today": today.isoformat(),
        "invoices": items,
        "payments": payments,
        "totals": {
            "invoiced": money(sum((_dec(doc["gross_total"]) for doc in owed), Decimal(0))),
            "paid": money(sum((_dec(doc["paid"]) for doc in owed), Decimal(0))),
            "outstanding": money(outstanding),
            "overdue": money(overdue),
            "overpayment": money(overpayment),
            "balance": money(outstanding - overpayment),
        },
    }
