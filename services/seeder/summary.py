"""What the seeder shows a person: the summary table and the demo banner (rich, never print)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from libs.pdf import format_amount
from services.seeder.runner import SeedReport
from services.seeder.world import DemoLogins

KINDS = (
    ("contract", "contracts"),
    ("schedule", "schedules"),
    ("termination", "completed contracts"),
    ("account", "repayment accounts"),
    ("invoice", "invoices"),
    ("payment", "bank-statement payments"),
    ("interest_note", "interest notes"),
    ("document", "PDF documents"),
)


def summary_table(report: SeedReport) -> Table:
    table = Table(title="Strefa Klienta: demo data", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("how many", justify="right")
    totals = report.totals
    table.add_row("clients", f"{totals.clients}")
    table.add_row("scheduled instalments", f"{totals.instalments}")
    for kind, label in KINDS:
        present = report.present.get(kind, 0)
        table.add_row(label, f"{report.calls.get(kind, 0)}" + (f" (+{present} already there)" if present else ""))
    table.add_row("invoiced", format_amount(totals.invoiced))
    table.add_row("paid", format_amount(totals.paid))
    table.add_row("overdue", format_amount(totals.overdue))
    table.add_row("overpayments", format_amount(totals.overpayment))
    if report.events is not None:
        by_service = ", ".join(f"{name} {count}" for name, count in sorted(report.events.items()) if count)
        table.add_row("events appended", f"{sum(report.events.values())}" + (f" ({by_service})" if by_service else ""))
    rate = report.requests / report.elapsed if report.elapsed else 0.0
    table.add_row("back-office requests", f"{report.requests} ({rate:.0f}/s, {report.retries} retried)")
    table.add_row("time", f"{report.elapsed:.1f} s")
    if report.failures:
        table.add_row(Text("failures", style="bold red"), Text(str(len(report.failures)), style="bold red"))
    return table


def show_summary(console: Console, report: SeedReport) -> None:
    console.print(summary_table(report))
    for failure in report.failures[:10]:
        console.print(Text(f"  ✗ {failure}", style="red"))


def banner(
    url: str,
    logins: DemoLogins | None,
    active: bool,
    data_dir: str,
    activation_pending: bool = True,
) -> Panel:
    """The lines a developer needs after `make dev`: where, who, and where the SMS and e-mails go."""
    lines = Table.grid(padding=(0, 2))
    lines.add_column(style="bold", no_wrap=True)
    lines.add_column(overflow="fold")
    lines.add_row("Portal", url)
    if logins is not None and active:
        lines.add_row("Demo login", logins.email)
        lines.add_row("Password", logins.password)
        lines.add_row("Acts for", "\n".join(f"{name} ({client_id})" for client_id, name in logins.clients))
    elif logins is not None:
        lines.add_row("Demo login", Text(f"{logins.email} (not activated: is the portal in dev mode?)", style="yellow"))
    if logins is None:
        lines.add_row(
            "Demo data", Text(f"not seeded: {data_dir} held other data (remove it to start afresh)", style="yellow")
        )
    else:
        state = "" if activation_pending else " (already activated)"
        lines.add_row("Try activating", f"{logins.activation_email}{state}")
        lines.add_row("", f"SMS code to {logins.activation_phone}, then the e-mailed link")
    outbox = f"{url}/api/notifications/dev/outbox"
    lines.add_row("Dev outbox", outbox)
    if logins is not None:
        lines.add_row("", f"{outbox}?to={logins.activation_email}")
    lines.add_row("Back office", f"Authorization: Bearer $(cat {data_dir}/secrets/backoffice-token)")
    return Panel(lines, title="Strefa Klienta (dev)", border_style="green", expand=False)
