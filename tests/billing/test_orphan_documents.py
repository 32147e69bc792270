"""Document PDFs stored by the back-office upload whose DocumentPublished was never appended: swept once older
than the grace period (the sweeper's clock injected), never while young, and a published document's never."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from libs.events.aggregate import CommandHandler
from libs.events.envelope import NewEvent, utc_now
from libs.events.service.logs import configure_logging
from libs.events.store import AppendResult, EventStore, WrongExpectedVersion
from services.billing.blobs import orphan_sweeper
from services.billing.settings import BillingSettings
from tests.billing.conftest import Billing, start_portal
from tests.billing.test_backoffice import a_pdf
from tests.helpers import eventually

GRACE = timedelta(seconds=BillingSettings().orphan_blob_grace_seconds)


class _AlwaysBeaten:
    """Billing's event store, where another writer wins every race: each append fails with a conflict."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        raise WrongExpectedVersion(stream_id, expected_version, (expected_version or 0) + 1)


@contextmanager
def _logs() -> Iterator[list[dict[str, Any]]]:
    """The log lines written meanwhile, as the services write them (JSON)."""
    saved = structlog.get_config()
    captured = io.StringIO()
    lines: list[dict[str, Any]] = []
    configure_logging("json", "DEBUG")
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(captured))
    try:
        yield lines
    finally:
        structlog.configure(**saved)
        lines.extend(json.loads(line) for line in captured.getvalue().splitlines())


def _blob_files(billing: Billing) -> list[Path]:
    root = billing.portal.runtimes["billing"].settings.data_dir / "blobs"
    return sorted(path for path in root.rglob("*") if path.is_file())


def _at(moment: datetime) -> Any:
    return lambda: moment


async def _downloaded(billing: Billing, document_id: str) -> bytes:
    await billing.caught_up()
    response = await billing.get(f"documents/{document_id}/download")
    assert response.status_code == 200, response.text
    return response.content


async def test_a_document_whose_append_failed_leaves_a_file_swept_only_after_the_grace(billing: Billing) -> None:
    await billing.register_contract("UL/1/2026")
    runtime = billing.portal.runtimes["billing"]
    published = await billing.publish("CL-A", "Aneks", a_pdf("Aneks nr 1"))
    assert published.status_code == 201, published.text
    document_id = published.json()["id"]

    handler = runtime.commands
    runtime.commands = CommandHandler(_AlwaysBeaten(runtime.events), runtime.registry)
    try:
        lost = a_pdf("Pismo, którego zdarzenie nie zapisało się")
        assert (await billing.publish("CL-A", "Pismo", lost)).status_code == 409
    finally:
        runtime.commands = handler
    (orphan,) = [path for path in _blob_files(billing) if path.read_bytes() == lost]

    now = utc_now()
    assert await orphan_sweeper(runtime, _at(now)).sweep() == []
    assert await orphan_sweeper(runtime, _at(now + GRACE - timedelta(minutes=1))).sweep() == []
    assert orphan.exists()

    with _logs() as logs:
        (swept,) = await orphan_sweeper(runtime, _at(now + GRACE + timedelta(seconds=1))).sweep()
    assert not orphan.exists()
    assert swept.size == len(lost)
    (line,) = [line for line in logs if line["event"] == "orphan_blob_deleted"]
    assert line["key"] == swept.key == orphan.relative_to(orphan.parents[2]).as_posix()
    assert line["size"] == len(lost)
    assert line["age_seconds"] >= GRACE.total_seconds()
    assert "Pismo" not in json.dumps(logs)

    assert await orphan_sweeper(runtime, _at(now + timedelta(days=3650))).sweep() == []
    assert await _downloaded(billing, document_id) == a_pdf("Aneks nr 1")


async def test_a_retried_upload_with_other_bytes_under_the_same_key_leaves_only_the_published_file(
    billing: Billing,
) -> None:
    await billing.register_contract("UL/1/2026")
    runtime = billing.portal.runtimes["billing"]
    headers = {**billing.backoffice, "Idempotency-Key": "bo-doc-77"}
    ids = []
    for text in ("Wersja pierwsza", "Wersja poprawiona"):
        response = await billing.http.post(
            "/api/billing/backoffice/documents",
            data={"client_id": "CL-A", "kind": "letter", "title": "Pismo"},
            files={"file": ("pismo.pdf", a_pdf(text), "application/pdf")},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert ids[0] == ids[1]  # the retry returned the first outcome and appended nothing
    assert len(_blob_files(billing)) == 2

    (swept,) = await orphan_sweeper(runtime, _at(utc_now() + GRACE + timedelta(seconds=1))).sweep()
    assert swept.key.startswith(f"documents/{ids[0]}/")
    assert [path.read_bytes() for path in _blob_files(billing)] == [a_pdf("Wersja pierwsza")]
    assert await _downloaded(billing, ids[0]) == a_pdf("Wersja pierwsza")


async def test_billing_sweeps_at_start_from_its_runtime(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    blobs = data_dir / "billing" / "blobs" / "documents"
    old, young = blobs / "lost-1" / "0a.pdf", blobs / "lost-2" / "0b.pdf"
    for path in (old, young):
        path.parent.mkdir(parents=True)
        path.write_bytes(a_pdf())
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))

    portal = await start_portal(data_dir)
    try:
        await eventually(lambda: not old.exists(), what="the old orphan swept at start")
        assert young.exists()
    finally:
        await portal.stop()
