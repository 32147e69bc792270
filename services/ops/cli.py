"""The ops CLI (typer + rich). Exit codes: 0 done, 1 failed (a store or Kafka unreachable), 2 bad usage
(an unknown name, id, service, topic or stream; a position beyond the end). Errors go to stderr."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from libs.events.cluster import DEFAULT_NAMESPACE
from libs.events.docstore import StoreUnavailable
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, UnknownSource
from libs.events.rebuild import DeadLetterNotFound, Operations, UnknownConsumer
from libs.events.service.logs import configure_logging
from services.ops import republish as republishing
from services.ops.backend import (
    BackendError,
    Mode,
    UsageError,
    open_event_store,
    open_operations,
    service_of_stream,
)
from services.ops.erasure import erase_person
from services.ops.tail import DEFAULT_WINDOW, EventFilter, Tailed, tail_stream, tail_topic

T = TypeVar("T")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    help="Operations on the portal's projections, reactors, dead letters, event streams and topics.",
    no_args_is_help=True,
)
projections = typer.Typer(help="Projection status, rebuild and reset.", no_args_is_help=True)
dead_letters = typer.Typer(help="Events a projection or reactor could not apply.", no_args_is_help=True)
tail = typer.Typer(help="Print the events of a Kafka topic or of one stream.", no_args_is_help=True)
app.add_typer(projections, name="projections")
app.add_typer(dead_letters, name="dead-letters")
app.add_typer(tail, name="tail")
app.command("erase-person")(erase_person)


class Options:
    data_dir: Path = Path("data")
    mode: Mode = Mode.embedded
    grace: float = 2.0


@app.callback()
def main(
    data_dir: Annotated[
        Path, typer.Option(envvar="PORTAL_DATA_DIR", help="The portal's data folder (embedded mode).")
    ] = Path("data"),
    mode: Annotated[
        Mode,
        typer.Option(
            help="embedded: the SQLite files in --data-dir; cluster: the Kafka, MongoDB and event stores the "
            "services' own processes use, from KAFKA_BOOTSTRAP, MONGO_URI, EVENTSTORE_URI, STREFA_NAMESPACE and "
            "<SERVICE>_* (deploy/README.md)."
        ),
    ] = (Mode.embedded),
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds between an alias switch and dropping the old version.")
    ] = 2.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the platform's logs.")] = False,
) -> None:
    configure_logging("console", "INFO" if verbose else "WARNING")
    if not verbose:  # its connection errors reach the user as one clear message instead
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
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
    except (BackendError, LogUnavailable, StoreUnavailable) as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def run_tool(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a command that works on an event store or Kafka (no service runtimes), with clear errors."""
    try:
        return asyncio.run(action())
    except (UsageError, UnknownSource) as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except (BackendError, LogUnavailable) as error:
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


# --- tail -----------------------------------------------------------------------------------------

