"""The settlement rules on the pure ledger: title first, then oldest due; overpayment; corrections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest

from libs.events import Conflict, Invalid
from libs.events.schemas.billing import (
    InvoiceIssued,
    InvoiceSettled,
    OverpaymentApplied,
    OverpaymentRecorded,
    PaymentReceived,
)
from services.billing.domain import IssueInvoice, ReceivePayment, decide_ledger
from services.billing.settlement import OpenItem, named_in_title, number_key
from tests.billing.ledger_helpers import TODAY, invoice, issue, pay, payment, run


def settled(events: Sequence[object]) -> list[tuple[str, Decimal, Decimal, bool]]:
    return [(e.invoice_id, e.amount, e.outstanding, e.full) for e in events if isinstance(e, InvoiceSettled)]


def test_a_payment_settles_the_oldest_due_invoice_first() -> None:
    older = invoice("FV/1", "100.00", due=date(2026, 1, 15))
    newer = invoice("FV/2", "100.00", due=date(2026, 2, 15))
    state, events = run([*issue(newer, older), *pay(payment("P1", "150.00"))])
    assert settled(events) == [
        ("inv-FV/1", Decimal("100.00"), Decimal("0.00"), True),
        ("inv-FV/2", Decimal("50.00"), Decimal("50.00"), False),
    ]
    assert state.invoices["inv-FV/2"].outstanding == Decimal("50.00")
    assert state.overpayment == 0


def test_ties_on_due_date_go_by_issue_date_then_number() -> None:
    a = invoice("FV/B", "10.00", issued=date(2026, 1, 2))
    b = invoice("FV/A", "10.00", issued=date(2026, 1, 3))
    c = invoice("FV/C", "10.00", issued=date(2026, 1, 2))
    _, events = run([*issue(b, c, a), *pay(payment("P1", "25.00"))])
    assert [s[0] for s in settled(events)] == ["inv-FV/B", "inv-FV/C", "inv-FV/A"]


def test_the_invoice_named_in_the_title_is_settled_first() -> None:
    older = invoice("FV/2026/01/0001", "100.00", due=date(2026, 1, 15))
    named = invoice("FV/2026/02/0002", "100.00", due=date(2026, 2, 15))
    _, events = run([*issue(older, named), *pay(payment("P1", "120.00", title="Zapłata fv 2026-02-0002, dziękujemy"))])
    assert settled(events) == [
        ("inv-FV/2026/02/0002", Decimal("100.00"), Decimal("0.00"), True),
        ("inv-FV/2026/01/0001", Decimal("20.00"), Decimal("80.00"), False),
    ]


def test_chosen_invoices_of_an_online_payment_come_first_in_the_payers_order() -> None:
    a, b, c = (invoice(f"FV/{n}", "10.00", due=date(2026, 1, n)) for n in (1, 2, 3))
    _, events = run([*issue(a, b, c), *pay(payment("P1", "15.00", chosen=["inv-FV/3", "inv-FV/2"]))])
    assert settled(events) == [
        ("inv-FV/3", Decimal("10.00"), Decimal("0.00"), True),
        ("inv-FV/2", Decimal("5.00"), Decimal("5.00"), False),
    ]


def test_money_left_over_is_an_overpayment_applied_to_the_next_invoice() -> None:
    state, events = run([*issue(invoice("FV/1", "100.00")), *pay(payment("P1", "130.55"))])
    (over,) = [e for e in events if isinstance(e, OverpaymentRecorded)]
    assert (over.payment_id, over.amount) == ("P1", Decimal("30.55"))
    assert state.overpayment == Decimal("30.55")

    state, events = run(issue(invoice("FV/2", "20.00", due=date(2026, 4, 15))), state)
    assert [type(e) for e in events] == [InvoiceIssued, OverpaymentApplied, InvoiceSettled]
    assert settled(events) == [("inv-FV/2", Decimal("20.00"), Decimal("0.00"), True)]
    assert state.overpayment == Decimal("10.55")

    state, events = run(issue(invoice("FV/3", "50.00", due=date(2026, 5, 15))), state)
    assert settled(events) == [("inv-FV/3", Decimal("10.55"), Decimal("39.45"), False)]
    applied = [e for e in events if isinstance(e, OverpaymentApplied)]
    assert [(e.payment_id, e.amount) for e in applied] == [("P1", Decimal("10.55"))]
    assert state.overpayment == 0
    assert state.credits == ()


def test_overpayments_of_several_payments_are_applied_oldest_first() -> None:
    state, _ = run(pay(payment("P1", "5.00"), payment("P2", "7.00")))
    _, events = run(issue(invoice("FV/1", "6.00")), state)
    applied = [(e.payment_id, e.amount) for e in events if isinstance(e, OverpaymentApplied)]
    assert applied == [("P1", Decimal("5.00")), ("P2", Decimal("1.00"))]


def test_a_payment_is_recorded_once() -> None:
    state, _ = run(pay(payment("P1", "5.00")))
    with pytest.raises(Conflict) as refused:
        decide_ledger(state, ReceivePayment(payment("P1", "5.00")))
    assert refused.value.field == "reference"


def test_an_invoice_number_is_issued_once_per_ledger() -> None:
    state, _ = run(issue(invoice("FV/1", "5.00")))
    with pytest.raises(Conflict) as refused:
        decide_ledger(state, IssueInvoice(invoice("FV/1", "5.00"), TODAY))
    assert refused.value.code == "invoice_number_taken"


def test_a_credit_note_pays_off_the_corrected_invoice_then_is_an_overpayment() -> None:
    first = invoice("FV/1", "100.00", due=date(2026, 1, 15))
    corrected = invoice("FV/2", "100.00", due=date(2026, 2, 15))
    state, _ = run([*issue(first, corrected), *pay(payment("P1", "60.00", title="FV/2"))])
    credit = invoice("KOR/1", "-150.00", corrects="inv-FV/2")
    state, events = run(issue(credit), state)
    assert settled(events) == [
        ("inv-FV/2", Decimal("40.00"), Decimal("0.00"), True),
        ("inv-FV/1", Decimal("100.00"), Decimal("0.00"), True),
    ]
    assert all(e.payment_id == "correction:inv-KOR/1" for e in events if isinstance(e, InvoiceSettled))
    (over,) = [e for e in events if isinstance(e, OverpaymentRecorded)]
    assert over.amount == Decimal("10.00")
    assert state.invoices["inv-KOR/1"].outstanding == 0


def test_a_correction_must_name_an_invoice_of_the_ledger() -> None:
    with pytest.raises(Invalid) as refused:
        decide_ledger(run([])[0], IssueInvoice(invoice("KOR/1", "-1.00", corrects="inv-nope"), TODAY))
    assert refused.value.field == "corrects_invoice_number"


def test_a_payment_event_comes_first_and_carries_the_money_exactly() -> None:
    _, events = run([*issue(invoice("FV/1", "0.03")), *pay(payment("P1", "0.01"), payment("P2", "0.01"))])
    assert isinstance(events[1], PaymentReceived)
    assert [s[2] for s in settled(events)] == [Decimal("0.02"), Decimal("0.01")]


@pytest.mark.parametrize(
    ("title", "number", "named"),
    [
        ("FV/2026/01/0001", "FV/2026/01/0001", True),
        ("zapłata fv 2026 01 0001", "FV/2026/01/0001", True),
        ("FV2026-01-0001", "FV/2026/01/0001", True),
        ("faktura nr: fv/2026/01/0001; umowa UL/7", "FV/2026/01/0001", True),
        ("F V 2026.01.0001", "FV/2026/01/0001", True),
        ("FV/2026/01/00011", "FV/2026/01/0001", False),
        ("AFV/2026/01/0001", "FV/2026/01/0001", False),
        ("FV/11/2026", "1/2026", False),
        ("za 1/2026 i 2/2026", "1/2026", True),
        ("Faktura Łódź/ŻÓŁ/3", "łódź/żół/3", True),
        ("", "FV/1", False),
    ],
)
def test_title_matching_ignores_spaces_case_and_separators_but_not_digits(title: str, number: str, named: bool) -> None:
    item = OpenItem("inv", number, date(2026, 1, 1), date(2026, 1, 15), Decimal("1.00"))
    assert (named_in_title(title, [item]) == ["inv"]) is named


def test_number_key() -> None:
    assert number_key(" fv / 2026-01_0001 ") == "FV2026010001"
