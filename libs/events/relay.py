"""The relay of a service: follows its event store and publishes every event to Kafka, in order.

One relay per service, single-active (two relays of one service would only publish duplicates, but
they would race on the checkpoint file). It reads `read_all` after its checkpoint, sends each event to
`<namespace>.<service>.events` (key = stream id, value = the envelope JSON, CloudEvents headers and
traceparent: kafka.py) through an idempotent producer with acks=all, and advances the checkpoint only
after Kafka has acknowledged the whole batch.

Checkpoint: a small JSON file next to the event store (`<data_dir>/<service>/relay-checkpoint.json`),
replaced atomically (write, fsync, rename). It works for any event store, also EventStoreDB (there it
must live on a persistent volume of the single relay instance).

A crash between the acknowledgement and the checkpoint write publishes the batch again after the
restart: the topic then holds some events twice. Consumers deduplicate: a projection skips what a
document already holds (per-stream `_applied` versions), reactors derive their event ids from the cause
(`event_id` is in the value and the `ce_id` header). Order per stream is kept: the idempotent producer
writes each partition in send order, and a republished batch starts again from the checkpoint.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind

from libs.events import jsonutil
from libs.events.docstore import StoreUnavailable
from libs.events.envelope import RecordedEvent, utc_now
from libs.events.errors import describe
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, ensure_topics, new_producer, send_events, start_client
from libs.events.service import metrics
from libs.events.service.tracing import links_to, mark_failed, tracer
from libs.events.store import EventStore, open_if_needed

log = structlog.get_logger(__name__)


class FileCheckpoint:
    """The last global position the relay has published, durable across crashes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int | None:
        if not self.path.exists():
            return None
        position = jsonutil.loads(self.path.read_bytes()).get("position")
        return None if position is None else int(position)

    async def save(self, position: int) -> None:
        await asyncio.to_thread(self._write, position)

    def _write(self, position: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            file.write(jsonutil.dumps({"position": position, "updated_at": utc_now().isoformat()}))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.path)


@dataclass
class RelayStatus:
    service: str
    topic: str
    checkpoint: int | None
    head: int | None
    lag: int
    """Global positions not yet published: events on the SQLite store (dense positions), log bytes on
    EventStoreDB (commit positions)."""
    published: int


