"""Read models of the contracts service: pure folds.

Every document carries `client_id` and `contract_id`, so `Principal.owned()` can tell whose it is.

- `contracts` (contract_list): one document per contract, with its asset, status and a summary of
  the current schedule; the contracts list and the contract details read it.
- `contract_schedules` (contract_schedule): the current schedule of each contract, instalment by
  instalment (billing offers the paid/open state per instalment separately).
- `contract_search` (contract_search): one document per (contract, search term) keyed
  `<client>|<term>|<contract>`, so a prefix search on the contract number, the make, model, VIN or
  number plate is a range query on `_id`, the one index every store has.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.schemas.contracts import (
    ContractRegistered,
    ContractTerminated,
    Instalment,
    ScheduleAgreed,
    ScheduleChanged,
)

CONTRACTS = Collection(
    "contracts",
    (
        Index.on("contract_number", unique=True),
        Index.on("client_id", "start_date"),
        Index.on("client_id", "end_date"),
        Index.on("client_id", "contract_number"),
        Index.on("client_id", "status"),
        Index.on("client_id", "contract_type"),
        Index.on("start_date"),
    ),
)
SCHEDULES = Collection("contract_schedules", (Index.on("client_id"),))
SEARCH = Collection("contract_search")

SOURCES = ("contracts",)
_CONTRACT_EVENTS = (ContractRegistered, ScheduleAgreed, ScheduleChanged, ContractTerminated)


def _money(amount: Decimal) -> str:
    return format(amount, "f")


def _totals(instalments: Sequence[Instalment]) -> dict[str, str]:
    parts = ("net", "vat", "gross", "capital", "interest")
    return {
        part: _money(sum((getattr(instalment, part) for instalment in instalments), Decimal("0.00"))) for part in parts
    }


def _contract_key(event: DomainEvent, _: RecordedEvent) -> list[str]:
    return [event.contract_id] if isinstance(event, _CONTRACT_EVENTS) else []


def _fold_contract(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case ContractRegistered():
            return {
                "contract_id": event.contract_id,
                "contract_number": event.contract_number,
                "client_id": event.client.client_id,
                "client_name": event.client.name,
                "client_nip": event.client.nip,
                "contract_type": event.contract_type,
                "start_date": event.start_date.isoformat(),
                "end_date": event.end_date.isoformat(),
                "net_value": _money(event.net_value),
                "currency": event.currency,
                "asset": event.asset.model_dump(mode="json"),
                "status": "active",
                "terminated_on": None,
                "termination_reason": None,
                "schedule": None,
                "registered_at": recorded.occurred_at.isoformat(),
            }
        case ScheduleAgreed() | ScheduleChanged():
            base = doc or {"contract_id": event.contract_id, "client_id": event.client_id}
            revision = ((base.get("schedule") or {}).get("revision") or 0) + 1
            instalments = event.instalments
            totals = _totals(instalments)
            summary = {
                "instalments": len(instalments),
                "first_due_date": instalments[0].due_date.isoformat(),
                "last_due_date": instalments[-1].due_date.isoformat(),
                "total_net": totals["net"],
                "total_vat": totals["vat"],
                "total_gross": totals["gross"],
                "currency": event.currency,
                "revision": revision,
                "updated_at": recorded.occurred_at.isoformat(),
            }
            return {**base, "schedule": summary}
        case ContractTerminated():
            base = doc or {"contract_id": event.contract_id, "client_id": event.client_id}
            return {
                **base,
                "status": "terminated",
                "terminated_on": event.terminated_on.isoformat(),
                "termination_reason": event.reason,
            }
    return doc or {}


def _fold_schedule(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case ContractRegistered():
            return {
                "contract_id": event.contract_id,
                "client_id": event.client.client_id,
                "contract_number": event.contract_number,
                "currency": event.currency,
                "revision": 0,
                "agreed_at": None,
                "changed_at": None,
                "change_reason": None,
                "instalments": [],
                "totals": None,
            }
        case ScheduleAgreed() | ScheduleChanged():
            base = doc or {"contract_id": event.contract_id, "client_id": event.client_id, "contract_number": None}
            changed = isinstance(event, ScheduleChanged)
            return {
                **base,
                "currency": event.currency,
                "revision": int(base.get("revision") or 0) + 1,
                "agreed_at": base.get("agreed_at") if changed else recorded.occurred_at.isoformat(),
                "changed_at": recorded.occurred_at.isoformat() if changed else None,
                "change_reason": event.reason if isinstance(event, ScheduleChanged) else None,
                "instalments": [instalment.model_dump(mode="json") for instalment in event.instalments],
                "totals": _totals(event.instalments),
            }
    return doc or {}


_SEPARATORS = re.compile(r"[\s/\\,;.|_-]+")
SEARCH_SEPARATOR = "|"
"""Separates client, term and contract in a search document's `_id`; no client id or term holds it."""


def fold_text(text: str) -> str:
    """Upper case without diacritics (Ł -> L, Ś -> S), so `skoda` finds `Škoda`."""
    decomposed = unicodedata.normalize("NFKD", text.upper().replace("Ł", "L"))
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return folded.replace(SEARCH_SEPARATOR, "").strip()


def search_terms(event: ContractRegistered) -> list[str]:
    """The words a contract is found by: its number (whole and by parts), the asset's make, model,
    kind, VIN and number plate."""
    asset = event.asset
    whole = [event.contract_number, asset.vin or "", asset.registration_number or ""]
    words = [event.contract_number, asset.make, asset.model, asset.kind]
    terms = [fold_text(text) for text in whole]
    terms += [fold_text(part) for text in words for part in _SEPARATORS.split(text)]
    return sorted({term for term in terms if term})


def search_prefix(client_id: str, word: str) -> str:
    """The `_id` prefix of the search documents of `client_id` whose term starts with `word`."""
    return f"{client_id}{SEARCH_SEPARATOR}{fold_text(word)}"


def _search_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    if not isinstance(event, ContractRegistered):
        return []
    client = event.client.client_id
    return [f"{client}{SEARCH_SEPARATOR}{term}{SEARCH_SEPARATOR}{event.contract_id}" for term in search_terms(event)]


def _fold_search(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    # The term is in the key (`<client>|<term>|<contract>`): a prefix search is a range on `_id`.
    assert isinstance(event, ContractRegistered)
    return {"contract_id": event.contract_id, "client_id": event.client.client_id}


def _handles(*types: type[DomainEvent]) -> frozenset[str]:
    return frozenset(cls.event_type for cls in types)


contract_list = Projection(
    name="contract_list",
    collection=CONTRACTS,
    sources=SOURCES,
    handles=_handles(*_CONTRACT_EVENTS),
    keys=_contract_key,
    fold=_fold_contract,
)

contract_schedule = Projection(
    name="contract_schedule",
    collection=SCHEDULES,
    sources=SOURCES,
    handles=_handles(ContractRegistered, ScheduleAgreed, ScheduleChanged),
    keys=_contract_key,
    fold=_fold_schedule,
)

contract_search = Projection(
    name="contract_search",
    collection=SEARCH,
    sources=SOURCES,
    handles=_handles(ContractRegistered),
    keys=_search_keys,
    fold=_fold_search,
)

PROJECTIONS = (contract_list, contract_schedule, contract_search)
