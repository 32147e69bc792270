"""A service's runtime: its stores, its command handler and its running projections and reactors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from fastapi import APIRouter

from libs.events.access import access_projection
from libs.events.aggregate import CommandHandler
from libs.events.docstore import DocumentStore, StoreUnavailable
from libs.events.envelope import DomainEvent, RecordedEvent, utc_now
from libs.events.eventlog import EventLog, LogConsumer, LogUnavailable
from libs.events.pii import PersonalData, PersonalDataStore
from libs.events.projection import ConsumerRunner, DeadLetterSink, Projection, Reactor, ReactorRunner, log_crash
from libs.events.registry import EventRegistry
from libs.events.service import metrics
from libs.events.service.settings import ServiceSettings
from libs.events.snapshots import DocumentSnapshots
from libs.events.store import EventStore
from libs.events.tokens import JwksSource
from libs.events.vault import KeyVault
from libs.events.versions import VersionedProjectionRunner, group_name, versioned

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """Everything that makes a service, independent of where it runs (embedded or cluster)."""

    name: str
    title: str
    routers: Sequence[APIRouter] = ()
    dev_routers: Sequence[APIRouter] = ()
    """Routes that exist only when `dev_mode` is on (e.g. the dev mailbox); absent otherwise, not merely refused."""
    projections: Sequence[Projection] = ()
    reactors: Callable[[ServiceRuntime], Sequence[Reactor]] | None = None
    settings: type[ServiceSettings] = ServiceSettings
    on_start: Callable[[ServiceRuntime], Awaitable[None]] | None = None
    """Run once when the runtime starts, before its consumers (e.g. identity makes its signing key)."""
    background: Callable[[ServiceRuntime], Coroutine[Any, Any, None]] | None = None
    """A loop run beside the consumers (only when they run) until stop() (e.g. the orphan blob sweeper)."""
    extras: dict[str, Any] = field(default_factory=dict)


class Reachable(Protocol):
    async def ping(self) -> None:
        """Returns when the server answers; raises when it cannot be reached."""


class ServiceRuntime:
    def __init__(
        self,
        definition: ServiceDefinition,
        settings: ServiceSettings,
        events: EventStore,
        documents: DocumentStore,
        event_log: EventLog,
        registry: EventRegistry,
        *,
        dead_letter_sink: DeadLetterSink | None = None,
        vault: KeyVault | None = None,
        readiness_checks: Mapping[str, Reachable] | None = None,
    ) -> None:
        self.definition = definition
        self.name = definition.name
        self.settings = settings
        self.vault = vault
        self.personal = PersonalData(vault, registry) if vault is not None else None
        """Seals personal fields on append and opens them on read (libs/events/pii.py); None: no vault, kept plain."""
        self.events: EventStore = PersonalDataStore(events, self.personal) if self.personal is not None else events
        self.documents = versioned(documents)
        """Every read and write resolves a projection's logical collection to its active version."""
        self.event_log = event_log
        self.registry = registry
        self.dead_letter_sink = dead_letter_sink
        """Also told of every dead letter (in cluster mode the Kafka dead-letter topic)."""
        self.readiness_checks = dict(readiness_checks or {})
        """More servers /readyz asks, by check name, beside the stores (in cluster mode Kafka, when this
        process runs the consumers)."""
        self.commands = CommandHandler(self.events, registry, snapshots=DocumentSnapshots(self.documents.inner))
        self.runners: list[ConsumerRunner] = []
        self._lag_sampler: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        self.jwks = JwksSource(settings.jwks_location)
        self.clock: Callable[[], datetime] = utc_now
        """Now, as an aware UTC datetime; tests replace it to freeze time."""
        self.projections: tuple[Projection, ...] = (*definition.projections, access_projection)

    def _build_runners(self) -> list[ConsumerRunner]:
        name, personal, sink = self.name, self.personal, self.dead_letter_sink
        runners: list[ConsumerRunner] = [
            VersionedProjectionRunner(
                projection,
                self._consumer_for(projection),
                self.documents,
                self.registry,
                service=name,
                personal=personal,
                dead_letter_sink=sink,
            )
            for projection in self.projections
        ]
        for reactor in self.definition.reactors(self) if self.definition.reactors else ():
            consumer = self.event_log.consumer(f"{name}.{reactor.name}", reactor.sources)
            runners.append(
                ReactorRunner(
                    reactor,
                    consumer,
                    self.documents,
                    self.registry,
                    service=name,
                    personal=personal,
                    dead_letter_sink=sink,
                )
            )
        return runners

    def _consumer_for(self, projection: Projection) -> Callable[[int], LogConsumer]:
        """The consumer of each version of a projection: each version has its own checkpoint."""

        def consumer(version: int) -> LogConsumer:
            return self.event_log.consumer(group_name(self.name, projection.name, version), projection.sources)

        return consumer

    async def start(self, run_consumers: bool = True) -> None:
        """Ensures the collections, runs the start hook and builds the consumers; with `run_consumers`
        also starts them, the lag sampler and the background loop. Without, the runners are built but
        never started: the ops tool reads their status through a log that does not join the groups."""
        for projection in self.projections:
            await self.documents.ensure(projection.collection)
        if self.definition.on_start is not None:
            await self.definition.on_start(self)
        self.runners = self._build_runners()
        if run_consumers:
            for runner in self.runners:
                runner.start()
            if metrics.metrics_enabled() and self.settings.lag_sample_interval > 0:
                self._lag_sampler = asyncio.create_task(self._sample_lag_forever(), name=f"lag-sampler:{self.name}")
                self._lag_sampler.add_done_callback(log_crash)
            if self.definition.background is not None:
                background = self.definition.background(self)
                self._background = asyncio.create_task(background, name=f"background:{self.name}")
                self._background.add_done_callback(log_crash)
        log.info(
            "service_started",
            service=self.name,
            consumers=[runner.name for runner in self.runners],
            consumers_running=run_consumers,
        )

    async def stop(self) -> None:
        """Stops the sampler, the background loop and the consumers, also when one of them has crashed
        (its error was logged when it happened): every consumer and client gets closed."""
        for task in (self._lag_sampler, self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._lag_sampler = self._background = None
        for runner in self.runners:
            try:
                await runner.stop()
            except Exception:  # the others are still stopped
                log.exception("consumer_stop_failed", consumer=runner.qualified_name)
        metrics.consumer_lag.forget(service=self.name)

    async def sample_lag(self) -> None:
        """Reads every consumer's lag into the `strefa.consumer.lag` gauge; one that cannot be read now
        (its store or Kafka unreachable, or a bug) keeps its last reading, and the others are still read."""
        for runner in self.runners:
            try:
                await runner.measure_lag()
            except (StoreUnavailable, LogUnavailable) as error:
                log.warning("consumer_lag_unknown", consumer=runner.qualified_name, error=str(error))
            except Exception:
                log.exception("consumer_lag_failed", consumer=runner.qualified_name)

    async def _sample_lag_forever(self) -> None:
        while True:
            await self.sample_lag()
            await asyncio.sleep(self.settings.lag_sample_interval)

    def runner(self, name: str) -> ConsumerRunner:
        for runner in self.runners:
            if runner.name == name:
                return runner
        raise KeyError(name)

    async def decode(self, event: RecordedEvent) -> DomainEvent:
        """An event as stored or published (personal fields sealed) as its model, personal fields opened."""
        (opened,) = await self.personal.open([event]) if self.personal is not None else [event]
        return self.registry.decode(opened)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        targets: list[tuple[str, Any]] = [("event_store", self.events), ("read_models", self.documents)]
        if self.vault is not None:
            targets.append(("key_vault", self.vault))
        targets.extend(self.readiness_checks.items())
        for label, target in targets:
            try:
                await target.ping()
                checks[label] = "ok"
            except Exception as error:
                checks[label] = f"unavailable: {error}"
        return checks
