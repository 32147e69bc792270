"""Where the ops CLI gets the services' runtimes from.

Embedded mode opens the portal's data folder in this process: every service's SQLite event store and
read-model store, with the same runtimes (projections, reactors, consumer groups) as the portal,
whose consumers are NOT started here. The portal may be running meanwhile: SQLite in WAL mode lets
both processes read, and writes are serialized by SQLite's lock (busy_timeout 10 s). The running
portal notices a rebuild's alias switch without restarting: its document store re-reads the alias
document (`_aliases`, a primary-key lookup) on every query and every projection batch, and its live
runner hands over to the new version's checkpoint at its next batch (libs/events/versions.py).

Cluster mode (Kafka + MongoDB) is the seam left for later: build the same `ServiceRuntime`s over
the Kafka event log and the Mongo document store (no consumers started) and hand them to
`Operations`; the alias switch is then one upsert of the alias document in MongoDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path

from libs.events.rebuild import Operations


class Mode(StrEnum):
    embedded = "embedded"
    cluster = "cluster"


class BackendError(Exception):
    """The ops tool cannot reach what it should operate on."""


@asynccontextmanager
async def open_operations(data_dir: Path, mode: Mode = Mode.embedded, grace: float = 2.0) -> AsyncIterator[Operations]:
    if mode is Mode.cluster:
        raise BackendError(
            "cluster mode is not available yet: build the services' runtimes over Kafka and MongoDB "
            "in services/ops/backend.py (open_operations); use --mode embedded with --data-dir"
        )
    if not await asyncio.to_thread(data_dir.is_dir):
        raise BackendError(f"no data folder at {data_dir} (pass --data-dir, or PORTAL_DATA_DIR)")
    from services.gateway.embedded import EmbeddedPortal, PortalSettings  # the composition root

    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir))
    await portal.platform.open()
    try:
        for runtime in portal.runtimes.values():
            await runtime.start(run_consumers=False)
        yield Operations(portal.runtimes, grace=grace)
    finally:
        await portal.stop()
