"""Where the exporter reads events: Kafka topics (its own consumer group) or the embedded SQLite stores.

Both give records as `(offset, envelope)` per source partition, in offset order, and take commits as
"the next offset to read". In Kafka a source partition is a topic partition and the committed offsets
are the consumer group's; in embedded mode it is one service's event store (partition 0, offsets are
global positions) and the commits go to a checkpoint file of the exporter's own.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.events.envelope import RecordedEvent
from libs.events.kafka import UnknownSource, available, decode, start_client, topic_partitions
from libs.events.sqlite_store import SqliteEventStore

CLIENT_ID = "strefa-analytics"

SourcePartition = tuple[str, int]
"""(topic, partition) in Kafka; (service, 0) in embedded mode."""


@dataclass(frozen=True)
class Chunk:
    """What one fetch gave for one source partition: consecutive records, oldest first."""

    source: str
    partition: int
    records: list[tuple[int, RecordedEvent | None]]
    """(offset, envelope); None for a record that is no event envelope (logged, skipped)."""

    @property
    def key(self) -> SourcePartition:
        return (self.source, self.partition)

    @property
    def first(self) -> int:
        return self.records[0][0]

    @property
    def last(self) -> int:
        return self.records[-1][0]


class Source(Protocol):
    kind: str
    """"kafka" or "embedded": an export folder is bound to one kind and one group."""

    async def open(self) -> list[SourcePartition]: ...

    async def committed(self) -> dict[SourcePartition, int | None]:
        """The next offset to read per partition as last committed; None where nothing was committed."""

    async def beginnings(self) -> dict[SourcePartition, int]: ...

    async def ends(self) -> dict[SourcePartition, int]:
        """The offset after the last record, now."""

    def seek(self, positions: Mapping[SourcePartition, int]) -> None: ...

    async def positions(self) -> dict[SourcePartition, int]:
        """The next offset each partition will deliver."""

    async def fetch(self, max_records: int, timeout: float) -> list[Chunk]: ...

    async def commit(self, positions: Mapping[SourcePartition, int]) -> None: ...

    async def close(self) -> None: ...


class KafkaSource:
    """Every partition of `topics`, assigned to this one process (no rebalancing: one exporter per group
    at a time, like the relay), committing to consumer group `group`."""

    kind = "kafka"

    def __init__(self, bootstrap: str, topics: Sequence[str], group: str, request_timeout_ms: int = 30_000) -> None:
        self.bootstrap = bootstrap
        self.topics = list(dict.fromkeys(topics))
        self.group = group
        self._request_timeout_ms = request_timeout_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: dict[SourcePartition, TopicPartition] = {}

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the Kafka source is not open")
        return self._consumer

    async def open(self) -> list[SourcePartition]:
        counts = await topic_partitions(self.bootstrap, self.topics, CLIENT_ID, self._request_timeout_ms)
        self._partitions = {
            (topic, partition): TopicPartition(topic, partition)
            for topic in self.topics
            for partition in range(counts[topic])
        }
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=CLIENT_ID,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=self._request_timeout_ms,
        )
        await start_client(consumer, self.bootstrap, "connect")
        consumer.assign(list(self._partitions.values()))
        self._consumer = consumer
        return list(self._partitions)

    async def committed(self) -> dict[SourcePartition, int | None]:
        async with available(self.bootstrap, "reading the committed offsets"):
            return {key: await self.consumer.committed(tp) for key, tp in self._partitions.items()}

    async def beginnings(self) -> dict[SourcePartition, int]:
        async with available(self.bootstrap, "reading the first offsets"):
            found = await self.consumer.beginning_offsets(list(self._partitions.values()))
        return {key: found[tp] for key, tp in self._partitions.items()}

    async def ends(self) -> dict[SourcePartition, int]:
        async with available(self.bootstrap, "reading the end offsets"):
            found = await self.consumer.end_offsets(list(self._partitions.values()))
        return {key: found[tp] for key, tp in self._partitions.items()}

    def seek(self, positions: Mapping[SourcePartition, int]) -> None:
        for key, offset in positions.items():
            self.consumer.seek(self._partitions[key], offset)

    async def positions(self) -> dict[SourcePartition, int]:
        async with available(self.bootstrap, "reading the positions"):
            return {key: await self.consumer.position(tp) for key, tp in self._partitions.items()}

    async def fetch(self, max_records: int, timeout: float) -> list[Chunk]:
        async with available(self.bootstrap, "fetch"):
            fetched = await self.consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        return [
            Chunk(tp.topic, tp.partition, [(record.offset, decode(record)) for record in records])
            for tp, records in fetched.items()
            if records
        ]

    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        if positions:
            async with available(self.bootstrap, f"commit of group {self.group}"):
                await self.consumer.commit({self._partitions[key]: offset for key, offset in positions.items()})

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


class EmbeddedSource:
    """The SQLite event stores under the portal's data folder (`<data_dir>/<service>/events.db`), read
    beside a running portal (WAL); the committed positions live in `checkpoint` (JSON, replaced atomically)."""

    kind = "embedded"
    poll_seconds = 0.5
    """A portal in another process cannot wake this one: new events are looked for this often."""

    def __init__(self, data_dir: Path, services: Sequence[str], checkpoint: Path) -> None:
        self.data_dir = data_dir
        self.services = list(dict.fromkeys(services))
        self.checkpoint = checkpoint
        self._stores: dict[str, SqliteEventStore] = {}
        self._next: dict[SourcePartition, int] = {}

    async def open(self) -> list[SourcePartition]:
        present = {service for service in self.services if (self.data_dir / service / "events.db").is_file()}
        missing = [service for service in self.services if service not in present]
        if missing:
            known = sorted(path.parent.name for path in self.data_dir.glob("*/events.db"))
            raise UnknownSource(f"event store under {self.data_dir} for service", missing, known)
        for service in self.services:
            self._stores[service] = await SqliteEventStore(self.data_dir / service / "events.db", service).open()
        self._next = {(service, 0): 1 for service in self.services}
        return list(self._next)

    async def committed(self) -> dict[SourcePartition, int | None]:
        saved = await asyncio.to_thread(self._load)
        return {(service, 0): saved.get(service) for service in self.services}

    def _load(self) -> dict[str, int]:
        if not self.checkpoint.exists():
            return {}
        return {service: int(offset) for service, offset in json.loads(self.checkpoint.read_text()).items()}

    async def beginnings(self) -> dict[SourcePartition, int]:
        return {key: 1 for key in self._next}  # SQLite positions start at 1

    async def ends(self) -> dict[SourcePartition, int]:
        return {(service, 0): (await store.head_position() or 0) + 1 for service, store in self._stores.items()}

    def seek(self, positions: Mapping[SourcePartition, int]) -> None:
        self._next.update(positions)

    async def positions(self) -> dict[SourcePartition, int]:
        return dict(self._next)

    async def fetch(self, max_records: int, timeout: float) -> list[Chunk]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            chunks: list[Chunk] = []
            room = max_records
            for service, store in self._stores.items():
                if room <= 0:
                    break
                events = await store.read_all(after=self._next[(service, 0)] - 1, limit=room)
                if events:
                    chunks.append(Chunk(service, 0, [(event.global_position, event) for event in events]))
                    self._next[(service, 0)] = events[-1].global_position + 1
                    room -= len(events)
            remaining = deadline - asyncio.get_running_loop().time()
            if chunks or remaining <= 0:
                return chunks
            await asyncio.sleep(min(self.poll_seconds, remaining))

    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        await asyncio.to_thread(self._save, positions)

    def _save(self, positions: Mapping[SourcePartition, int]) -> None:
        saved = self._load()
        saved.update({service: offset for (service, _), offset in positions.items()})
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint.with_name(f".{self.checkpoint.name}.tmp")
        with temporary.open("w") as file:
            json.dump(saved, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.checkpoint)

    async def close(self) -> None:
        for store in self._stores.values():
            await store.close()
        self._stores.clear()