class Relay:
    batch_size = 500
    idle_wait = 0.5
    retry_delay = 1.0

    def __init__(
        self,
        service: str,
        store: EventStore,
        config: KafkaConfig,
        checkpoint: FileCheckpoint,
        *,
        lag_sample_interval: float = 15.0,
    ) -> None:
        self.service = service
        self.store = store
        self.config = config
        self.topic = config.topic(service)
        self.checkpoint = checkpoint
        self.lag_sample_interval = lag_sample_interval
        """Seconds between two readings of the lag for the metrics while it runs; 0: none."""
        self.published = 0
        self._position: int | None = checkpoint.load()
        self._producer: AIOKafkaProducer | None = None
        self._lag_measured_at: float | None = None

    @classmethod
    def next_to(
        cls, data_dir: Path, service: str, store: EventStore, config: KafkaConfig, *, lag_sample_interval: float = 15.0
    ) -> Relay:
        """The relay of a service whose event store lives in `data_dir` (the checkpoint goes beside it)."""
        checkpoint = FileCheckpoint(data_dir / "relay-checkpoint.json")
        return cls(service, store, config, checkpoint, lag_sample_interval=lag_sample_interval)

    async def start(self) -> None:
        """Creates the topic (idempotent) and connects; LogUnavailable naming the broker when it cannot be reached."""
        if self._producer is not None:
            return
        await ensure_topics(self.config, [self.topic])
        producer = new_producer(self.config)
        await start_client(producer, self.config.bootstrap, f"start of relay {self.service}'s producer")
        self._producer = producer

    async def connect(self, timeout: float, *, open_store: bool = False) -> None:
        """The relay's start, all of it within one deadline `timeout` seconds away: its event store opens
        (with `open_store`) and answers, then Kafka takes the topic and the producer, each tried again
        until the deadline (a broker still starting beside the relay is waited for). Then StoreUnavailable
        or LogUnavailable naming what could not be reached: a relay whose servers are down or misconfigured
        stops with a clear error instead of waiting without end. Outages after a successful start are
        waited out by `run`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        logged = False
        opened = not open_store
        while True:
            reached_store = False
            try:
                async with asyncio.timeout_at(deadline):
                    if not opened:
                        await open_if_needed(self.store)
                        opened = True
                    await self.store.ping()
                    reached_store = True
                    await self.start()
                return
            except (KafkaError, LogUnavailable, StoreUnavailable, TimeoutError) as error:
                reason = "no answer" if isinstance(error, TimeoutError) else describe(error)
                if loop.time() + self.retry_delay >= deadline:
                    if not reached_store:
                        failed = "answer" if opened else "open"
                        raise StoreUnavailable(
                            f"relay {self.service}: its event store did not {failed} within {timeout:g} s: {reason}"
                        ) from error
                    raise LogUnavailable(
                        f"relay {self.service}: Kafka at {self.config.bootstrap} could not be reached within "
                        f"{timeout:g} s: {reason}"
                    ) from error
                if not logged:
                    log.warning("relay_waiting_to_start", service=self.service, timeout=timeout, error=reason)
                    logged = True
            await asyncio.sleep(self.retry_delay)

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish_pending(self) -> int:
        """Publishes everything after the checkpoint, batch by batch; returns how many events it sent."""
        await self.start()
        sent = 0
        while True:
            events = await self.store.read_all(after=self._position, limit=self.batch_size)
            if not events:
                return sent
            await self._publish(events)
            self._position = events[-1].global_position
            await self.checkpoint.save(self._position)
            sent += len(events)
            self.published += len(events)

    async def _publish(self, events: list[RecordedEvent]) -> None:
        assert self._producer is not None
        span = self._batch_span(events)
        try:
            # raises if any send failed: the checkpoint stays
            await send_events(self._producer, self.topic, self.service, events)
        except BaseException as error:
            mark_failed(span, repr(error))
            raise
        finally:
            span.end()
        metrics.relay_published.add(len(events), self._attributes)

    def _batch_span(self, events: list[RecordedEvent]) -> Span:
        """One producer span per batch, until Kafka has acknowledged all of it, linked to the traces its
        events were stored in. The messages carry each event's stored trace context, so consumers continue
        the recording request's trace without a span per event. A batch stored outside any trace gets
        no span: a republished history starts no new traces."""
        links = links_to(events)
        if not links:
            return INVALID_SPAN
        return tracer.start_span(
            f"publish {self.topic}",
            kind=SpanKind.PRODUCER,
            links=links,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": self.topic,
                "messaging.batch.message_count": len(events),
                "strefa.batch.first_position": events[0].global_position,
                "strefa.batch.last_position": events[-1].global_position,
            },
        )

    async def run(self) -> None:
        """Publishes forever; outages of Kafka or of the event store are waited out (unacknowledged
        batches are sent again). With metrics on, it measures its lag every `lag_sample_interval`."""
        while True:
            try:
                sent = await self.publish_pending()
            except (KafkaError, LogUnavailable, StoreUnavailable, TimeoutError) as error:
                log.warning("relay_waiting", service=self.service, error=describe(error))
                await self.stop()  # a fresh idempotent producer: no sequence state from the failed batch
                await self._sample_lag()
                await asyncio.sleep(self.retry_delay)
                continue
            await self._sample_lag()
            if not sent:
                await self._wait_for_append()

    async def _wait_for_append(self) -> None:
        """Until the next append, at most `idle_wait`. The SQLite store also notices the appends of other
        processes (the relay runs beside the API, not in it), and none made since its previous wait is
        missed; other stores (EventStoreDB) are polled."""
        wait_for_append = getattr(self.store, "wait_for_append", None)
        if callable(wait_for_append):
            await wait_for_append(self.idle_wait)
        else:
            await asyncio.sleep(self.idle_wait)

    async def status(self) -> RelayStatus:
        head = await self.store.head_position()
        lag = max(0, (head or 0) - (self._position or 0))
        metrics.relay_lag.set(lag, self._attributes)
        return RelayStatus(self.service, self.topic, self._position, head, lag, self.published)

    async def _sample_lag(self) -> None:
        """Measures the lag when metrics are on, at most once per `lag_sample_interval`: reading the head
        is a query of its own (a backwards read on EventStoreDB), not to be made on every idle poll."""
        if not metrics.metrics_enabled() or self.lag_sample_interval <= 0:
            return
        now = asyncio.get_running_loop().time()
        if self._lag_measured_at is not None and now - self._lag_measured_at < self.lag_sample_interval:
            return
        self._lag_measured_at = now
        await self.measure_lag()

    async def measure_lag(self) -> None:
        """Updates the relay lag gauge; while the event store is unreachable the last reading stays."""
        try:
            await self.status()
        except (StoreUnavailable, TimeoutError) as error:
            log.warning("relay_lag_unknown", service=self.service, error=repr(error))

    @property
    def _attributes(self) -> dict[str, str]:
        return {"service": self.service, "topic": self.topic}

    async def lag(self) -> int:
        return (await self.status()).lag


if __name__ == "__main__":  # `python -m libs.events.relay --service <name>` (libs/events/cluster.py)
    from libs.events.cluster import relay_main

    relay_main()
