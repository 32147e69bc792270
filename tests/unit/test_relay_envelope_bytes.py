"""`RecordedEvent.to_json` (the record value the relay and the dead-letter topic send) writes orjson straight
from the envelope's fields, byte for byte what it wrote before through pydantic's JSON mode, so consumers
(`kafka.decode`) and anything reading the topics see no change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PrivateKey
from pydantic import BaseModel

import libs.events.schemas  # noqa: F401  (registers every published event type)
from libs.events import jsonutil
from libs.events.catalogue import example_event, minimal_data, published_models
from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.pii import SEALED_PREFIX, PersonalData, PersonalDataStore
from libs.events.registry import registry
from libs.events.schemas.billing import InvoiceIssued, InvoiceLine, PaymentReceived
from libs.events.schemas.identity import AccountProvisioned, ActivationCodeIssued
from libs.events.sealed import NotificationRequest, seal_notification
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from libs.events.vault import SqliteKeyVault

WARSAW = ZoneInfo("Europe/Warsaw")
TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "vendor=1"}


def through_pydantic(event: RecordedEvent) -> bytes:
    """What `to_json` wrote before it skipped pydantic."""
    return jsonutil.dumps(event.model_dump(mode="json"))


def invoice() -> InvoiceIssued:
    line = InvoiceLine(
        description="Rata leasingowa 7/36", net=Decimal("1000.10"), vat_rate="23", vat=Decimal("230.02"),
        gross=Decimal("1230.12"),
    )  # fmt: skip
    return InvoiceIssued(
        invoice_id="inv-1", number="FV/2026/03/0001", client_id="CL-1001", contract_id="UL/2026/0001",
        instalment_number=7, kind="instalment", issue_date=date(2026, 3, 29), due_date=date(2026, 4, 12),
        lines=(line,), net_total=Decimal("1000.10"), vat_total=Decimal("230.02"), gross_total=Decimal("1230.12"),
        currency="PLN",
    )  # fmt: skip


def payment() -> PaymentReceived:
    return PaymentReceived(
        payment_id="pay-1", client_id="CL-1001", amount=Decimal("-0.01"), currency="PLN",
        received_on=date(2026, 3, 29), title="FV/2026/03/0001 nadpłata – zwrot", source="bank_statement",
        invoice_ids=("inv-1",),
    )  # fmt: skip


def provisioned() -> AccountProvisioned:
    return AccountProvisioned(
        account_id="acc-1", email="zofia.zolkiewska@nowak.pl", phone="+48601234567", first_name="Zofia",
        last_name="Żółkiewska", source="backoffice",
    )  # fmt: skip


def activation_code() -> ActivationCodeIssued:
    sms = NotificationRequest(channel="sms", to="+48601234567", template="activation_code", params={"code": "123456"})
    return ActivationCodeIssued(
        account_id="acc-1", code_hash="0" * 64, expires_at=datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC),
        notification=seal_notification(sms, PrivateKey.generate().public_key),
    )  # fmt: skip


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[list[RecordedEvent]]:
    """Domain events appended as a service appends them (personal fields sealed) and read back as the
    relay reads them: from the store itself, still sealed."""
    raw = await SqliteEventStore(tmp_path / "events.db", "billing").open()
    vault = await SqliteKeyVault(tmp_path / "vault" / "keys.db").open()
    store = PersonalDataStore(raw, PersonalData(vault, registry))
    context = EventContext(client_id="CL-1001", actor="backoffice:anna", trace_context=TRACE)
    domain: Sequence[DomainEvent] = [invoice(), payment(), provisioned(), activation_code()]
    for number, event in enumerate(domain):
        await store.append(f"billing-example-{number}", [NewEvent.from_domain(event, context)], ANY_VERSION)
    yield await raw.read_all()
    await raw.close()
    await vault.close()


async def test_events_read_from_the_store_are_written_as_pydantic_wrote_them(stored: list[RecordedEvent]) -> None:
    assert len(stored) == 4
    assert stored[0].data["gross_total"] == "1230.12"
    assert stored[2].data["email"].startswith(SEALED_PREFIX)  # what the relay publishes: sealed
    for event in stored:
        assert event.to_json() == through_pydantic(event)
        assert RecordedEvent.from_json(event.to_json()) == event


async def test_events_read_from_the_store_are_written_without_pydantic(
    stored: list[RecordedEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = [through_pydantic(event) for event in stored]

    def no_pydantic(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("serialized through pydantic")

    monkeypatch.setattr(RecordedEvent, "model_dump", no_pydantic)
    assert [event.to_json() for event in stored] == expected


@pytest.mark.parametrize("model", published_models(registry.models()), ids=lambda model: model.__name__)
def test_every_published_event_type_is_written_as_pydantic_wrote_it(model: type[DomainEvent]) -> None:
    example = example_event(model)  # minimal data, personal values sealed
    complete = minimal_data(model, complete=True)
    if example is None or complete is None:
        pytest.skip(f"{model.__name__} has no example")
    for event in (example, example.model_copy(update={"data": complete})):
        assert event.to_json() == through_pydantic(event)


class Nested(BaseModel):
    amount: Decimal


def envelope(
    data: dict[str, Any], occurred_at: datetime = datetime(2026, 3, 29, 1, 59, 59, 123456, UTC)
) -> RecordedEvent:
    return RecordedEvent(
        type="InvoiceIssued", version=2, data=data, occurred_at=occurred_at, causation_id=uuid4(), client_id="CL-1",
        actor="client:acc-1", trace_context=TRACE, stream_id="billing-invoice-1", stream_version=3,
        global_position=2**40,
    )  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1230.12"), Decimal("-0.00"), Decimal("1E+3"), Decimal("123456789012345.67"),
        datetime(2026, 3, 29, 1, 59, 59, tzinfo=UTC), datetime(2026, 3, 29, 3, 0, tzinfo=WARSAW),
        datetime(2026, 10, 25, 2, 30, 0, 500, tzinfo=WARSAW),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3))),
        datetime(2026, 1, 1, 12), date(2026, 2, 28), UUID("4bf92f35-77b3-4da6-a3ce-929d0e0e4736"),
        0.1, 1e16, -0.0, float("nan"), 2**63 - 1, "Żółkiewska \u2028 \x00 \U0001f697", None, True,
        [Decimal("1.10"), {"due": date(2026, 4, 12)}], ("a", 1),
        # orjson cannot write these: the pydantic way, still the same bytes
        b"bytes", {"unique"}, {1: "integer key"}, Nested(amount=Decimal("7.00")),
    ],
    ids=repr,
)  # fmt: skip
def test_data_of_any_type_is_written_as_pydantic_wrote_it(value: Any) -> None:
    event = envelope({"value": value, "list": [value], "nested": {"value": value}})
    assert event.to_json() == through_pydantic(event)


def test_an_occurred_at_outside_utc_is_written_as_pydantic_wrote_it() -> None:
    event = RecordedEvent.model_construct(
        **{**dict(envelope({})), "occurred_at": datetime(2026, 3, 29, 3, tzinfo=WARSAW)}
    )
    assert event.to_json() == through_pydantic(event)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.datetimes(timezones=st.none() | st.just(UTC) | st.just(WARSAW))
    | st.dates()
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


@given(data=st.dictionaries(st.text(max_size=12), values, max_size=6), occurred_at=st.datetimes(timezones=st.just(UTC)))
def test_generated_envelopes_are_written_as_pydantic_wrote_them(data: dict[str, Any], occurred_at: datetime) -> None:
    event = envelope(data, occurred_at)
    assert event.to_json() == through_pydantic(event)
