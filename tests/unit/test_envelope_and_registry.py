"""Envelope round-trips and upcasting, checked over generated inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.registry import EventRegistry, InvalidEventData, MissingUpcaster, UnknownEventType

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
envelopes = st.builds(
    RecordedEvent,
    event_id=st.uuids(),
    type=st.text(min_size=1, max_size=40),
    version=st.integers(1, 50),
    data=st.dictionaries(st.text(max_size=15), json_values, max_size=6),
    occurred_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    correlation_id=st.uuids(),
    causation_id=st.none() | st.uuids(),
    client_id=st.none() | st.text(max_size=20),
    actor=st.none() | st.text(max_size=20),
    trace_context=st.dictionaries(st.sampled_from(["traceparent", "tracestate"]), st.text(max_size=60)),
    stream_id=st.text(min_size=1, max_size=60),
    stream_version=st.integers(0, 10**9),
    global_position=st.integers(0, 2**62),
)


@given(envelopes)
def test_an_envelope_survives_json(envelope: RecordedEvent) -> None:
    assert RecordedEvent.from_json(envelope.to_json()) == envelope


def make_registry() -> tuple[EventRegistry, type[Any], type[Any]]:
    registry = EventRegistry()

    @registry.register
    class PaymentReceivedV1(DomainEvent):
        event_type = "PaymentReceived"
        schema_version = 1
        amount: str  # v1 kept złoty as text with a comma, as the old bank feed sent it
        title: str

    @registry.register
    class PaymentReceived(DomainEvent):
        event_type = "PaymentReceived"
        schema_version = 2
        amount: Decimal
        currency: str
        title: str

    @registry.upcaster("PaymentReceived", from_version=1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "amount": data["amount"].replace(",", "."), "currency": "PLN"}

    return registry, PaymentReceivedV1, PaymentReceived


def recorded(event_type: str, version: int, data: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        type=event_type, version=version, data=data, stream_id="billing-payment-1", stream_version=0, global_position=1
    )


@given(grosze=st.integers(1, 10**12), title=st.text(max_size=40))
def test_old_versions_are_upcast_to_the_latest_model(grosze: int, title: str) -> None:
    registry, _, latest = make_registry()
    amount = Decimal(grosze) / 100
    v1_text = f"{amount:.2f}".replace(".", ",")
    decoded = registry.decode(recorded("PaymentReceived", 1, {"amount": v1_text, "title": title}))
    assert isinstance(decoded, latest)
    assert decoded == latest(amount=amount, currency="PLN", title=title)


def test_the_latest_version_decodes_as_is() -> None:
    registry, _, latest = make_registry()
    decoded = registry.decode(recorded("PaymentReceived", 2, {"amount": "10.05", "currency": "EUR", "title": "x"}))
    assert decoded == latest(amount=Decimal("10.05"), currency="EUR", title="x")


def test_an_unknown_type_names_type_and_version() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(UnknownEventType, match=r"'InvoiceVanished' version 1"):
        registry.decode(recorded("InvoiceVanished", 1, {}))


def test_an_unknown_version_of_a_known_type_names_both() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(UnknownEventType) as raised:
        registry.decode(recorded("PaymentReceived", 7, {}))
    assert (raised.value.event_type, raised.value.version) == ("PaymentReceived", 7)


def test_a_missing_upcaster_names_the_stored_version_and_the_missing_step() -> None:
    registry, _, _ = make_registry()

    @registry.register
    class PaymentReceivedV3(DomainEvent):
        event_type = "PaymentReceived"
        schema_version = 3
        amount: Decimal
        currency: str
        title: str
        channel: str

    with pytest.raises(MissingUpcaster) as raised:
        registry.decode(recorded("PaymentReceived", 1, {"amount": "10,05", "title": "x"}))
    assert str(raised.value) == (
        "event 'PaymentReceived' version 1 cannot be upcast to version 3: no upcaster from version 2 to 3"
    )
    assert (raised.value.event_type, raised.value.version, raised.value.missing_from) == ("PaymentReceived", 1, 2)
    assert isinstance(raised.value, UnknownEventType)  # consumers dead-letter it like any event they cannot read


def test_data_not_matching_the_model_is_an_error_not_a_silent_default() -> None:
    registry, _, _ = make_registry()
    with pytest.raises(InvalidEventData, match="PaymentReceived"):
        registry.decode(recorded("PaymentReceived", 2, {"amount": "lots", "currency": "PLN", "title": "x"}))


def test_registering_two_models_for_one_version_fails() -> None:
    registry, _, _ = make_registry()

    class Other(DomainEvent):
        event_type = "PaymentReceived"
        schema_version = 2

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Other)


def test_context_of_a_recorded_event_chains_causation() -> None:
    event = recorded("PaymentReceived", 2, {}).model_copy(update={"event_id": uuid4(), "client_id": "C1"})
    context = event.context()
    assert context.causation_id == event.event_id
    assert context.correlation_id == event.correlation_id
    assert context.client_id == "C1"
