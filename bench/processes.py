"""Server processes for the figures: spawn, wait until they answer, sample their memory, stop them.

Each server runs in its own session (so a stop reaches nothing else) with its output in a log file
under the run's folder. `MemorySampler` reads the resident set size (RSS) of every registered process
every `interval` seconds from a thread, so a busy event loop does not delay the samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.infra import ROOT

MiB = 2**20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class ServerFailed(RuntimeError):
    pass


def spawn(name: str, args: Sequence[str], env: Mapping[str, str], logs: Path, port: int | None = None) -> Server:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(  # noqa: S603 (our own entry points, fixed arguments)
            list(args),
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, log, port)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


async def wait_until_ready(server: Server, url: str, timeout: float = 120.0) -> None:
    """Polls `url` until it answers 200; fails with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=3.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerFailed(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise ServerFailed(f"{server.name} did not answer {url} within {timeout} s:\n{server.log_tail()}")


def stop(servers: Sequence[Server], timeout: float = 15.0) -> None:
    """SIGTERM to each server, then SIGKILL to those still running after `timeout` seconds."""
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    deadline = time.monotonic() + timeout
    for server in servers:
        try:
            server.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


@dataclass
class MemorySeries:
    label: str
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the sampler started, RSS in bytes)."""

    @property
    def peak_mib(self) -> float:
        return round(max((rss for _, rss in self.samples), default=0) / MiB, 1)


class MemorySampler:
    """RSS of registered processes (and their children) every `interval` seconds, from a thread."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.series: dict[str, MemorySeries] = {}
        self._processes: dict[str, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def watch(self, label: str, pid: int) -> None:
        with self._lock, contextlib.suppress(psutil.NoSuchProcess):
            self._processes[label] = psutil.Process(pid)
            self.series.setdefault(label, MemorySeries(label))

    def unwatch(self, label: str) -> None:
        with self._lock:
            self._processes.pop(label, None)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                watched = list(self._processes.items())
            now = time.monotonic() - self._started
            for label, process in watched:
                try:
                    rss = process.memory_info().rss
                    rss += sum(child.memory_info().rss for child in process.children(recursive=True))
                except psutil.Error:
                    continue
                self.series[label].samples.append((round(now, 2), rss))


@dataclass
class Profile:
    """A py-spy recording of one process while it is under load."""

    label: str
    path: Path
    process: subprocess.Popen[bytes] | None


def start_profile(label: str, pid: int, seconds: float, folder: Path) -> Profile:
    """py-spy samples `pid` for `seconds` (collapsed stacks: one line per stack with its sample count)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.collapsed.txt"
    if not Path(py_spy).exists():
        return Profile(label, path, None)
    args = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "200"]
    args += ["--format", "raw", "--output", str(path), "--nonblocking"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    return Profile(label, path, process)


def finish_profile(profile: Profile, timeout: float = 60.0) -> Path | None:
    if profile.process is None:
        return None
    try:
        profile.process.wait(timeout)
    except subprocess.TimeoutExpired:
        profile.process.kill()
        profile.process.wait(5)
    return profile.path if profile.path.exists() else None
