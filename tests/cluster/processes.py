"""Service processes started by a test: subprocesses on free ports, logs in files, stopped in `finally`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.servers import ROOT

REACTION_TIMEOUT = 60.0
"""Bounds how long a command in one service may take to show in a read model."""


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Cluster:
    url: str
    token: str
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def backoffice(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def dead(self) -> dict[str, int]:
        return {name: code for name, process in self.processes.items() if (code := process.poll()) is not None}

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def explain(self) -> str:
        return "\n".join(f"--- {name}.log\n{self.log_tail(name)}" for name in self.processes)


def spawn(cluster: Cluster, name: str, args: list[str], env: dict[str, str]) -> None:
    handle: IO[bytes] = (cluster.logs / f"{name}.log").open("wb")
    cluster.processes[name] = subprocess.Popen(  # noqa: S603 (our own entry points, fixed arguments)
        args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def eventually(
    cluster: Cluster, check: Callable[[], Awaitable[bool]], what: str, timeout: float = REACTION_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dead := cluster.dead():
            raise AssertionError(f"processes ended while waiting for {what}: {dead}\n{cluster.explain()}")
        with contextlib.suppress(httpx.TransportError):
            if await check():
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s\n{cluster.explain()}")


def contract_body(number: str, email: str, client_id: str = "CL-7001") -> dict[str, Any]:
    """A contract as the back office registers it, with one contact person."""
    return {
        "contract_number": number,
        "client": {"client_id": client_id, "name": "Klaster Sp. z o.o.", "nip": "526-025-02-74"},
        "contract_type": "operating",
        "start_date": "2026-01-15",
        "end_date": "2029-01-15",
        "net_value": "99000.00",
        "currency": "PLN",
        "asset": {
            "kind": "samochód osobowy",
            "make": "Škoda",
            "model": "Octavia",
            "vin": "TMBJJ7NP5L7012345",
            "registration_number": "WX7001A",
            "year": 2025,
        },
        "contact_persons": [{"first_name": "Ewa", "last_name": "Kowalska", "email": email, "phone": "601 234 567"}],
    }
