"""Operations on projections and reactors: status, rebuild, reset, dead letters.

`Operations` works on the runtimes of the services (their projections, reactors, stores and event
log), so it serves every mode whose runtimes can be built in the ops process: the embedded mode
builds them over the data folder (see services/ops). Cluster mode (Kafka + MongoDB) needs the same
runtimes built over its adapters (`ServiceRuntime` with a Kafka event log and a Mongo document
store): nothing here is SQLite-specific; the seam is `services.ops.backend.open_operations`.

Rebuild: a NEW physical version (`<collection>__v<N>`, its own consumer group and checkpoint) is
filled from the beginning of the sources while the active version keeps serving reads and the live
runner keeps updating it. At lag 0 the alias is switched (one upsert), the live runner hands over to
the new version's checkpoint at its next batch (`VersionedProjectionRunner.sync_version`), and the
old version and its checkpoint are dropped after a grace period (the drop marked in the alias first,
so a live batch that writes to the old version after the drop removes what it re-created: see
versions.py).

Reset: a new EMPTY version becomes active at once (queries answer from it, i.e. empty at first),
under a lease that keeps live runners off it; this process fills it, renewing the lease, then
releases it and the live runner carries on from the checkpoint it left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from libs.events.docstore import Collection, Document, DocumentStore
from libs.events.envelope import RecordedEvent, utc_now
from libs.events.projection import (
    DEAD_LETTERS,
    STATUS,
    ConsumerRunner,
    ConsumerStatus,
    Projection,
    ProjectionRunner,
    failure_reason,
)
from libs.events.service.runtime import ServiceRuntime
from libs.events.versions import (
    LEASE,
    Alias,
    VersionedDocumentStore,
    VersionedProjectionRunner,
    drop_version,
    group_name,
)

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
"""Told (done, total) after each batch; total grows when events keep coming."""


class UnknownConsumer(LookupError):
    def __init__(self, name: str, known: list[str], reason: str = "unknown") -> None:
        self.known = known
        super().__init__(f"{reason} {name!r}; known: {', '.join(known)}")


class DeadLetterNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ConsumerRef:
    service: str
    runner: ConsumerRunner

    @property
    def name(self) -> str:
        return self.runner.name

    @property
    def qualified(self) -> str:
        return f"{self.service}.{self.runner.name}"

    @property
    def kind(self) -> str:
        return "projection" if isinstance(self.runner, ProjectionRunner) else "reactor"


@dataclass
class ConsumerReport:
    service: str
    name: str
    kind: str
    collection: str | None
    version: int | None
    rebuilding: bool
    checkpoints: dict[str, str]
    lag: int
    processed: int
    dead_letters: int
    last_error: str | None


@dataclass
class RebuildResult:
    name: str
    old_collection: str
    new_collection: str
    events: int
    documents: int


@dataclass
class RetryResult:
    dead_letter_id: str
    outcome: str
    """"applied" (dead letter removed), "failed" (kept, with the new reason) or "held" (the documents
    already hold later events of its stream: rebuild the projection to apply it in order)."""
    reason: str | None = None


@dataclass
class Operations:
    runtimes: Mapping[str, ServiceRuntime]
    grace: float = 2.0
    """Seconds between an alias switch and dropping the old version (in-flight reads finish)."""
    _refs: list[ConsumerRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._refs = [ConsumerRef(service, runner) for service, rt in self.runtimes.items() for runner in rt.runners]

    # --- names ----------------------------------------------------------------------------------

    def consumers(self) -> list[ConsumerRef]:
        return list(self._refs)

    def known_projections(self) -> list[str]:
        return [ref.qualified for ref in self._refs if ref.kind == "projection"]

    def consumer(self, name: str, *, projection: bool = False) -> ConsumerRef:
        """By `service.name`, or by `name` alone when only one service has it."""
        candidates = [ref for ref in self._refs if name in (ref.qualified, ref.name)]
        known = self.known_projections() if projection else [ref.qualified for ref in self._refs]
        if not candidates:
            raise UnknownConsumer(name, known, "unknown projection" if projection else "unknown consumer")
        if len(candidates) > 1:
            raise UnknownConsumer(name, [ref.qualified for ref in candidates], "ambiguous name")
        if projection and candidates[0].kind != "projection":
            raise UnknownConsumer(name, known, "not a projection (a reactor cannot be rebuilt):")
        return candidates[0]

    # --- status ---------------------------------------------------------------------------------

    async def status(self) -> list[ConsumerReport]:
        reports: list[ConsumerReport] = []
        for ref in self._refs:
            runner = ref.runner
            raw = _raw(runner.store)
            if not runner.status.running:  # a runner running in this process knows better than its saved status
                await runner.load_status()
            alias: Alias | None = None
            if isinstance(runner, VersionedProjectionRunner):
                alias = await runner.sync_version()
            status: ConsumerStatus = await runner.current_status()
            outstanding = await raw.count(DEAD_LETTERS, {"consumer": runner.name})
            reports.append(
                ConsumerReport(
                    service=ref.service,
                    name=runner.name,
                    kind=ref.kind,
                    collection=alias.active if alias else None,
                    version=alias.version if alias else None,
                    rebuilding=alias is not None and (alias.highest > alias.version or alias.leased(utc_now())),
                    checkpoints=dict(status.checkpoints),
                    lag=sum(status.lag.values()),
                    processed=status.processed,
                    dead_letters=outstanding,
                    last_error=status.last_error,
                )
            )
        return reports

    # --- rebuild and reset ----------------------------------------------------------------------

    async def rebuild(self, name: str, progress: Progress | None = None) -> RebuildResult:
        ref = self.consumer(name, projection=True)
        runner = _projection_runner(ref)
        versions = runner.versions
        projection = runner.logical
        alias = await versions.alias(projection.collection.name)
        target, filler = await self._prepare(ref, alias)
        try:
            await versions.save_alias(replace(alias, highest=target.version))
            log.info("rebuild_started", projection=ref.qualified, into=target.active)
            events = await _catch_up(filler, progress)
        finally:
            await filler.consumer.close()  # leaves the version's Kafka group whole to the live runner
        current = await versions.alias(projection.collection.name)
        await versions.save_alias(replace(current, version=target.version, lease_until=None))
        log.info("rebuild_switched", projection=ref.qualified, active=target.active, was=alias.active)
        await self._drop_version(ref, alias)
        documents = await _raw(versions).count(_physical(projection, target))
        await _raw(versions).delete(STATUS, [filler.status.name])
        return RebuildResult(ref.qualified, alias.active, target.active, events, documents)

    async def reset(self, name: str, progress: Progress | None = None) -> RebuildResult:
        ref = self.consumer(name, projection=True)
        runner = _projection_runner(ref)
        versions = runner.versions
        projection = runner.logical
        alias = await versions.alias(projection.collection.name)
        target, filler = await self._prepare(ref, alias)
        await versions.save_alias(replace(target, lease_until=utc_now() + LEASE))
        log.warning("reset_serving_empty", projection=ref.qualified, active=target.active)
        leased = await self._drop_version(ref, alias)

        def renew(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)

        events = 0
        try:
            while True:
                await versions.save_alias(replace(leased, lease_until=utc_now() + LEASE))
                lag = sum((await filler.consumer.lag()).values())
                renew(events, events + lag)
                if lag == 0:
                    break
                events += await filler.run_once()
        finally:
            await filler.consumer.close()  # leaves the version's Kafka group whole to the live runner
        await versions.save_alias(replace(leased, lease_until=None))
        documents = await _raw(versions).count(_physical(projection, target))
        await _raw(versions).delete(STATUS, [filler.status.name])
        return RebuildResult(ref.qualified, alias.active, target.active, events, documents)

    async def _prepare(self, ref: ConsumerRef, alias: Alias) -> tuple[Alias, ProjectionRunner]:
        """A new empty version, its checkpoint at the beginning, and a runner to fill it."""
        runner = _projection_runner(ref)
        runtime = self.runtimes[ref.service]
        projection = runner.logical
        version = alias.highest + 1
        target = replace(alias, version=version, highest=version, lease_until=None)
        raw = _raw(runner.versions)
        for abandoned in range(alias.version + 1, alias.highest + 1):  # left by an interrupted rebuild
            await drop_version(raw, ref.service, projection, abandoned)
        for dropped in range(alias.dropped_below):  # one a late batch re-created after its drop, if any
            await drop_version(raw, ref.service, projection, dropped)
        physical = _physical(projection, target)
        await raw.drop(physical)
        await raw.ensure(physical)
        consumer = runtime.event_log.consumer(group_name(ref.service, projection.name, version), projection.sources)
        await consumer.reset()
        filler = ProjectionRunner(
            replace(projection, collection=physical),
            consumer,
            raw,
            runtime.registry,
            service=ref.service,
            personal=runtime.personal,
        )
        # dead letters under the projection's own name (same ids as the live runner's: no duplicates);
        # its own status document, removed once done
        filler.status = ConsumerStatus(f"{projection.name}@v{version}")
        await raw.ensure(DEAD_LETTERS)
        return target, filler

    async def _drop_version(self, ref: ConsumerRef, old: Alias) -> Alias:
        """Drops the version active before the switch once the grace is over; returns the alias as saved,
        with the drop marked."""
        runner = _projection_runner(ref)
        versions = runner.versions
        if self.grace:
            await asyncio.sleep(self.grace)
        current = await versions.alias(runner.logical.collection.name)
        marked = replace(current, dropped_below=max(current.dropped_below, old.version + 1))
        await versions.save_alias(marked)  # before the drop: a late live batch removes what it re-creates
        await drop_version(_raw(versions), ref.service, runner.logical, old.version)
        log.info("projection_version_dropped", projection=ref.qualified, dropped=old.active)
        return marked

    # --- dead letters ---------------------------------------------------------------------------

    async def dead_letters(self, consumer: str | None = None) -> list[tuple[str, Document]]:
        """(service, dead letter) pairs, oldest first; optionally of one consumer."""
        only = self.consumer(consumer) if consumer else None
        found: list[tuple[str, Document]] = []
        for service, runtime in self.runtimes.items():
            if only and only.service != service:
                continue
            raw = _raw(runtime.documents)
            await raw.ensure(DEAD_LETTERS)
            filter_ = {"consumer": only.name} if only else None
            found.extend((service, doc) for doc in await raw.find(DEAD_LETTERS, filter_))
        return sorted(found, key=lambda pair: str(pair[1].get("recorded_at", "")))

    async def dead_letter(self, dead_letter_id: str) -> tuple[str, Document]:
        for service, runtime in self.runtimes.items():
            raw = _raw(runtime.documents)
            await raw.ensure(DEAD_LETTERS)
            doc = await raw.get(DEAD_LETTERS, dead_letter_id)
            if doc is not None:
                return service, doc
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id!r} (see `dead-letters list`)")

    async def retry(self, dead_letter_id: str) -> RetryResult:
        """Applies the stored event again through its consumer; on success the dead letter goes."""
        service, doc = await self.dead_letter(dead_letter_id)
        runtime = self.runtimes[service]
        ref = self.consumer(f"{service}.{doc['consumer']}")
        runner = ref.runner
        raw = _raw(runtime.documents)
        event = RecordedEvent.model_validate(doc["event"])
        try:
            data = await runtime.decode(event)
        except (LookupError, ValueError) as error:
            return await _still_failing(raw, doc, failure_reason("decode", event, error))
        if isinstance(runner, VersionedProjectionRunner):
            await runner.sync_version()
            try:
                held = await runner.held_by_documents(event, data)
            except Exception as error:
                return await _still_failing(raw, doc, failure_reason("keys", event, error))
            if held:
                return RetryResult(dead_letter_id, "held", "the documents already hold later events of its stream")
        failed = await runner.handle([(event, data)])
        if failed:
            return await _still_failing(raw, doc, failed[0][1])
        await raw.delete(DEAD_LETTERS, [dead_letter_id])
        log.info("dead_letter_retried", dead_letter=dead_letter_id, consumer=ref.qualified)
        return RetryResult(dead_letter_id, "applied")


async def _still_failing(raw: DocumentStore, doc: Document, reason: str) -> RetryResult:
    await raw.upsert_many(DEAD_LETTERS, [{**doc, "reason": reason, "retried_at": utc_now().isoformat()}])
    return RetryResult(str(doc["_id"]), "failed", reason)


async def _catch_up(runner: ProjectionRunner, progress: Progress | None) -> int:
    """Runs batches until the runner's lag is 0; returns how many events it read."""
    done = 0
    while True:
        lag = sum((await runner.consumer.lag()).values())
        if progress is not None:
            progress(done, done + lag)
        if lag == 0:
            return done
        done += await runner.run_once()


def _projection_runner(ref: ConsumerRef) -> VersionedProjectionRunner:
    if not isinstance(ref.runner, VersionedProjectionRunner):
        raise UnknownConsumer(ref.qualified, [], "not a versioned projection:")
    return ref.runner


def _physical(projection: Projection, alias: Alias) -> Collection:
    return replace(projection.collection, name=alias.active)


def _raw(store: DocumentStore | Any) -> DocumentStore:
    return store.inner if isinstance(store, VersionedDocumentStore) else store
