"""The HTTP load generator, run as its own process: `python -m bench.loadgen URL [options]`.

Two modes, both over persistent HTTP/1.1 connections on loopback, bounded in time:

- `closed`: `--connections` clients each send the next request when the last answered, for
  `--duration` seconds: the maximum rate (used when `wrk` is not installed);
- `open`: requests start on a fixed schedule of `--rate` per second whatever the answers do (open loop),
  for `--duration` seconds; each latency is measured from the request's scheduled start, so a slow
  answer that holds up the next requests shows in their latencies too (no coordinated omission).

The client is a minimal HTTP/1.1 reader on asyncio streams (uvloop when installed) so the generator
stays cheap next to the server it measures. The result is one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.core import latency_summary

DRAIN_SECONDS = 30.0


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        """Sends one request and reads the whole answer; returns its status (0 when the connection broke)."""
        try:
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            self._writer.write(raw)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, chunked, close = _framing(head)
            if chunked:
                await _read_chunked(self._reader)
            elif length:
                await self._reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _framing(head: bytes) -> tuple[int, bool, bool]:
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    return length, chunked, close


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


def build_request(url: str, headers: Sequence[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target or '/'} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json", *headers]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Outcome:
    mode: str
    duration: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    late_starts: int = 0
    """Open loop: requests that could not start on time (every connection was busy)."""
    unfinished: int = 0
    """Open loop: requests still unanswered `DRAIN_SECONDS` after the last one was due."""

    def to_json(self, offered_rate: float | None) -> dict[str, Any]:
        completed = len(self.latencies)
        ok = sum(count for status, count in self.statuses.items() if 200 <= status < 300)
        return {
            "mode": self.mode,
            "duration_s": round(self.duration, 3),
            "offered_rate": offered_rate,
            "requests": completed,
            "ok": ok,
            "errors": completed - ok + self.unfinished,
            "unfinished": self.unfinished,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "rate": round(completed / self.duration, 2) if self.duration else 0.0,
            "late_starts": self.late_starts,
            "latency": latency_summary(self.latencies),
        }


async def closed_loop(host: str, port: int, raw: bytes, connections: int, duration: float) -> Outcome:
    outcome = Outcome("closed", duration)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration

    async def client() -> None:
        connection = Connection(host, port)
        while loop.time() < deadline:
            started = loop.time()
            status = await connection.request(raw)
            outcome.latencies.append(loop.time() - started)
            outcome.statuses[status] += 1
        connection.close()

    started = loop.time()
    await asyncio.gather(*(client() for _ in range(connections)))
    outcome.duration = loop.time() - started
    return outcome


async def open_loop(host: str, port: int, raw: bytes, connections: int, rate: float, duration: float) -> Outcome:
    outcome = Outcome("open", duration)
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    total = max(1, round(rate * duration))
    interval = 1.0 / rate
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        if idle.empty():
            outcome.late_starts += 1
        connection = await idle.get()
        try:
            status = await connection.request(raw)
        finally:
            idle.put_nowait(connection)
        outcome.latencies.append(loop.time() - scheduled)
        outcome.statuses[status] += 1

    start = loop.time() + 0.05
    for index in range(total):
        scheduled = start + index * interval
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, unfinished = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for task in unfinished:  # still waiting for an answer: counted as failed, not waited for
            task.cancel()
        outcome.unfinished = len(unfinished)
    outcome.duration = total * interval
    while not idle.empty():
        idle.get_nowait().close()
    return outcome


def run(args: argparse.Namespace) -> dict[str, Any]:
    host, port, raw = build_request(args.url, args.header)
    run_loop: Callable[[Coroutine[Any, Any, Outcome]], Outcome] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run_loop = uvloop.run
    if args.warmup > 0:
        run_loop(closed_loop(host, port, raw, min(args.connections, 4), args.warmup))
    if args.mode == "closed":
        return run_loop(closed_loop(host, port, raw, args.connections, args.duration)).to_json(None)
    return run_loop(open_loop(host, port, raw, args.connections, args.rate, args.duration)).to_json(args.rate)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (bounded: at most 300)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (open loop)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured requests first")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 300 or args.connections < 1 or args.rate <= 0:
        parser.error("--duration must be in (0, 300], --connections >= 1, --rate > 0")
    json.dump(run(args), sys.stdout)


# --- the parent's side: run the generator (or wrk) as its own process --------------------------------


def _generator(args: Sequence[str], timeout: float) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "bench.loadgen", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed ({completed.returncode}): {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


SLOW_SERVER_REQUESTS = 20
"""Fewer answers than this in a maximum-rate run: the server needs seconds per request, and a queue of
`connections` requests only adds waiting; it is measured again with 2 connections for longer."""


def maximum_rate(url: str, headers: Sequence[str], connections: int, duration: float) -> dict[str, Any]:
    """The closed-loop maximum rate: wrk when installed (`apt-get install wrk`), else this generator."""
    result = _maximum_rate(url, headers, connections, duration)
    if result.get("requests", 0) < SLOW_SERVER_REQUESTS and connections > 2:
        slow = _maximum_rate(url, headers, 2, max(duration, 15.0))
        slow["first_try"] = {"connections": connections, "requests": result.get("requests", 0)}
        return slow
    return result


def _maximum_rate(url: str, headers: Sequence[str], connections: int, duration: float) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is not None:
        return {**_wrk(wrk, url, headers, connections, duration), "connections": connections}
    args = [url, "--mode", "closed", "--connections", str(connections), "--duration", str(duration)]
    for header in headers:
        args += ["--header", header]
    result = _generator(args, duration + 60)
    return {**result, "tool": "bench.loadgen (closed loop)", "connections": connections}


def _wrk(wrk: str, url: str, headers: Sequence[str], connections: int, duration: float) -> dict[str, Any]:
    # a short unmeasured run first (connections, caches), like the generator's warm-up
    warm = [wrk, "-t1", f"-c{min(connections, 4)}", "-d1s", url]
    subprocess.run(warm, capture_output=True, timeout=30, check=False)  # noqa: S603
    # a long per-request timeout: a slow server's answers count as slow, not as lost
    args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s", "--latency"]
    for header in headers:
        args += ["-H", header]
    completed = subprocess.run(  # noqa: S603
        [*args, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return {**parse_wrk(completed.stdout), "tool": "wrk"}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/sec, the request count, non-2xx answers and the latency percentiles from wrk's output."""
    result: dict[str, Any] = {"mode": "closed", "latency": {}}
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}

    def millis(text: str) -> float:
        for unit in ("us", "ms", "s", "m"):
            if text.endswith(unit):
                return float(text[: -len(unit)]) * units[unit]
        return float(text)

    for line in output.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rate"] = float(words[1])
        elif "requests in" in line:
            result["requests"] = int(words[0])
            result["duration_s"] = millis(words[3].rstrip(",")) / 1000
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["errors"] = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            result["socket_errors"] = line.split(":", 1)[1].strip()
            counts = [int(part.split()[-1]) for part in result["socket_errors"].split(",") if part.split()]
            result["failed_requests"] = sum(counts)
        elif len(words) == 2 and words[0] in ("50%", "90%", "99%"):
            result["latency"][f"p{words[0].rstrip('%')}_ms"] = round(millis(words[1]), 3)
    result["errors"] = result.get("errors", 0) + result.pop("failed_requests", 0)
    return result


def open_rate(
    url: str, headers: Sequence[str], connections: int, rate: float, duration: float, warmup: float = 1.0
) -> dict[str, Any]:
    args = [url, "--mode", "open", "--rate", f"{rate:.2f}", "--duration", str(duration)]
    args += ["--connections", str(connections), "--warmup", str(warmup)]
    for header in headers:
        args += ["--header", header]
    started = time.monotonic()
    result = _generator(args, duration + warmup + DRAIN_SECONDS + 120)
    result["wall_s"] = round(time.monotonic() - started, 2)
    return result


if __name__ == "__main__":
    main()
