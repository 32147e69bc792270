"""Event store appends per second: one event per append (one command, one event) and batched.

Measured: `SqliteEventStore.append` (the embedded and local-cluster event store) on a fresh file, one
writer, appending to `streams` streams in turn with the expected version of each. Baseline: the same
rows written with the same driver (aiosqlite, same schema, same PRAGMAs, one `BEGIN IMMEDIATE` ...
`COMMIT` per append) and no platform code: no idempotency lookup, no version check, no envelope.
The batched figure appends `batch_size` events per call and is compared with the single appends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiosqlite
import orjson

from bench.core import Figure, Stopwatch, Workspace, per_second, rate_figure
from libs.events.envelope import NewEvent
from libs.events.sqlite_store import _SCHEMA, SqliteEventStore
from libs.events.store import NO_STREAM

STREAMS = 500
_INSERT = (
    "INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at, correlation_id, "
    "causation_id, client_id, actor, data, trace_context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def payment_data(index: int) -> dict[str, Any]:
    """An event body of the size the seeder's PaymentReceived has (about 275 bytes of JSON)."""
    return {
        "payment_id": str(uuid4()),
        "client_id": f"KL1-{index % 1000:06d}",
        "amount": f"{1000 + index % 997}.{index % 100:02d}",
        "currency": "PLN",
        "received_on": "2026-11-20",
        "title": f"FV FV/2026/11/1/{index:09d} umowa UL/2026/1/{index % 1000:06d}-1",
        "account": "25124010087700010000000004",
        "source": "bank_statement",
        "invoice_ids": [],
    }


def new_events(count: int, offset: int = 0) -> list[NewEvent]:
    return [
        NewEvent(type="PaymentReceived", version=1, data=payment_data(offset + i), client_id="KL1-000001")
        for i in range(count)
    ]


async def platform_appends(path: Path, events: Sequence[NewEvent], per_append: int) -> float:
    """Events per second through SqliteEventStore.append, `per_append` events per call."""
    store = await SqliteEventStore(path, "bench").open()
    versions: dict[str, int] = {}
    try:
        watch = Stopwatch()
        for start in range(0, len(events), per_append):
            stream = f"billing-ledger-{(start // per_append) % STREAMS}"
            expected = versions.get(stream, NO_STREAM)
            result = await store.append(stream, events[start : start + per_append], expected)
            versions[stream] = result.stream_version
        return per_second(len(events), watch.elapsed)
    finally:
        await store.close()


def _row(event: NewEvent, stream: str, version: int) -> tuple[Any, ...]:
    return (
        str(event.event_id),
        stream,
        version,
        event.type,
        event.version,
        event.occurred_at.isoformat(),
        str(event.correlation_id),
        None,
        event.client_id,
        event.actor,
        orjson.dumps(event.data),
        orjson.dumps(dict(event.trace_context)),
    )


async def raw_appends(path: Path, events: Sequence[NewEvent], per_append: int) -> float:
    """The same rows with aiosqlite alone: BEGIN IMMEDIATE, INSERT, COMMIT."""
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000"):
        await db.execute(pragma)
    await db.executescript(_SCHEMA)
    versions: dict[str, int] = {}
    try:
        watch = Stopwatch()
        for start in range(0, len(events), per_append):
            stream = f"billing-ledger-{(start // per_append) % STREAMS}"
            first = versions.get(stream, -1) + 1
            chunk = events[start : start + per_append]
            rows = [_row(event, stream, first + offset) for offset, event in enumerate(chunk)]
            await db.execute("BEGIN IMMEDIATE")
            await db.executemany(_INSERT, rows)
            await db.execute("COMMIT")
            versions[stream] = first + len(chunk) - 1
        return per_second(len(events), watch.elapsed)
    finally:
        await db.close()


async def measure(work: Workspace) -> list[Figure]:
    scale = work.scale
    folder = work.root / "appends"
    folder.mkdir(parents=True, exist_ok=True)
    singles = new_events(scale.single_appends)
    batched = new_events(scale.batched_appends, offset=scale.single_appends)
    rates: dict[str, list[float]] = {"platform": [], "raw": [], "platform_batched": [], "raw_batched": []}
    for round_ in range(scale.rounds):
        # alternate who goes first: a burst of other work on the machine hits both sides alike
        order = ("raw", "platform") if round_ % 2 == 0 else ("platform", "raw")
        for side in order:
            runner = raw_appends if side == "raw" else platform_appends
            rates[side].append(await runner(folder / f"{side}-{round_}.db", singles, 1))
            batched_rate = await runner(folder / f"{side}-batched-{round_}.db", batched, scale.batch_size)
            rates[f"{side}_batched"].append(batched_rate)
    best = {side: max(values) for side, values in rates.items()}
    settings = {
        "store": "SqliteEventStore (WAL, synchronous=NORMAL), fresh file",
        "single_appends": scale.single_appends,
        "batched_events": scale.batched_appends,
        "batch_size": scale.batch_size,
        "streams": STREAMS,
        "writers": 1,
        "rounds": scale.rounds,
        "kept": "best round of each side",
        "event": "PaymentReceived-sized JSON (~275 bytes)",
    }
    rounds = {side: [round(value, 1) for value in values] for side, values in rates.items()}
    single = rate_figure(
        "appends.single",
        "Event store appends, one event per append",
        "both",
        "events/s",
        best["platform"],
        best["raw"],
        "raw aiosqlite INSERT, one transaction per event, same schema",
        0.6,
        settings,
        {"rounds": rounds, "measured_at": datetime.now(UTC).isoformat()},
    )
    batched_figure = rate_figure(
        "appends.batched",
        f"Event store appends, {scale.batch_size} events per append",
        "both",
        "events/s",
        best["platform_batched"],
        best["platform"],
        "the platform's single appends (same run)",
        10.0,
        settings,
        {"rounds": rounds, "raw_batched_events_per_s": round(best["raw_batched"], 1)},
        target=">= 10x single appends",
    )
    return [single, batched_figure]
