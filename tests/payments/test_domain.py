"""The payment desk's decide/evolve, pure: locks, resume, ranks, mismatches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from libs.events import Conflict, DomainEvent, Invalid, NotFound
from libs.events.schemas.payments import (
    GatewayNotificationRejected,
    PaymentAccepted,
    PaymentCancelled,
    PaymentFailed,
    PaymentInProgress,
    PaymentStarted,
)
from services.payments.domain import (
    ApplyGatewayOrder,
    CancelPayment,
    Command,
    Desk,
    GatewayOrder,
    InvoiceToPay,
    PaymentLocked,
    RecordOrder,
    StartPayment,
    decide,
    evolve,
    parse_reference,
    reference_for,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
A = InvoiceToPay("inv-a", "FV/1", Decimal("1230.00"), "PLN", "c-1")
B = InvoiceToPay("inv-b", "FV/2", Decimal("100.50"), "PLN")


def run(desk: Desk, command: Command) -> tuple[Desk, Sequence[DomainEvent]]:
    events = decide(desk, command)
    for event in events:
        desk = evolve(desk, event)
    return desk, events


def start(payment_id: str = "p1", *invoices: InvoiceToPay, at: datetime = T0) -> StartPayment:
    return StartPayment(payment_id, "CL-A", invoices or (A, B), "payu", "acc-1", at)


def order(status: str, amount: str = "1330.50", currency: str = "PLN", payment_id: str = "p1") -> GatewayOrder:
    return GatewayOrder("ORD1", reference_for("CL-A", payment_id), status, Decimal(amount), currency)  # type: ignore[arg-type]


def apply(status: str, payment_id: str = "p1", **kw: str) -> ApplyGatewayOrder:
    notified = order(status, payment_id=payment_id, **kw)
    return ApplyGatewayOrder(payment_id, "payu", notified, notified, "digest", T0 + timedelta(minutes=5))


def ordered(payment_id: str = "p1", *invoices: InvoiceToPay) -> Desk:
    desk, _ = run(Desk(), start(payment_id, *invoices))
    desk, _ = run(desk, RecordOrder(payment_id, "ORD1", "https://gw/pay/ORD1"))
    return desk


def test_a_start_records_the_invoices_and_their_total() -> None:
    _, events = run(Desk(), start())
    (started,) = events
    assert isinstance(started, PaymentStarted)
    assert started.amount == Decimal("1330.50")
    assert started.invoice_ids == ("inv-a", "inv-b")
    assert started.reference == "CL-A:p1"
    assert parse_reference(started.reference) == ("CL-A", "p1")
    assert parse_reference("nocolon") is None


@pytest.mark.parametrize(
    ("invoices", "code"),
    [
        ((), "invoices_required"),
        ((A, A), "duplicate_invoices"),
        ((A, InvoiceToPay("inv-e", "FV/E", Decimal(1), "EUR")), "mixed_currencies"),
    ],
)
def test_invalid_starts(invoices: tuple[InvoiceToPay, ...], code: str) -> None:
    with pytest.raises(Invalid) as refused:
        decide(Desk(), StartPayment("p1", "CL-A", invoices, "payu", "acc-1", T0))
    assert refused.value.code == code


def test_a_paid_invoice_cannot_be_paid() -> None:
    with pytest.raises(Conflict) as refused:
        decide(Desk(), start("p1", InvoiceToPay("inv-z", "FV/Z", Decimal("0.00"), "PLN")))
    assert refused.value.code == "invoice_already_paid"


def test_the_same_invoices_resume_a_waiting_order_and_others_are_locked() -> None:
    desk = ordered()
    assert decide(desk, start("p2")) == []
    assert desk.resumable(frozenset({"inv-a", "inv-b"})) is not None
    with pytest.raises(PaymentLocked) as locked:
        decide(desk, start("p2", A))
    assert locked.value.code == "payment_not_started"
    assert locked.value.payment.payment_id == "p1"


def test_in_progress_locks_every_start_of_its_invoices() -> None:
    desk, _ = run(ordered(), apply("pending"))
    for invoices in ((A, B), (A,), (B,)):
        with pytest.raises(PaymentLocked) as locked:
            decide(desk, start("p2", *invoices))
        assert locked.value.code == "payment_in_progress"
        assert locked.value.status == 409


def test_accepted_locks_until_billing_settled_it() -> None:
    desk, _ = run(ordered(), apply("completed"))
    with pytest.raises(PaymentLocked) as locked:
        decide(desk, start("p2", A))
    assert locked.value.code == "payment_accepted"
    settled = InvoiceToPay("inv-a", "FV/1", Decimal("10.00"), "PLN", settled_by=frozenset({"p1"}))
    assert [type(e) for e in decide(desk, start("p2", settled))] == [PaymentStarted]


def test_failed_and_unavailable_payments_free_their_invoices() -> None:
    failed, _ = run(ordered(), apply("canceled"))
    assert [type(e) for e in decide(failed, start("p2"))] == [PaymentStarted]
    cancelled, _ = run(Desk(), start())
    cancelled, _ = run(cancelled, CancelPayment("p1", "gateway_unavailable", "down", T0))
    assert cancelled.payments["p1"].status == "unavailable"
    assert [type(e) for e in decide(cancelled, start("p2"))] == [PaymentStarted]


def test_a_payment_without_an_order_is_superseded_only_when_stale() -> None:
    desk, _ = run(Desk(), start())
    with pytest.raises(PaymentLocked) as locked:
        decide(desk, start("p2", at=T0 + timedelta(seconds=30)))
    assert locked.value.code == "payment_being_created"
    _, events = run(desk, start("p2", at=T0 + timedelta(minutes=5)))
    assert [type(e) for e in events] == [PaymentCancelled, PaymentStarted]
    assert isinstance(events[0], PaymentCancelled)
    assert events[0].reason == "order_not_created"


def test_the_status_only_moves_forward() -> None:
    desk = ordered()
    desk, events = run(desk, apply("new"))
    assert events == []
    desk, events = run(desk, apply("pending"))
    assert [type(e) for e in events] == [PaymentInProgress]
    desk, events = run(desk, apply("awaiting_capture"))
    assert events == []
    desk, events = run(desk, apply("completed"))
    assert [type(e) for e in events] == [PaymentAccepted]
    for late in ("pending", "new", "canceled", "completed", "awaiting_capture"):
        desk, events = run(desk, apply(late))
        assert events == [], late
    assert desk.payments["p1"].status == "accepted"


def test_canceled_fails_and_money_taken_later_is_still_accepted() -> None:
    desk, events = run(ordered(), apply("canceled"))
    assert [type(e) for e in events] == [PaymentFailed]
    desk, events = run(desk, apply("pending"))
    assert events == []
    desk, events = run(desk, apply("completed"))
    assert [type(e) for e in events] == [PaymentAccepted]


def test_the_acceptance_carries_what_billing_and_notifications_need() -> None:
    _, events = run(ordered(), apply("completed"))
    (accepted,) = events
    assert isinstance(accepted, PaymentAccepted)
    assert accepted.invoice_ids == ("inv-a", "inv-b")
    assert [(i.number, i.amount) for i in accepted.invoices] == [
        ("FV/1", Decimal("1230.00")),
        ("FV/2", Decimal("100.50")),
    ]
    assert (accepted.amount, accepted.currency, accepted.started_by) == (Decimal("1330.50"), "PLN", "acc-1")
    assert accepted.gateway_order_id == "ORD1"


@pytest.mark.parametrize(
    ("notified", "fetched", "reason"),
    [
        (order("completed", "1.00"), order("completed"), "amount_mismatch"),
        (order("completed"), order("completed", "1330.51"), "amount_mismatch"),
        (order("completed", currency="EUR"), order("completed", currency="EUR"), "currency_mismatch"),
        (order("completed"), order("completed", payment_id="p9"), "order_mismatch"),
        (order("completed"), GatewayOrder("ORD2", "CL-A:p1", "completed", Decimal("1330.50"), "PLN"), "order_mismatch"),
    ],
)
def test_a_disagreeing_notification_is_rejected_and_changes_nothing(
    notified: GatewayOrder, fetched: GatewayOrder, reason: str
) -> None:
    desk = ordered()
    after, events = run(desk, ApplyGatewayOrder("p1", "payu", notified, fetched, "digest", T0))
    (rejected,) = events
    assert isinstance(rejected, GatewayNotificationRejected)
    assert rejected.reason == reason
    assert rejected.payment_id == "p1"
    assert after == desk


def test_unknown_payments_are_not_found() -> None:
    with pytest.raises(NotFound):
        decide(Desk(), apply("completed"))
    with pytest.raises(NotFound):
        decide(Desk(), RecordOrder("p1", "ORD1", "https://gw"))


def test_recording_an_order_is_idempotent_and_cancel_does_not_touch_ordered_payments() -> None:
    desk = ordered()
    assert decide(desk, RecordOrder("p1", "ORD1", "https://gw/pay/ORD1")) == []
    with pytest.raises(Conflict):
        decide(desk, RecordOrder("p1", "ORD2", "https://gw/pay/ORD2"))
    assert decide(desk, CancelPayment("p1", "gateway_unavailable", "late", T0)) == []


def test_a_notification_before_the_order_was_recorded_still_applies() -> None:
    desk, _ = run(Desk(), start())
    desk, events = run(desk, apply("completed"))
    assert [type(e) for e in events] == [PaymentAccepted]
    desk, events = run(desk, RecordOrder("p1", "ORD1", "https://gw/pay/ORD1"))
    assert desk.payments["p1"].status == "accepted"
