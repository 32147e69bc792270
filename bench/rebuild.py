"""Rebuild of every projection from a large log, with the rebuilding process's memory over time.

The log: the seeded portal's events cloned to `rebuild_events` events through the platform's append
path (bench/world.py says how and why), into a data folder of the embedded layout. Measured: a
separate process (`python -m bench.rebuild DATA_DIR OUT`) doing what `python -m services.ops
projections rebuild NAME` does for every projection of every service, one after another
(`Operations.rebuild`: a new collection version filled from the beginning of its sources, then the
alias switch), with its RSS sampled every half second. The figure is the events the rebuilds read
over the time they took. Baseline: the same stores read raw (aiosqlite, pages of 500 rows by
position, no decoding), as events per second.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bench.core import Figure, Stopwatch, Workspace, per_second
from bench.processes import MemorySampler, MemorySeries, MiB, python, spawn
from bench.world import clone
from libs.events.envelope import RecordedEvent

PROJECTED_LIMIT_MINUTES = 30.0
"""'Minutes': a rebuild of every projection from 1,000,000 events within this (projected linearly)."""
FLAT_SLACK_MIB = 48.0
WORKER_TIMEOUT = 3 * 3600.0


async def raw_read(data_dir: Path, services: Sequence[str]) -> tuple[int, float]:
    """Every row of every store, 500 at a time, undecoded: (rows, seconds)."""
    rows, watch = 0, Stopwatch()
    for service in services:
        path = data_dir / service / "events.db"
        if not path.exists():
            continue
        async with aiosqlite.connect(path) as db:
            position = 0
            while True:
                async with db.execute(
                    "SELECT position, event_id, stream_id, stream_version, type, version, occurred_at, "
                    "correlation_id, causation_id, client_id, actor, data, trace_context FROM events "
                    "WHERE position > ? ORDER BY position LIMIT 500",
                    (position,),
                ) as cursor:
                    batch = list(await cursor.fetchall())
                if not batch:
                    break
                rows += len(batch)
                position = batch[-1][0]
    return rows, watch.elapsed


def flatness(series: MemorySeries) -> dict[str, Any]:
    """Peak RSS of the first and the second half of the run (the first 10 % left out: imports, start)."""
    samples = series.samples
    if len(samples) < 4:
        return {"flat": True, "first_half_peak_mib": series.peak_mib, "second_half_peak_mib": series.peak_mib}
    start, end = samples[0][0], samples[-1][0]
    settled = [(t, rss) for t, rss in samples if t >= start + 0.1 * (end - start)]
    middle = start + 0.55 * (end - start)
    first = max((rss for t, rss in settled if t < middle), default=0) / MiB
    second = max((rss for t, rss in settled if t >= middle), default=0) / MiB
    slack = max(FLAT_SLACK_MIB, 0.1 * first)
    return {
        "flat": second - first <= slack,
        "first_half_peak_mib": round(first, 1),
        "second_half_peak_mib": round(second, 1),
        "allowed_growth_mib": round(slack, 1),
    }


def downsample(series: MemorySeries, points: int = 60) -> list[tuple[float, float]]:
    samples = series.samples
    step = max(1, len(samples) // points)
    return [(t, round(rss / MiB, 1)) for t, rss in samples[::step]]


async def measure(
    work: Workspace,
    template: Mapping[str, Sequence[RecordedEvent]],
    sampler: MemorySampler,
    events: int,
) -> Figure:
    data_dir = work.root / "rebuild-data"
    work.say(f"rebuild: appending {events:,} events through SqliteEventStore.append")
    generation = Stopwatch()
    counts = await clone(template, data_dir, events)
    generated_seconds = generation.elapsed
    total_events = sum(counts.values())
    raw_rows, raw_seconds = await raw_read(data_dir, list(counts))
    out = work.root / "rebuild-result.json"
    worker = spawn("rebuild-worker", python("-m", "bench.rebuild", str(data_dir), str(out)), {}, work.root / "logs")
    label = "rebuild (ops, every projection)"
    sampler.watch(label, worker.pid)
    watch = Stopwatch()
    try:
        code = await asyncio.wait_for(asyncio.to_thread(worker.process.wait), WORKER_TIMEOUT)
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
        sampler.unwatch(label)
    wall = watch.elapsed
    if code != 0 or not out.exists():
        raise RuntimeError(f"the rebuild worker failed ({code}):\n{worker.log_tail()}")
    result = json.loads(out.read_text())
    read = sum(item["events"] for item in result["projections"])
    seconds = sum(item["seconds"] for item in result["projections"])
    series = sampler.series[label]
    flat = flatness(series)
    projected_minutes = seconds / 60 * (1_000_000 / max(1, total_events))
    value = per_second(read, seconds)
    baseline = per_second(raw_rows, raw_seconds)
    return Figure(
        key="rebuild",
        title=f"Rebuild of every projection from {total_events:,} events",
        mode="embedded",
        unit="events/s",
        value=value,
        baseline=baseline,
        baseline_label="the same stores read raw (aiosqlite, pages of 500, no decoding)",
        ratio=value / baseline if baseline else None,
        target=f"minutes (<= {PROJECTED_LIMIT_MINUTES:g} min for 1,000,000 events), RSS flat",
        passed=projected_minutes <= PROJECTED_LIMIT_MINUTES and bool(flat["flat"]),
        settings={
            "events": total_events,
            "events_per_service": counts,
            "log": "the seeded portal's events cloned through SqliteEventStore.append (bench/world.py)",
            "projections": len(result["projections"]),
            "how": "Operations.rebuild for each projection in turn (as `python -m services.ops projections "
            "rebuild`), in its own process, grace 0 s",
            "rss_sampling_s": sampler.interval,
        },
        details={
            "rebuild_seconds": round(seconds, 1),
            "rebuild_minutes": round(seconds / 60, 2),
            "projected_minutes_for_1m": round(projected_minutes, 2),
            "worker_wall_seconds": round(wall, 1),
            "events_read_by_rebuilds": read,
            "generation_events_per_s": round(per_second(total_events, generated_seconds), 1),
            "generation_seconds": round(generated_seconds, 1),
            "raw_read": {"rows": raw_rows, "seconds": round(raw_seconds, 2)},
            "rss": {**flat, "peak_mib": series.peak_mib, "series_mib": downsample(series)},
            "dead_letters": result.get("dead_letters"),
            "per_projection": result["projections"],
        },
    )


# --- the worker: its own process, so its memory is the rebuild's alone ------------------------------------


async def rebuild_everything(data_dir: Path) -> dict[str, Any]:
    from libs.events.projection import DEAD_LETTERS
    from libs.events.rebuild import _raw
    from services.ops.backend import open_operations

    done: list[dict[str, Any]] = []
    async with open_operations(data_dir, grace=0.0) as ops:
        for name in ops.known_projections():
            started = time.perf_counter()
            result = await ops.rebuild(name)
            done.append(
                {
                    "projection": name,
                    "events": result.events,
                    "documents": result.documents,
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
            print(json.dumps(done[-1]), flush=True)
        dead = 0
        for runtime in ops.runtimes.values():
            dead += await _raw(runtime.documents).count(DEAD_LETTERS)
    return {"projections": done, "dead_letters": dead}


def main(argv: Sequence[str]) -> None:
    from libs.events.service.logs import configure_logging
    from libs.events.service.tracing import configure_tracing

    data_dir, out = Path(argv[0]), Path(argv[1])
    configure_logging("json", "WARNING")
    configure_tracing("strefa-ops", None)
    out.write_text(json.dumps(asyncio.run(rebuild_everything(data_dir))))


if __name__ == "__main__":
    main(sys.argv[1:])
