"""Read models of the contracts service: pure folds."""

from __future__ import annotations

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.schemas.contracts import ContractRegistered

CONTRACTS = Collection(
    "contracts",
    (Index.on("client_id"), Index.on("contract_number", unique=True), Index.on("start_date")),
)


def _fold_contract(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case ContractRegistered():
            return {
                "contract_id": event.contract_id,
                "contract_number": event.contract_number,
                "client_id": event.client.client_id,
                "client_name": event.client.name,
                "contract_type": event.contract_type,
                "start_date": event.start_date.isoformat(),
                "end_date": event.end_date.isoformat(),
                "net_value": str(event.net_value),
                "currency": event.currency,
                "asset": event.asset.model_dump(mode="json"),
                "status": "active",
                "registered_at": recorded.occurred_at.isoformat(),
            }
    return doc or {}


contract_list = Projection(
    name="contract_list",
    collection=CONTRACTS,
    sources=("contracts",),
    handles=frozenset({ContractRegistered.event_type}),
    keys=lambda event, _recorded: [event.contract_id] if isinstance(event, ContractRegistered) else [],
    fold=_fold_contract,
)
