"""The data the figures work on: a seeded portal, and event logs cloned from it to any size.

The portal is the embedded gateway (`python -m services.gateway`, one uvicorn worker) in its own
process, seeded by the demo seeder through the back-office HTTP API like `make dev` does. The seeder
feeds about 35 back-office calls per second on this machine (2 cores shared with other work), so
a million events through it would take hours. Larger logs are therefore made from the seeded one:
every event of the seeded stores is appended again, through `SqliteEventStore.append` (the platform's
append path, with the same stream versions, each stream of a copy in one append), once verbatim (copy 0,
so the demo login's token fits) and then as many renamed copies as the size needs. A renamed copy
maps every UUID to a new one (uuid5 of the copy and the old id: event, stream, contract, invoice,
payment, account ids alike), suffixes client ids (`KL1-000004` -> `KL1-000004-7`), invoice, note and
contract numbers, and plus-tags e-mail addresses, so unique indexes and reservation streams hold as
they would for that many distinct clients. Bodies keep their sizes and their mix of event types.
Personal fields are read opened (with the seeded portal's key vault) and sealed again on append with
the new folder's vault, one key per (renamed) person, as a service's store does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx

import libs.events.schemas  # noqa: F401  (registers every published event type)
from bench.processes import MemorySampler, Server, free_port, python, spawn, wait_until_ready
from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.pii import PersonalData, PersonalDataStore
from libs.events.registry import registry
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import EventStore
from libs.events.vault import SqliteKeyVault
from libs.events.warsaw import warsaw_date
from services.seeder.runner import SERVICES, SeedOptions, SeedReport, backoffice_client, seed
from services.seeder.world import DemoLogins, WorldOptions

PORTAL_ENV = {
    "PORTAL_LOG_FORMAT": "json",
    "PORTAL_LOG_LEVEL": "WARNING",
    "PORTAL_DEV_MODE": "true",
    "PORTAL_WEB_DIST": "/nonexistent-bench-web",
    # One login serves the whole run (each measurement is shorter than this).
    "IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "3600",
}


@dataclass
class Portal:
    server: Server
    url: str
    data_dir: Path
    backoffice_token: str
    seeded: SeedReport | None = None
    access_token: str | None = None

    @property
    def demo(self) -> DemoLogins:
        assert self.seeded is not None
        assert self.seeded.demo is not None
        return self.seeded.demo


async def start_portal(folder: Path, sampler: MemorySampler) -> Portal:
    data_dir = folder / "portal-data"
    port = free_port()
    args = python("-m", "services.gateway", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir))
    server = spawn("portal", args, PORTAL_ENV, folder / "logs", port)
    sampler.watch("portal (embedded gateway)", server.pid)
    url = f"http://127.0.0.1:{port}"
    for service in SERVICES:
        await wait_until_ready(server, f"{url}/api/{service}/readyz")
    token = (data_dir / "secrets" / "backoffice-token").read_text().strip()
    return Portal(server, url, data_dir, token)


async def seed_portal(portal: Portal, clients: int) -> SeedReport:
    """The demo seeder through the back-office API (12 months of history, 2 clients with PDFs)."""
    world = WorldOptions(
        today=warsaw_date_now(), seed=1, clients=clients, history_months=12, documents=True, pdf_clients=2
    )
    options = SeedOptions(world=world, concurrency=16, demo=True, progress=False, pdf_workers=0)
    async with backoffice_client(portal.url, portal.backoffice_token) as http:
        report = await seed(http, options)
    if not report.ok or report.demo is None or not report.demo_active:
        raise RuntimeError(f"seeding the bench portal failed: {report.failures[:3]}")
    portal.seeded = report
    portal.access_token = await login(portal.url, report.demo.email, report.demo.password)
    return report


def warsaw_date_now() -> date:
    from datetime import UTC, datetime

    return warsaw_date(datetime.now(UTC))


async def login(url: str, email: str, password: str) -> str:
    """Logs in through identity, as the web app does; returns the access token."""
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
        response = await http.post("/api/identity/login", json={"email": email, "password": password})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def snapshot(data_dir: Path, services: Iterable[str] = SERVICES) -> dict[str, list[RecordedEvent]]:
    """Every event of each service's store in `data_dir`, in global order, personal fields opened with
    the folder's key vault (a copy is sealed again with its own vault's keys when appended)."""
    template: dict[str, list[RecordedEvent]] = {}
    vault = await SqliteKeyVault(data_dir / "vault" / "keys.db").open()
    try:
        for service in services:
            store = await SqliteEventStore(data_dir / service / "events.db", service).open()
            reader = PersonalDataStore(store, PersonalData(vault, registry))
            try:
                events: list[RecordedEvent] = []
                while batch := await reader.read_all(after=events[-1].global_position if events else None, limit=5000):
                    events.extend(batch)
                template[service] = events
            finally:
                await store.close()
    finally:
        await vault.close()
    return template


# --- renamed copies ---------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CLIENT = re.compile(r"\bKL\d+-\d{6}\b")
_NUMBERS = frozenset({"number", "contract_number"})
"""Invoice, interest note and contract numbers: unique in the read models."""


@lru_cache(maxsize=1 << 18)
def _renamed_uuid(copy: int, value: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:bench-copy:{copy}:{value}"))


def _rename_text(text: str, copy: int) -> str:
    if "-" not in text:
        return text
    text = _UUID.sub(lambda match: _renamed_uuid(copy, match.group()), text)
    return _CLIENT.sub(lambda match: f"{match.group()}-{copy}", text)


def _rename(value: Any, copy: int, key: str = "") -> Any:
    if isinstance(value, str):
        renamed = _rename_text(value, copy)
        if key in _NUMBERS:
            return f"{renamed}-{copy}"
        if "email" in key and "@" in renamed:
            local, _, domain = renamed.partition("@")
            return f"{local}+c{copy}@{domain}"
        return renamed
    if isinstance(value, dict):
        return {name: _rename(item, copy, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_rename(item, copy, key) for item in value]
    return value


def renamed(event: RecordedEvent, copy: int) -> tuple[str, NewEvent]:
    """The event as copy `copy` of the world would have it (copy 0 is the event itself)."""
    if copy == 0:
        return event.stream_id, NewEvent.model_construct(**{name: getattr(event, name) for name in _NEW_FIELDS})
    return _rename_text(event.stream_id, copy), NewEvent.model_construct(
        event_id=UUID(_renamed_uuid(copy, str(event.event_id))),
        type=event.type,
        version=event.version,
        data=_rename(dict(event.data), copy),
        occurred_at=event.occurred_at,
        correlation_id=UUID(_renamed_uuid(copy, str(event.correlation_id))),
        causation_id=UUID(_renamed_uuid(copy, str(event.causation_id))) if event.causation_id else None,
        client_id=_rename_text(event.client_id, copy) if event.client_id else None,
        actor=_rename_text(event.actor, copy) if event.actor else None,
        trace_context=dict(event.trace_context),
    )


_NEW_FIELDS = tuple(NewEvent.model_fields)


def _streams(events: Sequence[RecordedEvent]) -> list[list[RecordedEvent]]:
    """The events of each stream in stream order, the streams in the order they began. A copy appends
    each stream in one call: per-stream order (all a projection relies on) is kept, and the log is
    written in a few hundred thousand appends instead of a million."""
    streams: dict[str, list[RecordedEvent]] = {}
    for event in events:
        streams.setdefault(event.stream_id, []).append(event)
    return list(streams.values())


async def _append_copy(store: EventStore, streams: Sequence[Sequence[RecordedEvent]], copy: int) -> int:
    appended = 0
    for stream in streams:
        stream_id = ""
        batch: list[NewEvent] = []
        for event in stream:
            stream_id, new = renamed(event, copy)
            batch.append(new)
        await store.append(stream_id, batch, expected_version=stream[0].stream_version - 1)
        appended += len(batch)
    return appended


async def clone(
    template: Mapping[str, Sequence[RecordedEvent]],
    data_dir: Path,
    target_events: int,
    progress: Any = None,
) -> dict[str, int]:
    """Appends copies of `template` into `data_dir/<service>/events.db` until at least `target_events`
    events are there; returns the events per service. Personal fields are sealed on the way in with
    keys of `data_dir/vault/keys.db`, as a service's store does (PersonalDataStore).
    `progress(done, total)` is told after each copy."""
    total_per_copy = sum(len(events) for events in template.values())
    if total_per_copy == 0:
        raise ValueError("the template has no events")
    copies = max(1, -(-target_events // total_per_copy))
    streams = {service: _streams(events) for service, events in template.items()}
    vault = await SqliteKeyVault(data_dir / "vault" / "keys.db").open()
    personal = PersonalData(vault, registry)
    stores = {service: await SqliteEventStore(data_dir / service / "events.db", service).open() for service in template}
    sealed = {service: PersonalDataStore(store, personal) for service, store in stores.items()}
    counts = dict.fromkeys(template, 0)
    try:
        for copy in range(copies):
            appended = await asyncio.gather(
                *(_append_copy(sealed[service], streams[service], copy) for service in template)
            )
            for service, count in zip(template, appended, strict=True):
                counts[service] += count
            if progress is not None:
                progress((copy + 1) * total_per_copy, copies * total_per_copy)
    finally:
        for store in stores.values():
            await store.close()
        await vault.close()
    return counts
