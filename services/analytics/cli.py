"""`python -m services.analytics export`: typer + rich. Exit codes: 0 done, 1 failed (Kafka or a store
unreachable), 2 bad usage (unknown topic or service, an export folder of another group)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from libs.events.cluster import DEFAULT_NAMESPACE, SERVICE_NAMES
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import UnknownSource
from libs.events.service.logs import configure_logging
from services.analytics.export import STATE_DIR, ExportFolderTaken, ExportStats, ParquetExporter
from services.analytics.sources import EmbeddedSource, KafkaSource, Source

log = structlog.get_logger(__name__)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

DEFAULT_GROUP = "analytics-parquet-export"
RETRY_SECONDS = 2.0

app = typer.Typer(help="Analytics exports of the portal's events.", no_args_is_help=True, add_completion=False)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the logs.")] = False) -> None:
    configure_logging("console", "INFO" if verbose else "WARNING")
    if not verbose:  # its connection errors reach the user as one clear message instead
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def split_names(values: list[str] | None) -> list[str]:
    """`--topics a,b --topics c` -> [a, b, c]."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def service_of(name: str, namespace: str) -> str:
    """A service named by itself or by its topic (`<namespace>.<service>.events`)."""
    prefix, suffix = f"{namespace}.", ".events"
    if name.startswith(prefix) and name.endswith(suffix):
        return name[len(prefix) : -len(suffix)]
    return name


@contextmanager
def progress_bar() -> Iterator[Progress]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records, {task.fields[written]} written, {task.fields[duplicates]} duplicates"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        yield bar


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="The export folder: event_type=<T>/date=<YYYY-MM-DD>/part-*.parquet.")],
    topics: Annotated[
        list[str] | None,
        typer.Option(
            help="Topics to export (repeat or separate with commas); default: every service's "
            "<namespace>.<service>.events. With --embedded: services, by name or topic."
        ),
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap servers (host:port).")
    ] = None,
    group: Annotated[
        str, typer.Option(help="The exporter's consumer group: its committed offsets are where a run goes on.")
    ] = DEFAULT_GROUP,
    namespace: Annotated[
        str, typer.Option(envvar="STREFA_NAMESPACE", help="Topic prefix of the default topics.")
    ] = DEFAULT_NAMESPACE,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--until-caught-up",
            help="Keep exporting new events until Ctrl-C, or stop at the end offsets seen at the start.",
        ),
    ] = False,
    max_events: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many records; the next run goes on from there.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Records per fetch (and per set of files).")] = 1000,
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded",
            help="Read the embedded portal's SQLite event stores under --data-dir instead of Kafka "
            f"(checkpoint in OUT/{STATE_DIR}/embedded-checkpoint.json).",
        ),
    ] = False,
    data_dir: Annotated[
        Path, typer.Option(envvar="PORTAL_DATA_DIR", help="The portal's data folder (with --embedded).")
    ] = Path("data"),
) -> None:
    """Export events to Parquet, each event once, resuming from the group's committed offsets.

    Files are written atomically and the offsets committed after them; a run that died between the two
    is repaired by the next one (see services/analytics/export.py). Events are deduplicated on event_id.
    """
    names = split_names(topics)
    source: Source
    if embedded:
        services = [service_of(name, namespace) for name in names] or [
            name for name in SERVICE_NAMES if (data_dir / name / "events.db").is_file()
        ]
        if not services:
            errors.print(f"[red]error:[/red] no event stores under {data_dir} (pass --data-dir)")
            raise typer.Exit(2)
        source = EmbeddedSource(data_dir, services, out / STATE_DIR / "embedded-checkpoint.json")
    else:
        if not bootstrap:
            errors.print("[red]error:[/red] pass --bootstrap or set KAFKA_BOOTSTRAP (or --embedded for SQLite)")
            raise typer.Exit(2)
        source = KafkaSource(bootstrap, names or [f"{namespace}.{name}.events" for name in SERVICE_NAMES], group)

    try:
        stats = asyncio.run(_export(out, source, group, follow, max_events, batch_size))
    except (UnknownSource, ExportFolderTaken) as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except LogUnavailable as error:
        errors.print(f"[red]error:[/red] {error}; nothing is lost: run again to go on")
        raise typer.Exit(1) from None
    ending = "caught up" if stats.caught_up else "stopped; run again to go on"
    console.print(
        f"[green]exported[/green] {stats.written} events into {stats.files} files under {out} "
        f"({stats.read} records read, {stats.duplicates} duplicates skipped, "
        f"{stats.undecodable} not event envelopes); {ending}"
    )


async def _export(
    out: Path, source: Source, group: str, follow: bool, max_events: int | None, batch_size: int
) -> ExportStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(ValueError, RuntimeError):  # only the main thread can take signals
            loop.add_signal_handler(signum, stop.set)  # the batch in hand is finished and committed first
            handled.append(signum)
    with ExitStack() as shown:
        bars: list[tuple[Progress, TaskID]] = []

        def show(stats: ExportStats) -> None:
            if not bars:  # opened once the start is known: an error before it leaves no empty bar behind
                bar = shown.enter_context(progress_bar())
                bars.append((bar, bar.add_task("following" if follow else "exporting", written=0, duplicates=0)))
            bar, task = bars[0]
            total = max(stats.total, stats.read)
            bar.update(task, completed=stats.read, total=total, written=stats.written, duplicates=stats.duplicates)

        stats = ExportStats()
        try:
            while True:
                exporter = ParquetExporter(out, source, group, batch_size=batch_size, stats=stats)
                try:
                    return await exporter.run(follow=follow, max_events=max_events, progress=show, stop=stop)
                except LogUnavailable as error:
                    if not follow:
                        raise
                    log.warning("export_waiting_for_kafka", error=str(error))
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
                    if stop.is_set():
                        return stats
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
