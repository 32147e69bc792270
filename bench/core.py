"""What every figure module shares: the figure record, the run's scale, timing and percentiles.

A figure is a measured value next to a baseline measured in the same run on the same machine, their
ratio and the target the issue sets. The machine has 2 cores and other work on it, so absolute numbers
move from run to run; the ratio to a baseline measured minutes apart holds much better.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Mode = Literal["embedded", "cluster", "both"]


@dataclass
class Figure:
    key: str
    """Stable id, e.g. `appends.single` or `http.dashboard.embedded`."""
    title: str
    mode: Mode
    unit: str
    value: float
    baseline: float | None
    baseline_label: str
    """What the baseline is: 'raw aiosqlite INSERT, same schema', 'none'..."""
    ratio: float | None
    """value / baseline for rates; for latencies baseline / value (1.0 = as fast as the floor)."""
    target: str
    passed: bool | None
    """None where the issue asks only for the number ('reported')."""
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Secondary values: percentiles, errors, rounds, per-part numbers."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rate_figure(
    key: str,
    title: str,
    mode: Mode,
    unit: str,
    value: float,
    baseline: float,
    baseline_label: str,
    minimum_ratio: float,
    settings: dict[str, Any],
    details: dict[str, Any] | None = None,
    target: str | None = None,
) -> Figure:
    """A throughput figure: the ratio measured / baseline must reach `minimum_ratio`."""
    ratio = value / baseline if baseline > 0 else 0.0
    return Figure(
        key=key,
        title=title,
        mode=mode,
        unit=unit,
        value=value,
        baseline=baseline,
        baseline_label=baseline_label,
        ratio=ratio,
        target=target or f">= {minimum_ratio:g}x baseline",
        passed=ratio >= minimum_ratio,
        settings=settings,
        details=details or {},
    )


@dataclass(frozen=True)
class Scale:
    """How much each figure does. `full` is `make bench`; `quick` takes a couple of minutes; `smoke`
    only proves that every figure still runs (tests/bench)."""

    name: str
    rounds: int
    """Repetitions of a throughput measurement (the best of each side is kept)."""
    single_appends: int
    batched_appends: int
    batch_size: int
    log_events: int
    """Events in the cloned log that the relay publishes and billing's projections replay into FerretDB
    (FerretDB 1.24 on its SQLite backend scans a collection for every upserted document: kept small)."""
    seed_clients: int
    http_max_seconds: float
    http_rate_seconds: float
    http_connections: int
    lag_max_seconds: float
    lag_rate_seconds: float
    lag_senders: int
    latency_samples: int
    rebuild_events: int
    """Events of the rebuild figure's log; `--only rebuild` makes it 1,000,000 unless told otherwise."""
    cluster_services: tuple[str, ...]
    """The services started as their own processes for the cluster figures (with their relays)."""


SCALES: dict[str, Scale] = {
    "full": Scale(
        name="full",
        rounds=2,
        single_appends=5_000,
        batched_appends=100_000,
        batch_size=100,
        log_events=4_000,
        seed_clients=30,
        http_max_seconds=10.0,
        http_rate_seconds=20.0,
        http_connections=16,
        lag_max_seconds=10.0,
        lag_rate_seconds=30.0,
        lag_senders=8,
        latency_samples=300,
        rebuild_events=100_000,
        cluster_services=("identity", "contracts", "billing"),
    ),
    "quick": Scale(
        name="quick",
        rounds=1,
        single_appends=1_000,
        batched_appends=20_000,
        batch_size=100,
        log_events=2_000,
        seed_clients=4,
        http_max_seconds=4.0,
        http_rate_seconds=6.0,
        http_connections=16,
        lag_max_seconds=4.0,
        lag_rate_seconds=8.0,
        lag_senders=8,
        latency_samples=100,
        rebuild_events=20_000,
        cluster_services=("identity", "contracts", "billing"),
    ),
    "smoke": Scale(
        name="smoke",
        rounds=1,
        single_appends=50,
        batched_appends=500,
        batch_size=50,
        log_events=300,
        seed_clients=2,
        http_max_seconds=1.0,
        http_rate_seconds=1.0,
        http_connections=4,
        lag_max_seconds=1.0,
        lag_rate_seconds=1.0,
        lag_senders=2,
        latency_samples=10,
        rebuild_events=300,
        cluster_services=("contracts",),
    ),
}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and max in milliseconds."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p90_ms": round(percentile(seconds, 90) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "max_ms": round(max(seconds, default=math.nan) * 1000, 3),
        "count": len(seconds),
    }


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


@dataclass
class Workspace:
    """Where a run keeps its files (a temporary folder) and reports its progress."""

    root: Path
    scale: Scale
    results: Path
    run_id: str
    say: Callable[[str], None] = print
    profile: bool = False
    """Record a py-spy profile of the server processes while they are under load."""
