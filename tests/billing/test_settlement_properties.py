"""Properties of settlement on the pure client ledger, with amounts in whole grosze.

Order-independence, stated precisely: for a fixed set of invoices issued before the payments, the
final outstanding amount of every invoice and the overpayment total do not depend on the order in
which the payments arrive, provided each payment names at most one invoice (by the title or an
online choice; naming none is the common case). Which payment settled which invoice does depend
on the order, and a payment naming two or more invoices can change the final state (shown below).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.events.schemas.billing import (
    InvoiceIssued,
    InvoiceSettled,
    OverpaymentApplied,
    OverpaymentRecorded,
    PaymentReceived,
)
from services.billing.domain import Ledger
from tests.billing.ledger_helpers import invoice, issue, pay, payment, run

grosze = st.integers(min_value=1, max_value=500_000).map(lambda g: Decimal(g).scaleb(-2))
"""Amounts from 0,01 zł to 5 000,00 zł, exact."""


@st.composite
def invoices(draw: st.DrawFn) -> list[InvoiceIssued]:
    count = draw(st.integers(min_value=0, max_value=6))
    days = draw(st.lists(st.integers(min_value=0, max_value=90), min_size=count, max_size=count))
    amounts = draw(st.lists(grosze, min_size=count, max_size=count))
    return [
        invoice(f"FV/{n}/2026", amount, due=date(2026, 1, 1) + timedelta(days=day))
        for n, (day, amount) in enumerate(zip(days, amounts, strict=True), start=1)
    ]


@st.composite
def payments(draw: st.DrawFn, numbers: Sequence[str], naming: int = 1) -> list[PaymentReceived]:
    """Payments naming at most `naming` invoices each in their title (some numbers may be unknown)."""
    count = draw(st.integers(min_value=1, max_value=5))
    made = []
    for n in range(count):
        named = draw(st.lists(st.sampled_from([*numbers, "FV/99/2026"]), max_size=naming)) if numbers else []
        title = "Przelew " + ", ".join(named) if named else "Przelew za leasing"
        made.append(payment(f"P{n}", draw(grosze), title=title))
    return made


def paid_and_settled(events: Sequence[object]) -> tuple[Decimal, Decimal, Decimal]:
    paid = sum((e.amount for e in events if isinstance(e, PaymentReceived)), Decimal(0))
    settled = sum((e.amount for e in events if isinstance(e, InvoiceSettled)), Decimal(0))
    left = sum((e.amount for e in events if isinstance(e, OverpaymentRecorded)), Decimal(0)) - sum(
        (e.amount for e in events if isinstance(e, OverpaymentApplied)), Decimal(0)
    )
    return paid, settled, left


def outcome(state: Ledger) -> tuple[dict[str, Decimal], Decimal]:
    return {i: item.outstanding for i, item in state.invoices.items()}, state.overpayment


@given(data=st.data(), issued=invoices())
def test_settled_never_exceeds_paid_and_overpayment_is_paid_minus_settled(
    data: st.DataObject, issued: list[InvoiceIssued]
) -> None:
    incoming = data.draw(payments([i.number for i in issued]))
    late = data.draw(invoices())
    late = [invoice(f"LATE/{i.number}", i.gross_total, due=i.due_date) for i in late]
    state, events = run([*issue(*issued), *pay(*incoming), *issue(*late)])
    paid, settled, left = paid_and_settled(events)
    assert settled <= paid
    assert left == paid - settled == state.overpayment
    assert left >= 0
    for item in state.invoices.values():
        assert item.outstanding >= 0
    owed = sum((i.gross_total for i in [*issued, *late]), Decimal(0))
    assert settled == owed - sum((item.outstanding for item in state.invoices.values()), Decimal(0))
    for event in events:
        if isinstance(event, InvoiceSettled | OverpaymentRecorded):
            assert event.amount > 0
            assert event.amount == event.amount.quantize(Decimal("0.01"))
    assert state.overpayment == 0 or not state.open_items()


@settings(max_examples=200)
@given(data=st.data(), issued=invoices())
def test_the_order_of_payments_does_not_change_outstanding_amounts_nor_the_overpayment(
    data: st.DataObject, issued: list[InvoiceIssued]
) -> None:
    incoming = data.draw(payments([i.number for i in issued], naming=1))
    shuffled = data.draw(st.permutations(incoming))
    first, _ = run([*issue(*issued), *pay(*incoming)])
    second, _ = run([*issue(*issued), *pay(*shuffled)])
    assert outcome(first) == outcome(second)


@given(issued=invoices(), amounts=st.lists(grosze, min_size=1, max_size=5))
def test_without_named_invoices_only_the_total_paid_matters(
    issued: list[InvoiceIssued], amounts: list[Decimal]
) -> None:
    split, _ = run([*issue(*issued), *pay(*(payment(f"P{n}", a) for n, a in enumerate(amounts)))])
    whole, _ = run([*issue(*issued), *pay(payment("ALL", sum(amounts, Decimal(0))))])
    assert outcome(split) == outcome(whole)


def test_a_payment_naming_two_invoices_can_make_the_order_matter() -> None:
    """The limit of the property above: here the final outstanding amounts differ by order."""
    owed = ["6", "3", "4", "5", "4"]
    issued = [invoice(f"FV/{n}", amount, due=date(2026, 1, n)) for n, amount in enumerate(owed, start=1)]
    p1 = payment("P1", "7", title="FV/3")
    p2 = payment("P2", "1", title="FV/2 FV/5")
    p3 = payment("P3", "6")
    one, _ = run([*issue(*issued), *pay(p1, p2, p3)])
    other, _ = run([*issue(*issued), *pay(p1, p3, p2)])
    assert outcome(one) != outcome(other)
    assert one.overpayment == other.overpayment == 0