Bootstrap = Annotated[
    str | None, typer.Option(envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap servers (host:port).", show_default=False)
]
Types = Annotated[list[str] | None, typer.Option("--type", help="Only events of this type (repeatable).")]
Client = Annotated[str | None, typer.Option("--client", help="Only events of this client id (e.g. CL-1).")]
AsJson = Annotated[bool, typer.Option("--json", help="One envelope per line as JSON instead of a readable line.")]
Follow = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")]


def required_bootstrap(bootstrap: str | None) -> str:
    if not bootstrap:
        errors.print("[red]error:[/red] pass --bootstrap or set KAFKA_BOOTSTRAP")
        raise typer.Exit(2)
    return bootstrap


def print_events(events: AsyncIterator[Tailed], as_json: bool) -> Callable[[], Coroutine[Any, Any, int]]:
    async def action() -> int:
        shown = 0
        async for item in events:
            console.out(item.as_json() if as_json else item.as_line(), highlight=False)
            shown += 1
        return shown

    return action


def run_tail(action: Callable[[], Coroutine[Any, Any, int]], what: str) -> None:
    try:
        shown = run_tool(action)
    except KeyboardInterrupt:  # the way out of --follow
        return
    if shown == 0:
        errors.print(f"no events {what}")


@tail.command("topic")
def tail_topic_command(
    topic: Annotated[str, typer.Argument(help="e.g. leasing.billing.events")],
    bootstrap: Bootstrap = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="From the first record instead of the recent ones.")
    ] = False,
    follow: Follow = False,
    types: Types = None,
    client: Client = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"At most N events. Without --from-beginning also the recent window: the last N (default "
            f"{DEFAULT_WINDOW}) records of each partition, filtered, the last N of them shown in time order.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Print a topic's events without joining a consumer group: the recent ones (or all of them with
    --from-beginning) up to the end seen at the start, then new ones with --follow."""
    events = tail_topic(
        required_bootstrap(bootstrap),
        topic,
        matches=EventFilter(frozenset(types or ()), client),
        from_beginning=from_beginning,
        follow=follow,
        window=limit or DEFAULT_WINDOW,
        limit=limit,
    )
    run_tail(print_events(events, as_json), f"in {topic} match" if types or client else f"in {topic}")


@tail.command("stream")
def tail_stream_command(
    stream_id: Annotated[str, typer.Argument(metavar="STREAM", help="e.g. billing-invoice-<id>")],
    follow: Follow = False,
    types: Types = None,
    client: Client = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the last N events (and at most N in all).")] = None,
    as_json: AsJson = False,
) -> None:
    """Print one stream's events from its service's event store (--mode embedded: the data folder;
    --mode cluster: EVENTSTORE_URI, or the dev-mode SQLite file in <SERVICE>_DATA_DIR)."""

    async def action() -> int:
        service = service_of_stream(stream_id)
        async with open_event_store(Options.data_dir, Options.mode, service) as store:
            matches = EventFilter(frozenset(types or ()), client)
            events = tail_stream(store, stream_id, matches=matches, follow=follow, limit=limit)
            return await print_events(events, as_json)()

    run_tail(action, f"in {stream_id} match")


# --- republish ------------------------------------------------------------------------------------


@app.command("republish")
def republish(
    service: Annotated[str, typer.Argument(help="identity, contracts, billing, payments, notifications or profile.")],
    from_position: Annotated[int, typer.Option(min=1, help="The first global position to send (included).")],
    to_position: Annotated[
        int | None, typer.Option(min=1, help="The last global position to send (included); default: the end.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    bootstrap: Bootstrap = None,
    namespace: Annotated[
        str, typer.Option(envvar="STREFA_NAMESPACE", help="Topic prefix: <namespace>.<service>.events.")
    ] = DEFAULT_NAMESPACE,
) -> None:
    """Send SERVICE's stored events from a global position to its Kafka topic again, as the relay does.

    Consumers deduplicate by event_id: projections skip events their documents already hold, reactors
    derive what they cause from the cause's event_id, the analytics export skips exported event ids; so
    read models do not change. For a topic that lost records, or a consumer that must see them again.
    The relay's checkpoint is not touched. Positions are the events' global positions (`tail stream`).
    """
    config = KafkaConfig(required_bootstrap(bootstrap), namespace=namespace)

    async def action() -> int:
        async with open_event_store(Options.data_dir, Options.mode, service) as store:
            span = await republishing.plan(store, config, service, from_position, to_position)
            if not yes and not typer.confirm(
                f"Send {service}'s events at positions {span.first}..{span.last} to {span.topic} again?"
            ):
                errors.print("nothing sent")
                raise typer.Exit(1)
            with progress_bar(f"republish {service}") as update:
                return await republishing.republish(store, config, span, update)

    sent = run_tool(action)
    console.print(f"[green]re-sent[/green] {sent} events of {service} to {config.topic(service)}")
