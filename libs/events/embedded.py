"""The embedded default: a SQLite event store and a SQLite read-model store per service, one process,
and one key vault for the personal data of all of them (its own file, apart from every event store)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from libs.events.eventlog import EmbeddedEventLog
from libs.events.registry import EventRegistry
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.vault import SqliteKeyVault


class EmbeddedPlatform:
    """Files under `data_dir/<service>/`: events.db (the event store) and readmodels.db; the key vault
    in `data_dir/vault/keys.db`."""

    def __init__(self, data_dir: Path, services: Sequence[str]) -> None:
        self.data_dir = data_dir
        self.event_stores = {name: SqliteEventStore(data_dir / name / "events.db", name) for name in services}
        self.document_stores = {name: SqliteDocumentStore(data_dir / name / "readmodels.db") for name in services}
        self.vault = SqliteKeyVault(data_dir / "vault" / "keys.db")

    async def open(self) -> None:
        try:
            await self.vault.open()
            for store in self.event_stores.values():
                await store.open()
            for documents in self.document_stores.values():
                await documents.open()
        except BaseException:
            await self.close()  # an open connection's thread would keep a failed process alive
            raise

    async def close(self) -> None:
        for store in self.event_stores.values():
            await store.close()
        for documents in self.document_stores.values():
            await documents.close()
        await self.vault.close()

    def runtime(
        self, definition: ServiceDefinition, settings: ServiceSettings, registry: EventRegistry
    ) -> ServiceRuntime:
        documents = self.document_stores[definition.name]
        return ServiceRuntime(
            definition,
            settings,
            events=self.event_stores[definition.name],
            documents=documents,
            event_log=EmbeddedEventLog(self.event_stores, checkpoints=documents),
            registry=registry,
            vault=self.vault,
        )
