"""Billing's reactions to other services' events."""

from __future__ import annotations

from collections.abc import Sequence

from libs.events import Conflict, DomainEvent, Reactor, RecordedEvent
from libs.events.schemas.billing import PaymentReceived
from libs.events.schemas.payments import PaymentAccepted
from libs.events.service.runtime import ServiceRuntime
from libs.events.warsaw import warsaw_date
from services.billing.domain import ReceivePayment, ledger


def payment_received(accepted: PaymentAccepted) -> PaymentReceived:
    """An online payment the gateway confirmed, as money received: it settles the invoices the payer chose
    first, and what is left over becomes an overpayment like any other."""
    numbers = ", ".join(invoice.number for invoice in accepted.invoices)
    return PaymentReceived(
        payment_id=accepted.payment_id,
        client_id=accepted.client_id,
        amount=accepted.amount,
        currency=accepted.currency,
        received_on=warsaw_date(accepted.accepted_at),
        title=f"Płatność online: {numbers}"[:200],
        account=None,
        source="online",
        invoice_ids=accepted.invoice_ids,
    )


def reactors(runtime: ServiceRuntime) -> Sequence[Reactor]:
    async def settle_online_payment(event: DomainEvent, recorded: RecordedEvent) -> None:
        assert isinstance(event, PaymentAccepted)
        command = ReceivePayment(payment_received(event))
        try:
            await runtime.commands.handle(
                ledger,
                event.client_id,
                command,
                recorded.context(),
                idempotency_key=f"payment-accepted:{recorded.event_id}",
            )
        except Conflict as error:
            if error.code != "payment_already_recorded":
                raise

    return [
        Reactor(
            name="online_payments",
            sources=("payments",),
            handles=frozenset({PaymentAccepted.event_type}),
            react=settle_online_payment,
        )
    ]
