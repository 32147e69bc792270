"""A small read model for the cluster tests: invoice totals per client, exact in Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from fastapi import APIRouter
from pydantic import BaseModel

from libs.events import Collection, Document, DomainEvent, EventRegistry, Index, NewEvent, Projection, RecordedEvent
from libs.events.docstore import DocumentStore
from libs.events.kafka import KafkaConfig, KafkaEventLog
from libs.events.projection import DeadLetterSink, ProjectionRunner, public
from libs.events.service.deps import Runtime
from libs.events.service.runtime import ServiceDefinition
from libs.events.store import NO_STREAM

registry = EventRegistry()
POISON = "poison"


@registry.register
class InvoiceIssued(DomainEvent):
    event_type = "InvoiceIssued"
    client_id: str
    gross: str


TOTALS = Collection("client_totals", (Index.on("client_id"),))


def _fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    assert isinstance(event, InvoiceIssued)
    if event.gross == POISON:
        raise ValueError("cannot read the amount")
    current = doc or {"client_id": event.client_id, "total": "0.00", "invoices": 0}
    return {
        **current,
        "total": str(Decimal(current["total"]) + Decimal(event.gross)),
        "invoices": current["invoices"] + 1,
    }


totals = Projection(
    name="client_totals",
    collection=TOTALS,
    sources=("billing",),
    handles=frozenset({InvoiceIssued.event_type}),
    keys=lambda event, _: [event.client_id] if isinstance(event, InvoiceIssued) else [],
    fold=_fold,
)


def invoice(client: str, gross: str, traceparent: str | None = None) -> NewEvent:
    return NewEvent(
        type=InvoiceIssued.event_type,
        version=1,
        data={"client_id": client, "gross": gross},
        client_id=client,
        trace_context={"traceparent": traceparent} if traceparent else {},
    )


def projector(
    config: KafkaConfig, store: DocumentStore, group: str, dead_letter_sink: DeadLetterSink | None = None
) -> ProjectionRunner:
    """The totals projection reading billing's Kafka topic in consumer group `group`."""
    consumer = KafkaEventLog(config).consumer(group, list(totals.sources))
    runner = ProjectionRunner(
        totals, consumer, store, registry, service="billing", personal=None, dead_letter_sink=dead_letter_sink
    )
    runner.idle_timeout = 0.2
    runner.retry_delay = 0.5
    return runner


async def totals_by_client(store: DocumentStore) -> dict[str, tuple[int, Decimal]]:
    return {doc["client_id"]: (doc["invoices"], Decimal(doc["total"])) for doc in await store.find(TOTALS)}


class InvoiceIn(BaseModel):
    client_id: str
    gross: Decimal


router = APIRouter()


@router.post("/invoices", status_code=201)
async def issue_invoice(body: InvoiceIn, runtime: Runtime) -> dict[str, str]:
    """The command side needs only the event store: it works while the read models are down."""
    stream_id = f"billing-invoice-{uuid4().hex}"
    await runtime.events.append(stream_id, [invoice(body.client_id, str(body.gross))], NO_STREAM)
    return {"stream_id": stream_id}


@router.get("/totals")
async def list_totals(runtime: Runtime) -> list[dict[str, Any]]:
    return [public(doc) for doc in await runtime.documents.find(TOTALS, sort=[("client_id", 1)])]


totals_service = ServiceDefinition(
    name="billing", title="cluster tests: invoice totals", routers=[router], projections=[totals]
)
"""A service on the real platform (runtime, app, problems, readiness) that other sessions do not change."""
