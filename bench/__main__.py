"""`python -m bench [--quick] [--only NAME]... [--out bench/results]`: run the benchmark suite.

Writes `<out>/<run id>.json` and regenerates docs/performance.md (bench/report.py). Figures:

- appends   event store appends/s, single and batched (bench/appends.py)
- relay     relay publish rate into Kafka (bench/relay_publish.py)
- replay    projection replay into FerretDB (bench/replay.py)
- http      dashboard and invoice-list GETs per worker, embedded and cluster (bench/http_reads.py)
- lag       end-to-end lag, embedded and cluster (bench/lag.py)
- rebuild   rebuild of every projection from a large log (bench/rebuild.py)
- memory    peak RSS of every process (always, from the others' runs; bench/memory.py)

Kafka and FerretDB come from KAFKA_BOOTSTRAP / MONGO_URI or .infra/env (`make infra-up`). Exit code 1
when a figure could not be measured (its error is in the report), 0 otherwise: a missed target is a
result, not a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import appends, http_reads, lag, memory, rebuild, relay_publish, replay
from bench.core import SCALES, Figure, Scale, Workspace
from bench.infra import Infra, InfraMissing, ferretdb_version, kafka_version
from bench.machine import machine, versions
from bench.processes import MemorySampler, Server, stop
from bench.report import write_docs, write_json
from bench.world import Portal, clone, seed_portal, snapshot, start_portal

NAMES = ("appends", "relay", "replay", "http", "lag", "rebuild")
DEFAULT_OUT = Path("bench/results")
MILLION = 1_000_000

console = Console()
cli = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


class Run:
    def __init__(self, work: Workspace, only: tuple[str, ...], rebuild_events: int) -> None:
        self.work = work
        self.only = only
        self.rebuild_events = rebuild_events
        self.figures: list[Figure] = []
        self.errors: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.sampler = MemorySampler().start()
        self.servers: list[Server] = []
        self.infra: Infra | None = None
        self.portal: Portal | None = None
        self.template: dict[str, Any] | None = None
        self.bare_results: dict[str, Any] | None = None
        self.replayed = False

    def wants(self, name: str) -> bool:
        return not self.only or name in self.only

    async def step(self, name: str, action: Callable[[], Awaitable[None]]) -> None:
        try:
            await action()
        except InfraMissing as error:
            self.skipped[name] = str(error)
        except Exception:
            self.errors[name] = traceback.format_exc()
            console.print(f"[red]{name} failed[/red]: {self.errors[name].strip().splitlines()[-1]}")

    def need_infra(self) -> Infra:
        if self.infra is None:
            raise InfraMissing("Kafka/FerretDB not configured")
        return self.infra

    # --- steps -----------------------------------------------------------------------------------

    async def appends(self) -> None:
        self.figures += await appends.measure(self.work)

    async def portal_and_template(self) -> None:
        portal = await start_portal(self.work.root, self.sampler)
        self.portal = portal
        self.servers.append(portal.server)
        await seed_portal(portal, self.work.scale.seed_clients)
        self.template = await snapshot(portal.data_dir)

    async def log(self) -> None:
        assert self.template is not None
        await clone(self.template, self.work.root / "log-data", self.work.scale.log_events)

    async def relay(self) -> None:
        self.figures.append(await relay_publish.measure(self.work, self.need_infra(), self.work.root / "log-data"))

    async def replay(self) -> None:
        self.figures.append(await replay.measure(self.work, self.need_infra(), self.work.root / "log-data"))
        self.replayed = True

    async def http_embedded(self) -> None:
        assert self.portal is not None
        found, bare, self.bare_results = await http_reads.measure_embedded(self.work, self.portal, self.sampler)
        self.servers.append(bare)
        self.figures += found

    async def http_cluster(self) -> None:
        if not self.replayed:
            self.skipped["http (cluster)"] = "needs the replay figure's read models: run it with --only replay too"
            return
        assert self.portal is not None
        assert self.bare_results is not None
        self.figures += await http_reads.measure_cluster(
            self.work, self.need_infra(), self.portal, self.sampler, self.bare_results
        )

    async def lag_embedded(self) -> None:
        assert self.portal is not None
        self.figures.append(await lag.measure_embedded(self.work, self.portal))

    async def lag_cluster(self) -> None:
        self.figures.append(await lag.measure_cluster(self.work, self.need_infra(), self.sampler))

    async def rebuild(self) -> None:
        assert self.template is not None
        self.figures.append(await rebuild.measure(self.work, self.template, self.sampler, self.rebuild_events))

    def plan(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.wants("appends"):
            steps.append(("appends", self.appends))
        if any(self.wants(name) for name in ("relay", "replay", "http", "lag", "rebuild")):
            steps.append(("seeded portal", self.portal_and_template))
        if self.wants("relay") or self.wants("replay"):
            steps.append(("cloned log", self.log))
        if self.wants("relay"):
            steps.append(("relay", self.relay))
        if self.wants("replay"):
            steps.append(("replay", self.replay))
        if self.wants("http"):
            steps += [("http (embedded)", self.http_embedded), ("http (cluster)", self.http_cluster)]
        if self.wants("lag"):
            steps += [("lag (embedded)", self.lag_embedded), ("lag (cluster)", self.lag_cluster)]
        if self.wants("rebuild"):
            steps.append(("rebuild", self.rebuild))
        return steps

    async def execute(self) -> None:
        steps = self.plan()
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task("bench", total=len(steps))
            self.work.say = lambda text: progress.console.print(f"  {text}")
            try:
                for name, action in steps:
                    progress.update(task, description=name)
                    started = time.monotonic()
                    before = set(self.errors)
                    await self.step(name, action)
                    if name in ("seeded portal", "cloned log") and name in self.errors and name not in before:
                        break  # everything after needs it
                    progress.console.print(f"  {name}: {time.monotonic() - started:.0f} s")
                    progress.advance(task)
            finally:
                stop(self.servers)
                self.figures += memory.figures(self.sampler)
                self.sampler.close()


def summary(figures: list[Figure]) -> Table:
    table = Table(title="bench")
    for column in ("figure", "measured", "baseline", "ratio", "target", "result"):
        table.add_column(column)
    for figure in figures:
        if figure.key.startswith("rss."):
            continue
        result = "reported" if figure.passed is None else ("[green]pass" if figure.passed else "[red]miss")
        table.add_row(
            figure.key,
            f"{figure.value:,.1f} {figure.unit}",
            "—" if figure.baseline is None else f"{figure.baseline:,.1f} {figure.unit}",
            "—" if figure.ratio is None else f"{figure.ratio:.2f}x",
            figure.target,
            result,
        )
    return table


async def run(scale: Scale, only: tuple[str, ...], out: Path, profile: bool, rebuild_events: int) -> dict[str, Any]:
    from libs.events.service.logs import configure_logging
    from libs.events.service.tracing import configure_tracing

    configure_logging("json", "WARNING")
    configure_tracing("strefa-bench", None)  # as in the services: spans are made, none exported
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%SZ")
    root = Path(tempfile.mkdtemp(prefix=f"bench-{run_id}-"))
    work = Workspace(root=root, scale=scale, results=out, run_id=run_id, profile=profile)
    bench = Run(work, only, rebuild_events)
    infra: Infra | None = None
    try:
        infra = Infra.locate(run_id.lower())
    except InfraMissing as error:
        console.print(f"[yellow]{error}[/yellow]")
    bench.infra = infra
    bench.sampler.watch("bench runner (appends, relay, replay)", os.getpid())
    kafka = await kafka_version(infra.kafka_bootstrap) if infra else None
    ferret = await ferretdb_version(infra.mongo_uri) if infra else None
    report: dict[str, Any] = {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "scale": asdict(scale),
        "only": list(only),
        "workspace": str(root),
        "machine": machine(),
        "versions": versions(kafka, ferret),
    }
    try:
        await bench.execute()
    finally:
        if infra is not None:
            await infra.cleanup()
    report.update(
        {
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
            "figures": [figure.to_json() for figure in bench.figures],
            "skipped": bench.skipped,
            "errors": bench.errors,
        }
    )
    return report


@cli.command()
def main(
    quick: Annotated[bool, typer.Option("--quick", help="Smaller counts and shorter runs: a few minutes.")] = False,
    smoke: Annotated[bool, typer.Option("--smoke", hidden=True, help="Tiny: only proves every figure runs.")] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help=f"Only these figures (repeatable): {', '.join(NAMES)}.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the JSON reports.")] = DEFAULT_OUT,
    docs: Annotated[bool, typer.Option(help="Regenerate docs/performance.md from the reports in --out.")] = True,
    profile: Annotated[
        bool, typer.Option("--profile", help="py-spy the servers during the HTTP load (bench/results/profiles/).")
    ] = False,
    rebuild_events: Annotated[
        int | None,
        typer.Option(
            min=1, help="Events of the rebuild's log (default: 1,000,000 with --only rebuild, else by scale)."
        ),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the run's temporary folder (data, server logs).")] = False,
) -> None:
    chosen = tuple(dict.fromkeys(only or ()))
    unknown = [name for name in chosen if name not in NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown figure {unknown[0]!r}; choose from {', '.join(NAMES)}", param_hint="--only")
    if quick and smoke:
        raise typer.BadParameter("choose one of --quick and --smoke", param_hint="--quick")
    scale = SCALES["smoke" if smoke else "quick" if quick else "full"]
    events = rebuild_events or (MILLION if chosen == ("rebuild",) else scale.rebuild_events)
    report = asyncio.run(run(scale, chosen, out, profile, events))
    if not keep:
        shutil.rmtree(report["workspace"], ignore_errors=True)
        report["workspace"] = None
    path = write_json(report, out)
    console.print(summary([Figure(**figure) for figure in report["figures"]]))
    console.print(f"report: {path}")
    if docs:
        console.print(f"docs: {write_docs(out)}")
    if report["errors"]:
        console.print(f"[red]figures that could not be measured: {', '.join(report['errors'])}[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
