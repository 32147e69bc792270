"""Cluster mode with the real broker and FerretDB: one trace from the HTTP command to every consumer in
the other process's place (the relay's batch span linked to it), and dead letters on the dead-letter topic.

A small service of its own (orders: placed, then shipped by a reactor, listed by a projection that
cannot read a "poison" item) runs on the real platform pieces: ClusterService (its Kafka event log,
dead-letter sink and MongoDB read models), the relay, and the service app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from libs.events import Aggregate, Collection, Document, DomainEvent, EventRegistry, Projection, Reactor, RecordedEvent
from libs.events.cluster import ClusterInfra, ClusterService
from libs.events.docstore import StoreUnavailable
from libs.events.envelope import NewEvent
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig
from libs.events.projection import public
from libs.events.relay import Relay
from libs.events.service.app import create_service_app
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.conftest import header, read_topic
from tests.helpers import eventually
from tests.observability.conftest import Scrape, Spans
from tests.observability.test_tracing import parent_id, span_id, stored_ids, trace_id
from tests.servers import KAFKA_SKIP, MONGO_SKIP, delete_namespace, server_setting

pytestmark = pytest.mark.cluster

registry = EventRegistry()
POISON = "poison"


@registry.register
class OrderPlaced(DomainEvent):
    event_type = "OrderPlaced"
    order_id: str
    item: str


@registry.register
class OrderShipped(DomainEvent):
    event_type = "OrderShipped"
    order_id: str


@dataclass(frozen=True)
class Place:
    item: str


@dataclass(frozen=True)
class Ship:
    pass


@dataclass(frozen=True)
class Order:
    placed: bool = False
    shipped: bool = False


def _evolve(state: Order, event: DomainEvent) -> Order:
    if isinstance(event, OrderPlaced):
        return Order(placed=True)
    return Order(placed=True, shipped=True)


def order_aggregate(order_id: str) -> Aggregate[Order, Place | Ship]:
    def decide(state: Order, command: Place | Ship) -> Sequence[DomainEvent]:
        if isinstance(command, Place):
            return [] if state.placed else [OrderPlaced(order_id=order_id, item=command.item)]
        return [OrderShipped(order_id=order_id)] if state.placed and not state.shipped else []

    return Aggregate(category="orders-order", initial=Order, decide=decide, evolve=_evolve)


ORDERS = Collection("orders")


def _fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    if isinstance(event, OrderPlaced):
        if event.item == POISON:
            raise ValueError("cannot list this item")
        return {**(doc or {}), "order_id": event.order_id, "item": event.item, "status": "placed"}
    return {**(doc or {}), "status": "shipped"}


orders = Projection(
    name="orders",
    collection=ORDERS,
    sources=("orders",),
    handles=frozenset({OrderPlaced.event_type, OrderShipped.event_type}),
    keys=lambda event, _: [getattr(event, "order_id", "")],
    fold=_fold,
)


def shipping(runtime: ServiceRuntime) -> Reactor:
    async def react(event: DomainEvent, recorded: RecordedEvent) -> None:
        assert isinstance(event, OrderPlaced)
        await runtime.commands.handle(
            order_aggregate(event.order_id),
            event.order_id,
            Ship(),
            recorded.context(),
            idempotency_key=f"ship:{recorded.event_id}",
        )

    return Reactor(name="shipping", sources=("orders",), handles=frozenset({OrderPlaced.event_type}), react=react)


class OrderIn(BaseModel):
    order_id: str
    item: str


router = APIRouter()


@router.post("/orders", status_code=201)
async def place(body: OrderIn, request: Request, runtime: Runtime) -> dict[str, str]:
    await runtime.commands.handle(
        order_aggregate(body.order_id), body.order_id, Place(body.item), event_context(request)
    )
    return {"order_id": body.order_id}


@router.get("/orders/{order_id}")
async def show(order_id: str, runtime: Runtime) -> dict[str, Any]:
    doc = await runtime.documents.get(ORDERS, order_id)
    return public(doc) if doc else {}


definition = ServiceDefinition(
    name="orders",
    title="observability tests: orders",
    routers=[router],
    projections=[orders],
    reactors=lambda runtime: [shipping(runtime)],
)


@dataclass
class Orders:
    http: httpx.AsyncClient
    node: ClusterService
    kafka: KafkaConfig

    async def place(self, item: str) -> str:
        order_id = f"o-{uuid4().hex[:8]}"
        response = await self.http.post("/orders", json={"order_id": order_id, "item": item})
        assert response.status_code == 201, response.text
        return order_id

    async def status(self, order_id: str) -> str | None:
        status: str | None = (await self.http.get(f"/orders/{order_id}")).json().get("status")
        return status

    async def event(self, order_id: str, event_type: str) -> RecordedEvent:
        (found,) = [
            event
            for event in await self.node.events.read_stream(f"orders-order-{order_id}")
            if event.type == event_type
        ]
        return found


@pytest.fixture
async def cluster_orders(tmp_path: Path, metrics_url: str, spans: Spans) -> AsyncIterator[Orders]:
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    kafka = KafkaConfig(bootstrap, namespace=f"otel-{uuid4().hex[:12]}", session_timeout_ms=6000)
    infra = ClusterInfra(kafka, mongo_uri, None, kafka.namespace)
    settings = ServiceSettings(data_dir=tmp_path / "orders", dev_mode=True, secrets_dir=tmp_path / "secrets")
    node = ClusterService(definition, settings, infra, registry)
    await node.open()
    relay = Relay.next_to(settings.data_dir, "orders", node.events, kafka)
    relaying = asyncio.create_task(relay.run())
    await node.runtime.start()
    try:
        transport = httpx.ASGITransport(app=create_service_app(node.runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as http:
            yield Orders(http, node, kafka)
    finally:
        await node.runtime.stop()
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await relay.stop()
        with contextlib.suppress(StoreUnavailable):
            await node.documents.drop_database()
        await node.close()
        with contextlib.suppress(KafkaError, LogUnavailable, OSError, TimeoutError):
            await asyncio.wait_for(delete_namespace(kafka), 30)


async def test_one_trace_from_the_http_command_through_the_relay_to_every_consumer(
    cluster_orders: Orders, spans: Spans
) -> None:
    orders = cluster_orders
    order_id = await orders.place("rower")
    await eventually(lambda: _is(orders, order_id, "shipped"), timeout=60, what="the order shipped and listed")
    placed = await orders.event(order_id, "OrderPlaced")
    shipped = await orders.event(order_id, "OrderShipped")
    await eventually(
        lambda: any(span.name == "apply orders.orders" for span in spans.of_event(shipped.event_id)),
        what="the projection's span of the shipment",
    )
    trace, append = stored_ids(placed)
    topic = orders.kafka.topic("orders")

    (http,) = [span for span in spans.all() if span.kind is SpanKind.SERVER and trace_id(span) == trace]
    (appended,) = [span for span in spans.named("append orders-order") if span_id(span) == append]
    assert parent_id(appended) == span_id(http)

    # the relay's publish: one producer span per batch, linked to the append the event was stored in
    (publish,) = [span for span in spans.named(f"publish {topic}") if append in linked_span_ids(span)]
    assert publish.kind is SpanKind.PRODUCER
    assert publish.attributes is not None
    assert publish.attributes["messaging.system"] == "kafka"
    assert publish.attributes["messaging.destination.name"] == topic
    sent_together = publish.attributes["messaging.batch.message_count"]
    assert isinstance(sent_together, int)
    assert sent_together >= 1
    # the message carries the stored trace context, not the publish span's
    (record,) = [r for r in await read_topic(orders.kafka, topic) if header(r, "ce_id") == str(placed.event_id)]
    assert header(record, "traceparent") == placed.trace_context["traceparent"]

    # each consumer continues the trace from the Kafka header: a child of the recording request's append
    consumers = {span.name: span for span in spans.of_event(placed.event_id)}
    assert set(consumers) == {"react orders.shipping", "apply orders.orders"}
    groups = {"react orders.shipping": "orders.shipping", "apply orders.orders": "orders.orders"}
    for name, span in consumers.items():
        assert trace_id(span) == trace
        assert parent_id(span) == append
        assert span.attributes is not None
        assert span.attributes["messaging.consumer.group.name"] == f"{orders.kafka.namespace}.{groups[name]}"

    # what the reactor appended goes the same way, still in the one trace
    shipped_trace, shipped_append = stored_ids(shipped)
    assert shipped_trace == trace
    (reacted,) = [span for span in spans.named("append orders-order") if span_id(span) == shipped_append]
    assert parent_id(reacted) == span_id(consumers["react orders.shipping"])
    for span in spans.of_event(shipped.event_id):
        assert trace_id(span) == trace


async def _is(orders: Orders, order_id: str, status: str) -> bool:
    return await orders.status(order_id) == status


async def test_a_dead_letter_in_cluster_mode_reaches_the_dead_letter_topic_and_the_counter(
    cluster_orders: Orders, spans: Spans, scrape: Any
) -> None:
    orders = cluster_orders
    labels = {"service": "orders", "consumer": "orders"}
    before = (await scrape()).value("strefa_consumer_dead_letters_total", **labels) or 0
    poisoned = await orders.place(POISON)
    fine = await orders.place("hulajnoga")
    await eventually(lambda: _is(orders, fine, "shipped"), timeout=60, what="the projection went on")
    poison = await orders.event(poisoned, "OrderPlaced")
    letters: list[Any] = []

    async def on_the_topic() -> bool:
        try:
            records = await asyncio.wait_for(read_topic(orders.kafka, orders.kafka.dead_letter_topic), 30)
        except (KafkaError, TimeoutError):  # no dead-letter topic (yet)
            return False
        letters[:] = [record for record in records if header(record, "ce_id") == str(poison.event_id)]
        return bool(letters)

    await eventually(on_the_topic, timeout=60, what="the dead letter on the dead-letter topic")
    (letter,) = letters
    assert header(letter, "dlq_consumer") == "orders"
    assert (header(letter, "dlq_error") or "").endswith(": ValueError")
    assert RecordedEvent.from_json(letter.value).event_id == poison.event_id

    result: Scrape = await scrape()
    assert result.value("strefa_consumer_dead_letters_total", **labels) == before + 1
    (dead,) = [span for span in spans.of_event(poison.event_id) if span.name == "dead letter orders.orders"]
    assert trace_id(dead) == stored_ids(poison)[0]


def linked_span_ids(span: ReadableSpan) -> set[str]:
    return {format(link.context.span_id, "016x") for link in span.links}


def traceparent() -> str:
    return f"00-{uuid4().hex}-{uuid4().hex[:16]}-01"


def recorded_in(trace_context: str | None, data: dict[str, Any] | None = None) -> NewEvent:
    return NewEvent(
        type="OrderPlaced",
        version=1,
        data=data or {"order_id": "o-1", "item": "rower"},
        trace_context={"traceparent": trace_context} if trace_context else {},
    )


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaConfig]:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    config = KafkaConfig(bootstrap, namespace=f"otel-{uuid4().hex[:12]}")
    yield config
    with contextlib.suppress(KafkaError, LogUnavailable, OSError, TimeoutError):
        await asyncio.wait_for(delete_namespace(config), 30)


@pytest.fixture
async def relay(tmp_path: Path, kafka: KafkaConfig) -> AsyncIterator[Relay]:
    store = await SqliteEventStore(tmp_path / "orders" / "events.db", "orders").open()
    relay = Relay.next_to(tmp_path / "orders", "orders", store, kafka)
    yield relay
    await relay.stop()
    await store.close()


async def test_the_relay_publishes_a_batch_in_one_span_linked_to_the_trace_of_each_event(
    relay: Relay, kafka: KafkaConfig, spans: Spans
) -> None:
    first_request, second_request = traceparent(), traceparent()
    await relay.store.append("orders-order-1", [recorded_in(first_request), recorded_in(first_request)], ANY_VERSION)
    await relay.store.append("orders-order-2", [recorded_in(second_request)], ANY_VERSION)
    await relay.store.append("orders-order-3", [recorded_in(None)], ANY_VERSION)

    assert await relay.publish_pending() == 4

    (publish,) = spans.named(f"publish {relay.topic}")
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is None  # a trace of its own: the requests' traces go on in the messages
    assert linked_span_ids(publish) == {first_request.split("-")[2], second_request.split("-")[2]}
    assert {format(link.context.trace_id, "032x") for link in publish.links} == {
        first_request.split("-")[1],
        second_request.split("-")[1],
    }
    assert publish.status.status_code is StatusCode.UNSET
    assert publish.attributes is not None
    assert publish.attributes["messaging.batch.message_count"] == 4
    assert publish.attributes["messaging.destination.name"] == relay.topic
    records = sorted(await read_topic(kafka, relay.topic), key=lambda record: record.key)
    assert [header(record, "traceparent") for record in records] == [
        first_request,
        first_request,
        second_request,
        None,
    ]


async def test_a_history_stored_outside_any_trace_is_published_without_a_span(relay: Relay, spans: Spans) -> None:
    await relay.store.append("orders-order-1", [recorded_in(None), recorded_in(None)], ANY_VERSION)
    assert await relay.publish_pending() == 2
    assert spans.named(f"publish {relay.topic}") == []


async def test_a_batch_kafka_refuses_marks_its_publish_span_failed_and_keeps_the_checkpoint(
    relay: Relay, spans: Spans
) -> None:
    await relay.store.append("orders-order-1", [recorded_in(traceparent())], ANY_VERSION)
    too_large = {"order_id": "o-2", "item": "x" * 2_000_000}  # over the producer's 1 MiB request limit
    await relay.store.append("orders-order-2", [recorded_in(traceparent(), too_large)], ANY_VERSION)

    with pytest.raises(KafkaError):
        await relay.publish_pending()

    (publish,) = spans.named(f"publish {relay.topic}")
    assert publish.status.status_code is StatusCode.ERROR
    assert "MessageSizeTooLarge" in (publish.status.description or "")
    assert relay.checkpoint.load() is None
    assert relay.published == 0
