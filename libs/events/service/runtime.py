"""A service's runtime: its stores, its command handler and its running projections and reactors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter

from libs.events.access import access_projection
from libs.events.aggregate import CommandHandler
from libs.events.docstore import DocumentStore
from libs.events.envelope import utc_now
from libs.events.eventlog import EventLog, LogConsumer
from libs.events.projection import ConsumerRunner, Projection, Reactor, ReactorRunner
from libs.events.registry import EventRegistry
from libs.events.service.settings import ServiceSettings
from libs.events.store import EventStore
from libs.events.tokens import JwksSource
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
    extras: dict[str, Any] = field(default_factory=dict)


class ServiceRuntime:
    def __init__(
        self,
        definition: ServiceDefinition,
        settings: ServiceSettings,
        events: EventStore,
        documents: DocumentStore,
        event_log: EventLog,
        registry: EventRegistry,
    ) -> None:
        self.definition = definition
        self.name = definition.name
        self.settings = settings
        self.events = events
        self.documents = versioned(documents)
        """Every read and write resolves a projection's logical collection to its active version."""
        self.event_log = event_log
        self.registry = registry
        self.commands = CommandHandler(events, registry)
        self.runners: list[ConsumerRunner] = []
        self.jwks = JwksSource(settings.jwks_location)
        self.clock: Callable[[], datetime] = utc_now
        """Now, as an aware UTC datetime; tests replace it to freeze time."""
        self.projections: tuple[Projection, ...] = (*definition.projections, access_projection)

    def _build_runners(self) -> list[ConsumerRunner]:
        runners: list[ConsumerRunner] = [
            VersionedProjectionRunner(projection, self._consumer_for(projection), self.documents, self.registry)
            for projection in self.projections
        ]
        for reactor in self.definition.reactors(self) if self.definition.reactors else ():
            consumer = self.event_log.consumer(f"{self.name}.{reactor.name}", reactor.sources)
            runners.append(ReactorRunner(reactor, consumer, self.documents, self.registry))
        return runners

    def _consumer_for(self, projection: Projection) -> Callable[[int], LogConsumer]:
        """The consumer of each version of a projection: each version has its own checkpoint."""

        def consumer(version: int) -> LogConsumer:
            return self.event_log.consumer(group_name(self.name, projection.name, version), projection.sources)

        return consumer

    async def start(self, run_consumers: bool = True) -> None:
        for projection in self.projections:
            await self.documents.ensure(projection.collection)
        if self.definition.on_start is not None:
            await self.definition.on_start(self)
        self.runners = self._build_runners()
        if run_consumers:
            for runner in self.runners:
                runner.start()
        log.info("service_started", service=self.name, consumers=[runner.name for runner in self.runners])

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.stop()

    def runner(self, name: str) -> ConsumerRunner:
        for runner in self.runners:
            if runner.name == name:
                return runner
        raise KeyError(name)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        for label, target in (("event_store", self.events), ("read_models", self.documents)):
            try:
                await target.ping()
                checks[label] = "ok"
            except Exception as error:
                checks[label] = f"unavailable: {error}"
        return checks
