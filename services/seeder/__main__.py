"""`python -m services.seeder`: feed a running portal with demo data through its back-office API."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import structlog
import typer
from rich.console import Console
from rich.table import Table

from libs.events.service.logs import configure_logging
from libs.events.warsaw import warsaw_date
from services.seeder.runner import SeedError, SeedOptions, backoffice_client, seed
from services.seeder.summary import banner, show_summary
from services.seeder.world import WorldOptions, demo_logins, plan

cli = typer.Typer(add_completion=False, help=__doc__)
log = structlog.get_logger("services.seeder")


def _today(value: str | None) -> date:
    return date.fromisoformat(value) if value else warsaw_date(datetime.now(UTC))


def _token(token: str | None, token_file: Path) -> str:
    if token:
        return token
    if not token_file.is_file():
        raise typer.BadParameter(
            f"no token given and no {token_file}: pass --token or --token-file", param_hint="--token"
        )
    return token_file.read_text().strip()


@cli.command()
def main(
    url: str = typer.Option("http://127.0.0.1:8000", help="The portal's base URL."),
    token: str | None = typer.Option(
        None, envvar="SEEDER_BACKOFFICE_TOKEN", show_default=False, help="The back-office bearer token."
    ),
    token_file: Path = typer.Option(
        Path(os.environ.get("PORTAL_DATA_DIR", "data")) / "secrets" / "backoffice-token",
        help="Where the dev portal keeps its back-office token (used without --token).",
    ),
    clients: int = typer.Option(12, min=1, help="How many clients (companies and sole traders)."),
    seed_: int = typer.Option(1, "--seed", min=0, help="The seed: same seed, same data."),
    today: str | None = typer.Option(
        None, help="The day the data is relative to (YYYY-MM-DD); the portal's own date by default (Warsaw)."
    ),
    history_months: int = typer.Option(36, min=0, max=120, help="How far back contracts may start."),
    concurrency: int = typer.Option(16, min=1, max=256, help="Back-office requests in flight at most."),
    documents: bool = typer.Option(True, help="Publish PDF documents."),
    pdf_clients: int = typer.Option(50, min=0, help="The first N clients get personal PDFs (contracts, schedules...)."),
    pdf_workers: int = typer.Option(1, min=0, max=16, help="Processes rendering PDFs (0: a thread)."),
    demo: bool = typer.Option(True, help="Activate the demo login (the portal must be in dev mode)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be sent."),
    log_level: str = typer.Option("WARNING", help="Log level of the seeder's own log lines."),
) -> None:
    """Seed realistic Polish leasing data: clients with valid NIPs, cars and machines with valid VINs,
    contracts with annuity schedules, invoices, bank payments (some late, partial or ahead), interest
    notes, PDFs and repayment accounts. Idempotent: the same options send the same keys again."""
    configure_logging("console", log_level)
    console = Console()
    world = WorldOptions(
        today=_today(today),
        seed=seed_,
        clients=clients,
        history_months=history_months,
        documents=documents,
        pdf_clients=pdf_clients,
    )
    if dry_run:
        _dry_run(console, world)
        return
    options = SeedOptions(
        world=world,
        concurrency=concurrency,
        demo=demo,
        progress=progress and console.is_terminal,
        pdf_workers=pdf_workers,
    )

    async def run() -> bool:
        async with backoffice_client(url, _token(token, token_file)) as http:
            try:
                report = await seed(http, options, Console(stderr=True))
            except SeedError as error:
                log.error("seeding_failed", url=url, reason=str(error))
                return False
        show_summary(console, report)
        if demo and report.demo is not None:
            data_dir = str(token_file.parent.parent)
            console.print(banner(url, report.demo, report.demo_active, data_dir, report.activation_pending))
        return report.ok

    if not asyncio.run(run()):
        raise typer.Exit(1)


def _dry_run(console: Console, world: WorldOptions) -> None:
    calls: Counter[str] = Counter()
    for client in plan(world):
        for call in (*client.contract_calls, *client.billing_calls):
            calls[call.kind] += 1
    table = Table(title=f"Plan: {world.clients} clients, seed {world.seed}, today {world.today}")
    table.add_column("call")
    table.add_column("count", justify="right")
    for kind, count in sorted(calls.items()):
        table.add_row(kind, str(count))
    table.add_row("total", str(sum(calls.values())))
    console.print(table)
    logins = demo_logins(world)
    if logins is not None:
        console.print(f"demo login {logins.email} / {logins.password}; to activate: {logins.activation_email}")


if __name__ == "__main__":
    cli()
