"""Relay publish rate: events per second from a service's event store into Kafka.

Measured: `Relay.publish_pending()` (libs/events/relay.py, as `python -m libs.events.relay` runs it)
over the billing store of the cloned log, into a fresh topic (3 partitions), from checkpoint 0 until
everything is acknowledged; connecting and creating the topic are not timed. Tracing is configured as
in the relay process (SDK provider, no exporter), so its per-event spans are part of the cost.
Baseline: a bare AIOKafkaProducer with the relay's producer settings (idempotent, acks=all,
linger 5 ms) sending the same messages (the same envelope JSON, keys and header bytes), then
awaiting every acknowledgement.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.core import Figure, Stopwatch, Workspace, per_second, rate_figure
from bench.infra import Infra
from libs.events.envelope import RecordedEvent
from libs.events.kafka import KafkaConfig, ensure_topics, event_headers
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_store import SqliteEventStore

SERVICE = "billing"


async def relay_rate(store: SqliteEventStore, config: KafkaConfig, checkpoint: Path) -> tuple[float, int]:
    relay = Relay(SERVICE, store, config, FileCheckpoint(checkpoint))
    await relay.start()
    try:
        watch = Stopwatch()
        sent = await relay.publish_pending()
        return per_second(sent, watch.elapsed), sent
    finally:
        await relay.stop()


async def raw_rate(events: list[RecordedEvent], config: KafkaConfig) -> float:
    topic = config.topic(SERVICE)
    await ensure_topics(config, [topic])
    messages = [(event.to_json(), event.stream_id.encode(), event_headers(event, SERVICE)) for event in events]
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        watch = Stopwatch()
        acknowledgements = [
            await producer.send(topic, value=value, key=key, headers=headers) for value, key, headers in messages
        ]
        await asyncio.gather(*acknowledgements)
        return per_second(len(messages), watch.elapsed)
    finally:
        await producer.stop()


async def measure(work: Workspace, infra: Infra, log_dir: Path) -> Figure:
    store = await SqliteEventStore(log_dir / SERVICE / "events.db", SERVICE).open()
    try:
        events: list[RecordedEvent] = []
        while batch := await store.read_all(after=events[-1].global_position if events else None, limit=5000):
            events.extend(batch)
        relay_rates: list[float] = []
        raw_rates: list[float] = []
        for round_ in range(work.scale.rounds):
            namespace = f"{infra.namespace}relay{round_}"
            raw_config = infra.kafka(f"{infra.namespace}raw{round_}")
            if round_ % 2 == 0:
                raw_rates.append(await raw_rate(events, raw_config))
            rate, _sent = await relay_rate(store, infra.kafka(namespace), work.root / f"relay-checkpoint-{round_}.json")
            relay_rates.append(rate)
            if round_ % 2 == 1:
                raw_rates.append(await raw_rate(events, raw_config))
    finally:
        await store.close()
    sizes = [len(event.to_json()) for event in events[:2000]]
    return rate_figure(
        "relay.publish",
        "Relay publish rate into Kafka",
        "cluster",
        "events/s",
        max(relay_rates),
        max(raw_rates),
        "bare AIOKafkaProducer, same messages, idempotent, acks=all, linger 5 ms",
        0.7,
        {
            "events": len(events),
            "source": "billing store of the cloned log (SQLite)",
            "topic_partitions": 3,
            "acks": "all",
            "relay_batch": Relay.batch_size,
            "rounds": work.scale.rounds,
            "kept": "best round of each side",
        },
        {
            "relay_rounds": [round(rate, 1) for rate in relay_rates],
            "raw_rounds": [round(rate, 1) for rate in raw_rates],
            "mean_value_bytes": round(sum(sizes) / max(1, len(sizes))),
        },
    )
