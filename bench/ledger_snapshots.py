"""`python -m bench.ledger_snapshots [--contracts 100] [--months 60] [--every 200] [--rounds 5]`: what one
billing ledger command costs for a fleet client, with and without snapshots.

The ledger stream of one client with `contracts` contracts invoiced monthly for `months` months: per
contract and month an InvoiceIssued, then a PaymentReceived naming it and its InvoiceSettled, the last
month left unpaid (100 x 60 = 18,000 events), appended to a fresh `SqliteEventStore`. Measured, median of
`rounds`, through `CommandHandler` (billing's registry, no personal-data wrapper: ledger events have no
personal fields):

- load+decide: `CommandHandler.load` of the ledger and `decide` of a payment naming an open invoice,
  without snapshots (the whole stream read, decoded and folded) and with one (read, decoded and folded:
  the events after it; `tail` events after it: the worst case just before the next snapshot);
- command: `handle` of such a payment with an Idempotency-Key (load, the key's check, decide, append;
  with snapshots also the occasional snapshot write), on each side;
- fold only: `evolve` over N invoices' events already decoded, for N = 500, 2,000, 5,000 (linear: the
  time per event stays flat).

Prints the numbers and the ratios; asserts nothing (timings are never asserted in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from libs.events.aggregate import CommandHandler
from libs.events.envelope import DomainEvent, EventContext, NewEvent
from libs.events.registry import registry
from libs.events.schemas.billing import InvoiceIssued, InvoiceLine, InvoiceSettled, PaymentReceived
from libs.events.snapshots import DocumentSnapshots
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import NO_STREAM
from services.billing.domain import ReceivePayment, invoice_id_for, ledger

CLIENT = "KL1-FLEET"
ACCOUNT = "25124010087700010000000004"


def _number(month: int, contract: int) -> str:
    return f"FV/{2021 + month // 12}/{month % 12 + 1:02d}/{contract + 1:04d}"


def history(contracts: int, months: int) -> Iterator[list[DomainEvent]]:
    """The client's ledger, one command's events at a time: the last month's invoices left open."""
    for month in range(months):
        issued = date(2021 + month // 12, month % 12 + 1, 1)
        due = issued.replace(day=15)
        for contract in range(contracts):
            number, contract_id = _number(month, contract), f"UL/2021/{contract + 1:04d}"
            invoice_id = invoice_id_for(number)
            net = Decimal("1000.00") + contract
            vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
            line = InvoiceLine(description=f"Rata {month + 1}", net=net, vat_rate="23", vat=vat, gross=net + vat)
            yield [
                InvoiceIssued(
                    invoice_id=invoice_id,
                    number=number,
                    client_id=CLIENT,
                    contract_id=contract_id,
                    instalment_number=month + 1,
                    kind="instalment",
                    issue_date=issued,
                    due_date=due,
                    lines=(line,),
                    net_total=net,
                    vat_total=vat,
                    gross_total=net + vat,
                    currency="PLN",
                )
            ]
            if month == months - 1:
                continue
            payment_id = f"PAY-{month}-{contract}"
            yield [
                PaymentReceived(
                    payment_id=payment_id,
                    client_id=CLIENT,
                    amount=net + vat,
                    currency="PLN",
                    received_on=due,
                    title=f"FV {number}",
                    account=ACCOUNT,
                    source="bank_statement",
                ),
                InvoiceSettled(
                    invoice_id=invoice_id,
                    client_id=CLIENT,
                    contract_id=contract_id,
                    payment_id=payment_id,
                    amount=net + vat,
                    outstanding=Decimal("0.00"),
                    settled_on=due,
                    full=True,
                ),
            ]


def a_payment(months: int, contract: int, payment_id: str) -> ReceivePayment:
    """A payment of an open invoice of the last month, naming it in its title."""
    return ReceivePayment(
        PaymentReceived(
            payment_id=payment_id,
            client_id=CLIENT,
            amount=Decimal("10.00"),
            currency="PLN",
            received_on=date(2026, 1, 1),
            title=f"FV {_number(months - 1, contract)}",
            account=ACCOUNT,
            source="bank_statement",
        )
    )


async def append_history(store: SqliteEventStore, events: Sequence[DomainEvent], batch: int = 500) -> int:
    version = NO_STREAM
    stream_id = ledger.stream_id(CLIENT)
    for start in range(0, len(events), batch):
        news = [NewEvent.from_domain(event, EventContext(client_id=CLIENT)) for event in events[start : start + batch]]
        version = (await store.append(stream_id, news, version)).stream_version
    return version


async def median_seconds(rounds: int, action: Callable[[int], Awaitable[object]]) -> float:
    times: list[float] = []
    for round_ in range(rounds):
        started = time.perf_counter()
        await action(round_)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def load_and_decide(handler: CommandHandler, months: int, round_: int) -> None:
    state, _ = await handler.load(ledger, CLIENT)
    assert ledger.decide(state, a_payment(months, round_, f"DECIDED-{round_}"))


def fold_seconds(invoices: int) -> tuple[int, float]:
    events = [event for batch in history(invoices, 2) for event in batch][: invoices * 3]
    started = time.perf_counter()
    state = ledger.initial()
    for event in events:
        state = ledger.evolve(state, event)
    return len(events), time.perf_counter() - started


async def measure(folder: Path, contracts: int, months: int, every: int, rounds: int) -> None:
    events = [event for batch in history(contracts, months) for event in batch]
    store = await SqliteEventStore(folder / "billing-events.db", "billing").open()
    documents = await SqliteDocumentStore(folder / "billing-readmodels.db").open()
    try:
        last = await append_history(store, events)
        print(f"ledger stream: {last + 1:,} events ({contracts} contracts x {months} months)")
        plain = CommandHandler(store, registry)
        snapshotting = CommandHandler(store, registry, snapshots=DocumentSnapshots(documents), snapshot_every=every)

        without = await median_seconds(rounds, lambda r: load_and_decide(plain, months, r))
        started = time.perf_counter()
        first = await snapshotting.handle(ledger, CLIENT, a_payment(months, 0, "FIRST"), EventContext(), "first")
        first_write = time.perf_counter() - started
        assert first.result is not None
        fresh = await median_seconds(rounds, lambda r: load_and_decide(snapshotting, months, r))
        tail = every - 1 - 2  # the events a command appends (a payment and its settlement) come on top
        await append_again(store, events[:tail], after=first.result.stream_version)
        behind = await median_seconds(rounds, lambda r: load_and_decide(snapshotting, months, r))

        async def command(handler: CommandHandler, side: str, round_: int) -> None:
            payment = a_payment(months, round_, f"{side}-{round_}")
            await handler.handle(ledger, CLIENT, payment, EventContext(), f"{side}-{round_}")

        command_without = await median_seconds(rounds, lambda r: command(plain, "plain", r))
        command_with = await median_seconds(rounds, lambda r: command(snapshotting, "snap", r))
    finally:
        await documents.close()
        await store.close()

    print(f"first command with snapshots (folds the stream, writes the snapshot): {first_write:.3f} s")
    print(_row("load+decide without snapshots", without))
    print(_row("load+decide from a fresh snapshot", fresh, without))
    print(_row(f"load+decide, snapshot {tail} events behind", behind, without))
    print(_row("keyed payment command without snapshots", command_without))
    print(_row("keyed payment command with snapshots", command_with, command_without))
    print("fold only (evolve over decoded events):")
    for invoices in (500, 2_000, 5_000):
        count, seconds = fold_seconds(invoices)
        print(f"  {invoices:>5,} invoices, {count:>6,} events: {seconds:.4f} s, {seconds / count * 1e6:.1f} us/event")


def _row(label: str, seconds: float, baseline: float | None = None) -> str:
    faster = f"  ({baseline / seconds:,.1f}x faster)" if baseline is not None else ""
    return f"{label + ':':<50} {seconds:8.4f} s{faster}"


async def append_again(store: SqliteEventStore, events: Sequence[DomainEvent], after: int) -> None:
    """`events` once more (new ids; folding them again changes nothing), a tail after the snapshot."""
    news = [NewEvent.from_domain(event, EventContext(client_id=CLIENT)) for event in events]
    await store.append(ledger.stream_id(CLIENT), news, after)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_snapshots", description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--every", type=int, default=200, help="snapshot_every")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        asyncio.run(measure(Path(folder), args.contracts, args.months, args.every, args.rounds))


if __name__ == "__main__":
    main()
