"""The read models are pure folds of the event log: a full replay rebuilds them exactly."""

from __future__ import annotations

from pathlib import Path

from libs.events import Document, DocumentStore
from libs.events.eventlog import EmbeddedEventLog
from libs.events.projection import ProjectionRunner
from libs.events.registry import registry
from libs.events.sqlite_docstore import SqliteDocumentStore
from services.contracts.projections import PROJECTIONS
from tests.contracts.conftest import Zone
from tests.contracts.data import contract_body, schedule_body


async def _history(zone: Zone) -> None:
    """Contracts of two clients, schedules agreed and changed, a termination."""
    for n, client in enumerate(["CL-1001", "CL-1001", "CL-2002", "CL-1001"], start=1):
        contract_id = await zone.register(contract_body(f"UL/2026/05/{n:04d}", client, contract_type="financial"))
        if n != 4:
            await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(12 * n))
        if n == 2:
            body = {**schedule_body(18, net="2411.37"), "reason": "restrukturyzacja"}
            await zone.put(f"/contracts/{contract_id}/schedule", body)
        if n == 3:
            await zone.post(
                f"/contracts/{contract_id}/termination", {"terminated_on": "2027-02-01", "reason": "assigned"}
            )
    await zone.caught_up()


async def _snapshot(documents: DocumentStore) -> dict[str, list[Document]]:
    return {
        projection.name: await documents.find(projection.collection, sort=[("_id", 1)]) for projection in PROJECTIONS
    }


async def _replay(zone: Zone, documents: DocumentStore, group: str) -> None:
    """Runs every projection of the service from the beginning of the log into `documents`."""
    log = EmbeddedEventLog(zone.portal.platform.event_stores, checkpoints=documents)
    for projection in PROJECTIONS:
        await documents.ensure(projection.collection)
        consumer = log.consumer(f"{group}.{projection.name}", projection.sources)
        # personal: opens the contact persons, as the service's runners do
        runner = ProjectionRunner(
            projection, consumer, documents, registry, service="contracts", personal=zone.runtime.personal
        )
        while await runner.run_once():
            pass


async def test_a_full_replay_into_a_fresh_store_equals_the_live_read_models(zone: Zone, tmp_path: Path) -> None:
    await _history(zone)
    live = await _snapshot(zone.portal.platform.document_stores["contracts"])
    assert len(live["contract_list"]) == 4
    assert sum(doc["revision"] for doc in live["contract_schedule"]) == 4
    fresh = await SqliteDocumentStore(tmp_path / "rebuilt.db").open()
    try:
        await _replay(zone, fresh, "rebuild")
        assert await _snapshot(fresh) == live
    finally:
        await fresh.close()


async def test_delivering_every_event_again_changes_nothing(zone: Zone) -> None:
    await _history(zone)
    documents = zone.portal.platform.document_stores["contracts"]
    live = await _snapshot(documents)
    await _replay(zone, documents, "redelivery")  # new consumer groups: the whole log again, same documents
    assert await _snapshot(documents) == live
