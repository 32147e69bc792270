"""`python -m services.gateway --seed-demo`: serve the portal and, on the first start, seed it.

The server starts as usual; once every service answers /readyz, the seeder feeds a small demo set
through the back-office API of this very server, and a banner names the URL, the demo login and the
address to try the activation with. The seeding happens once per data folder: only when the folder
was empty (or a first seeding was interrupted, which is resumed with the same date); the next starts
just show the banner. A marker file (`<data>/seeder/demo.json`) remembers what was seeded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn
from rich.console import Console

from libs.events.warsaw import warsaw_date
from services.seeder.runner import SeedOptions, backoffice_client, seed
from services.seeder.summary import banner
from services.seeder.world import WorldOptions, demo_logins

log = structlog.get_logger(__name__)

MARKER = Path("seeder") / "demo.json"


@dataclass(frozen=True)
class DemoSeed:
    clients: int = 8
    seed: int = 1
    history_months: int = 36
    concurrency: int = 8


def _read_marker(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / MARKER
    if not path.is_file():
        return None
    marker: dict[str, Any] = json.loads(path.read_text())
    return marker


def _write_marker(data_dir: Path, marker: dict[str, Any]) -> None:
    path = data_dir / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(marker, indent=2))


def _world(marker: dict[str, Any]) -> WorldOptions:
    return WorldOptions(
        today=date.fromisoformat(marker["today"]),
        seed=int(marker["seed"]),
        clients=int(marker["clients"]),
        history_months=int(marker["history_months"]),
        pdf_clients=int(marker["clients"]),
    )


async def wait_ready(url: str, services: Sequence[str], serving: asyncio.Task[None], timeout: float = 120.0) -> bool:
    """True once every service answers /api/<service>/readyz with 200; False if the server stopped."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while not serving.done() and time.monotonic() < deadline:
            try:
                answers = await asyncio.gather(*(http.get(f"/api/{name}/readyz") for name in services))
                if all(answer.status_code == 200 for answer in answers):
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    return False


class DevServer:
    def __init__(self, config: uvicorn.Config, data_dir: Path, services: Sequence[str], demo: DemoSeed) -> None:
        self.config = config
        self.data_dir = data_dir
        self.services = services
        self.demo = demo
        host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host  # noqa: S104 (a comparison)
        self.url = f"http://{host}:{config.port}"
        self.console = Console()

    def _plan(self) -> tuple[WorldOptions | None, bool]:
        """What was or will be seeded, and whether it must be seeded now."""
        marker = _read_marker(self.data_dir)
        if marker is not None and marker.get("state") == "done":
            return _world(marker), False
        empty = not self.data_dir.exists() or not any(self.data_dir.iterdir())
        if marker is None and not empty:
            log.info("demo_seed_skipped", reason="the data folder holds data the demo seeder did not make")
            return None, False
        if marker is None:
            marker = {
                "state": "seeding",
                "seed": self.demo.seed,
                "clients": self.demo.clients,
                "history_months": self.demo.history_months,
                "today": warsaw_date(datetime.now(UTC)).isoformat(),
            }
            _write_marker(self.data_dir, marker)
        return _world(marker), True

    async def serve(self) -> None:
        world, seeding = self._plan()
        server = uvicorn.Server(self.config)
        serving = asyncio.create_task(server.serve(), name="uvicorn")
        side = asyncio.create_task(self._after_start(serving, world, seeding), name="demo-seed")
        await asyncio.wait({serving, side}, return_when=asyncio.FIRST_COMPLETED)
        if not side.done():
            side.cancel()
            with suppress(asyncio.CancelledError):
                await side
        elif side.exception() is not None:
            log.error("demo_seed_failed", error=repr(side.exception()))
        await serving

    async def _after_start(self, serving: asyncio.Task[None], world: WorldOptions | None, seeding: bool) -> None:
        if not await wait_ready(self.url, self.services, serving):
            return
        active, pending = world is not None, True
        if world is not None and seeding:
            log.info("demo_seeding", clients=world.clients, seed=world.seed, today=world.today.isoformat())
            token = (self.data_dir / "secrets" / "backoffice-token").read_text().strip()
            options = SeedOptions(world=world, concurrency=self.demo.concurrency, progress=False)
            async with backoffice_client(self.url, token) as http:
                report = await seed(http, options)
            active, pending = report.demo_active, report.activation_pending
            if report.ok:
                marker = _read_marker(self.data_dir) or {}
                _write_marker(self.data_dir, {**marker, "state": "done"})
            else:
                log.error("demo_seed_incomplete", failures=report.failures[:5])
        logins = demo_logins(world) if world is not None else None
        if logins is not None and not seeding:
            active, pending = await self._status(logins.email, logins.activation_email)
        self.console.print(banner(self.url, logins, active, str(self.data_dir), pending))

    async def _status(self, demo_email: str, activation_email: str) -> tuple[bool, bool]:
        """Whether the demo login is active and the activation address still waits (on later starts)."""
        token = (self.data_dir / "secrets" / "backoffice-token").read_text().strip()
        statuses: list[str | None] = []
        async with backoffice_client(self.url, token) as http:
            for email in (demo_email, activation_email):
                answer = await http.get("/api/identity/backoffice/accounts", params={"email": email})
                statuses.append(answer.json().get("status") if answer.status_code == 200 else None)
        return statuses[0] == "active", statuses[1] == "provisioned"


def serve_with_demo(config: uvicorn.Config, data_dir: Path, services: Sequence[str], demo: DemoSeed) -> None:
    asyncio.run(DevServer(config, data_dir, services, demo).serve())
