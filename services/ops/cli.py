"""The ops CLI (typer + rich). Exit codes: 0 done, 1 failed, 2 bad usage (unknown name or id)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from libs.events.rebuild import DeadLetterNotFound, Operations, UnknownConsumer
from libs.events.service.logs import configure_logging
from services.ops.backend import BackendError, Mode, open_operations

T = TypeVar("T")

console = Console(soft_wrap=True)
errors = Console(stderr=True)

app = typer.Typer(help="Operations on the portal's projections, reactors and dead letters.", no_args_is_help=True)
projections = typer.Typer(help="Projection status, rebuild and reset.", no_args_is_help=True)
dead_letters = typer.Typer(help="Events a projection or reactor could not apply.", no_args_is_help=True)
app.add_typer(projections, name="projections")
app.add_typer(dead_letters, name="dead-letters")


class Options:
    data_dir: Path = Path("data")
    mode: Mode = Mode.embedded
    grace: float = 2.0


@app.callback()
def main(
    data_dir: Annotated[
        Path, typer.Option(envvar="PORTAL_DATA_DIR", help="The portal's data folder (embedded mode).")
    ] = Path("data"),
    mode: Annotated[Mode, typer.Option(help="embedded: the SQLite files; cluster: Kafka + MongoDB (later).")] = (
        Mode.embedded
    ),
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds between an alias switch and dropping the old version.")
    ] = 2.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the platform's logs.")] = False,
) -> None:
    configure_logging("console", "INFO" if verbose else "WARNING")
    Options.data_dir, Options.mode, Options.grace = data_dir, mode, grace


def run(action: Callable[[Operations], Awaitable[T]]) -> T:
    """Opens the backend, runs `action`, turns known failures into clear messages and exit codes."""

    async def go() -> T:
        async with open_operations(Options.data_dir, Options.mode, Options.grace) as ops:
            return await action(ops)

    try:
        return asyncio.run(go())
    except UnknownConsumer as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except DeadLetterNotFound as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except BackendError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done if total else 1, total=total or 1)

        yield update


# --- projections ----------------------------------------------------------------------------------


@projections.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Each projection and reactor of each service: version, checkpoints, lag, processed, dead letters, last error."""
    reports = run(lambda ops: ops.status())
    if as_json:
        console.print_json(json.dumps([asdict(report) for report in reports]))
        return
    table = Table(title="Projections and reactors")
    for column in ("consumer", "kind", "collection", "checkpoints", "lag", "processed", "dead letters", "last error"):
        table.add_column(column, overflow="fold")
    for report in reports:
        collection = report.collection or "-"
        if report.rebuilding:
            collection += " (rebuilding)"
        table.add_row(
            f"{report.service}.{report.name}",
            report.kind,
            collection,
            ", ".join(f"{source}@{position}" for source, position in report.checkpoints.items()),
            str(report.lag),
            str(report.processed),
            f"[red]{report.dead_letters}[/red]" if report.dead_letters else "0",
            report.last_error or "",
        )
    console.print(table)


@projections.command("rebuild")
def rebuild(
    name: Annotated[str, typer.Argument(help="service.projection, or the projection alone if unique.")],
) -> None:
    """Rebuild NAME into a new collection version from the beginning; the old version serves until the switch."""

    async def action(ops: Operations) -> Any:
        ops.consumer(name, projection=True)
        with progress_bar(f"rebuild {name}") as update:
            return await ops.rebuild(name, update)

    result = run(action)
    console.print(
        f"[green]rebuilt[/green] {result.name}: {result.events} events, {result.documents} documents; "
        f"now serving {result.new_collection} (dropped {result.old_collection})"
    )


@projections.command("reset")
def reset(
    name: Annotated[str, typer.Argument(help="service.projection, or the projection alone if unique.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop NAME's documents and checkpoint and rebuild it in place: it answers EMPTY until caught up."""
    errors.print(
        f"[yellow]warning:[/yellow] {name} will serve empty or partial answers until the reset has caught up; "
        "`projections rebuild` keeps serving the old version instead."
    )
    if not yes and not typer.confirm("Reset?"):
        raise typer.Exit(1)

    async def action(ops: Operations) -> Any:
        ops.consumer(name, projection=True)
        with progress_bar(f"reset {name}") as update:
            return await ops.reset(name, update)

    result = run(action)
    console.print(
        f"[green]reset[/green] {result.name}: {result.events} events, {result.documents} documents "
        f"in {result.new_collection}"
    )


# --- dead letters ---------------------------------------------------------------------------------


@dead_letters.command("list")
def list_dead_letters(
    consumer: Annotated[str | None, typer.Option(help="Only those of this projection or reactor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The dead letters of every service, oldest first."""
    found = run(lambda ops: ops.dead_letters(consumer))
    if as_json:
        rows = [{"service": service, **{k: v for k, v in doc.items() if k != "event"}} for service, doc in found]
        console.print_json(json.dumps(rows))
        return
    if not found:
        console.print("no dead letters")
        return
    table = Table(title=f"{len(found)} dead letters")
    for column in ("id", "consumer", "event", "stream", "recorded at", "reason"):
        table.add_column(column, overflow="fold")
    for service, doc in found:
        table.add_row(
            str(doc["_id"]),
            f"{service}.{doc['consumer']}",
            f"{doc['type']} v{doc['version']}",
            f"{doc['stream_id']}@{doc['stream_version']}",
            str(doc.get("recorded_at", "")),
            str(doc.get("reason", "")),
        )
    console.print(table)


@dead_letters.command("show")
def show(dead_letter_id: Annotated[str, typer.Argument(metavar="ID", help="As shown by `dead-letters list`.")]) -> None:
    """One dead letter with its reason and the whole event."""
    service, doc = run(lambda ops: ops.dead_letter(dead_letter_id))
    console.print(f"[bold]{doc['_id']}[/bold] ({service}.{doc['consumer']})")
    console.print(f"reason: {doc.get('reason')}")
    console.print_json(json.dumps(doc["event"]))


@dead_letters.command("retry")
def retry(
    dead_letter_id: Annotated[str, typer.Argument(metavar="ID", help="As shown by `dead-letters list`.")],
) -> None:
    """Apply the stored event again through its projection or reactor; on success the dead letter is removed."""
    result = run(lambda ops: ops.retry(dead_letter_id))
    if result.outcome == "applied":
        console.print(f"[green]applied[/green] {dead_letter_id}; dead letter removed")
        return
    if result.outcome == "held":
        errors.print(
            f"[yellow]not applied:[/yellow] {result.reason}; rebuild the projection to apply it in order "
            "(the dead letter is kept)"
        )
    else:
        errors.print(f"[red]still failing:[/red] {result.reason}")
    raise typer.Exit(1)
