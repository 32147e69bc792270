"""The client ledger's snapshots: its codec keeps every field (money exact, as strings), a ledger loaded
from a snapshot decides as one folded from the start, a call repeated with its Idempotency-Key after a
snapshot covers it gives the first answer and appends nothing, and a snapshot holds no personal data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from libs.events.aggregate import CommandHandler
from libs.events.snapshots import SNAPSHOTS, DocumentSnapshots
from services.billing.domain import Ledger, ledger, ledger_from_json, ledger_to_json
from tests.billing.conftest import ACCOUNT, CLIENT_A, Billing, invoice_body
from tests.billing.ledger_helpers import invoice, issue, pay, payment, run


def a_ledger_with_everything() -> Ledger:
    """Invoices paid, part paid and open, a credit note, payments and overpayments left of two payments."""
    state, _ = run(
        [
            *issue(invoice("FV/1", "100.00", due=date(2026, 1, 15)), invoice("FV/2", "250.10", due=date(2026, 2, 15))),
            *pay(payment("P1", "120.01", title="FV/1")),
            *issue(invoice("KOR/1", "-30.00", corrects="inv-FV/2")),
            *pay(payment("P2", "400.00"), payment("P3", "0.07")),
        ]
    )
    assert [(credit.payment_id, credit.remaining) for credit in state.credits] == [
        ("P2", Decimal("199.91")),
        ("P3", Decimal("0.07")),
    ]
    return state


def test_the_ledger_codec_keeps_every_field_and_writes_money_as_strings() -> None:
    state = a_ledger_with_everything()
    stored = orjson.loads(orjson.dumps(ledger_to_json(state)))
    assert ledger_from_json(stored) == state
    assert sorted(item["outstanding"] for item in stored["invoices"]) == ["0.00", "0.00", "0.00"]
    assert [credit["remaining"] for credit in stored["credits"]] == ["199.91", "0.07"]


def test_a_ledger_from_its_snapshot_decides_as_the_ledger_folded_from_the_start() -> None:
    state = a_ledger_with_everything()
    restored = ledger_from_json(orjson.loads(orjson.dumps(ledger_to_json(state))))
    then = [*issue(invoice("FV/3", "500.00", due=date(2026, 4, 15))), *pay(payment("P4", "333.33", title="FV/3"))]
    assert run(then, restored) == run(then, state)


def snapshotting_often(billing: Billing) -> CommandHandler:
    """Billing's command handler, snapshotting a stream every 2 events instead of every 200."""
    runtime = billing.portal.runtimes["billing"]
    runtime.commands = CommandHandler(
        runtime.events, runtime.registry, snapshots=DocumentSnapshots(runtime.documents.inner), snapshot_every=2
    )
    return runtime.commands


async def ledger_event_count(billing: Billing) -> int:
    return len(await billing.portal.platform.event_stores["billing"].read_stream(ledger.stream_id(CLIENT_A[0])))


def a_payment(amount: str, title: str) -> dict[str, Any]:
    return {"client_id": CLIENT_A[0], "amount": amount, "received_on": "2026-03-01", "title": title, "account": ACCOUNT}


async def test_calls_repeated_with_their_keys_after_snapshots_answer_as_first_and_append_nothing(
    billing: Billing,
) -> None:
    handler = snapshotting_often(billing)
    contract_id = await billing.register_contract("UL/1/2026")
    await billing.caught_up()
    calls = [
        ("invoices", invoice_body("FV/1", contract_id), "inv-1"),
        ("payments", a_payment("500.00", "FV/1"), "pay-1"),
        ("invoices", invoice_body("FV/2", contract_id, due_date="2026-03-15"), "inv-2"),
        ("payments", a_payment("2500.00", "raty"), "pay-2"),
        ("invoices", invoice_body("FV/3", contract_id, due_date="2026-04-15"), "inv-3"),
    ]
    first: list[dict[str, Any]] = []
    for path, body, key in calls:
        response = await billing.post(path, body, key=key)
        assert response.status_code == 201, response.text
        first.append(response.json())
    snapshots = DocumentSnapshots(billing.portal.runtimes["billing"].documents.inner)
    snapshot = await snapshots.load(ledger.stream_id(CLIENT_A[0]))
    count = await ledger_event_count(billing)
    assert snapshot is not None
    assert snapshot.version >= count - 2  # every call's events but the last one's are in the snapshot

    for (path, body, key), answered in zip(calls, first, strict=True):
        again = await billing.post(path, body, key=key)
        assert again.status_code == 201, (path, again.text)
        assert again.json() == answered
    assert await ledger_event_count(billing) == count
    runtime = billing.portal.runtimes["billing"]
    from_snapshot = await handler.load(ledger, CLIENT_A[0])
    assert from_snapshot == await CommandHandler(runtime.events, runtime.registry).load(ledger, CLIENT_A[0])
    assert first[4]["settlements"]  # FV/3 was settled by the overpayment of pay-2
    assert sum(item.outstanding for item in from_snapshot[0].invoices.values()) == Decimal("690.00")


async def test_a_ledger_snapshot_holds_no_personal_data(billing: Billing) -> None:
    snapshotting_often(billing)
    contract_id = await billing.register_contract("UL/1/2026")
    await billing.caught_up()
    for number in ("FV/1", "FV/2"):
        assert (await billing.post("invoices", invoice_body(number, contract_id))).status_code == 201
    assert (await billing.post("payments", a_payment("100.00", "FV/1"))).status_code == 201
    doc = await billing.portal.runtimes["billing"].documents.inner.get(SNAPSHOTS, ledger.stream_id(CLIENT_A[0]))
    assert doc is not None
    stored = orjson.dumps(doc).decode()
    _, name, nip = CLIENT_A
    for personal in (name, nip, ACCOUNT):
        assert personal not in stored
    assert set(doc["state"]) == {"client_id", "invoices", "payments", "credits"}
