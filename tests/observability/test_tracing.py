"""One user action, one trace: the HTTP request, the append, and every consumer that reacts, in the
embedded portal; log lines written while a consumer handles the event carry the trace's ids."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from libs.events.envelope import NewEvent, RecordedEvent
from tests.helpers import eventually
from tests.observability.conftest import Portal, Spans


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def parent_id(span: ReadableSpan) -> str | None:
    return format(span.parent.span_id, "016x") if span.parent is not None else None


def stored_ids(event: RecordedEvent) -> tuple[str, str]:
    """The trace id and span id of the traceparent an event was stored with."""
    _, trace, span, _ = event.trace_context["traceparent"].split("-")
    return trace, span


async def events(portal: Portal, service: str, *types: str) -> list[RecordedEvent]:
    recorded = await portal.portal.platform.event_stores[service].read_all(limit=10_000)
    return [event for event in recorded if event.type in types]


async def provision(portal: Portal, email: str) -> None:
    body = {
        "client_id": "CL-1001",
        "client_name": "Transport Nowak Sp. z o.o.",
        "first_name": "Zofia",
        "last_name": "Żółkiewska",
        "email": email,
        "phone": "601 234 567",
    }
    response = await portal.http.post("/api/identity/backoffice/accounts", json=body, headers=portal.backoffice)
    assert response.status_code == 201, response.text


async def sent_for(portal: Portal, cause: RecordedEvent) -> RecordedEvent | None:
    sent = await events(portal, "notifications", "NotificationSent")
    return next((event for event in sent if event.data["cause_event_id"] == str(cause.event_id)), None)


async def test_one_http_command_is_one_trace_through_append_projections_and_the_notification(
    portal: Portal, spans: Spans, json_logs: Any
) -> None:
    email = f"zofia.{uuid4().hex[:8]}@nowak.pl"
    await provision(portal, email)  # a trace of its own

    response = await portal.http.post("/api/identity/activation/start", json={"email": email})
    assert response.status_code == 202

    async def code_sent() -> bool:
        issued = await events(portal, "identity", "ActivationCodeIssued")
        return bool(issued) and await sent_for(portal, issued[0]) is not None

    await eventually(code_sent, what="the activation SMS sent")
    (issued,) = await events(portal, "identity", "ActivationCodeIssued")
    sent = await sent_for(portal, issued)
    assert sent is not None
    trace, append_span = stored_ids(issued)

    await eventually(
        lambda: any(span.name == "apply notifications.notification_log" for span in spans.of_event(sent.event_id)),
        what="the notification log applied the outcome",
    )
    (http,) = [span for span in spans.all() if span.kind is SpanKind.SERVER and trace_id(span) == trace]
    assert http.name.startswith("POST ")

    # the command's append: a child of the request, and the context its events were stored with
    (append,) = [span for span in spans.named("append identity-account") if span_id(span) == append_span]
    assert trace_id(append) == trace
    assert append.attributes is not None
    assert append.attributes["strefa.stream.id"] == issued.stream_id
    assert append.attributes["strefa.event.position"] == issued.global_position

    # every consumer of the event, in the same trace, as children of the append
    consumers = {span.name: span for span in spans.of_event(issued.event_id)}
    assert "react notifications.deliveries" in consumers
    for span in consumers.values():
        assert span.kind is SpanKind.CONSUMER
        assert trace_id(span) == trace
        assert parent_id(span) == append_span
        assert span.attributes is not None
        assert span.attributes["strefa.event.type"] == "ActivationCodeIssued"
        assert span.attributes["strefa.stream.id"] == issued.stream_id
        assert span.attributes["messaging.operation.type"] == "process"
    react = consumers["react notifications.deliveries"]
    assert react.attributes is not None
    assert react.attributes["messaging.consumer.group.name"] == "notifications.deliveries"

    # the outcome the reactor recorded continues the trace: appended under the reaction, then projected
    outcome_trace, outcome_append = stored_ids(sent)
    assert outcome_trace == trace
    (recorded,) = [span for span in spans.named("append notifications-notification") if span_id(span) == outcome_append]
    assert parent_id(recorded) == span_id(react)
    (logged,) = [span for span in spans.of_event(sent.event_id) if span.name == "apply notifications.notification_log"]
    assert trace_id(logged) == trace

    # the delivery's log line, written while the reactor handled the event, names the trace and the span
    (line,) = [line for line in json_logs() if line["event"] == "notification_sent"]
    assert line["trace_id"] == trace
    assert line["span_id"] == span_id(react)


async def test_a_dead_letter_is_a_failed_span_in_the_trace_of_its_event_and_its_log_line_says_so(
    portal: Portal, spans: Spans, json_logs: Any
) -> None:
    traceparent = f"00-{uuid4().hex}-{uuid4().hex[:16]}-01"
    store = portal.portal.platform.event_stores["identity"]
    broken = NewEvent(
        type="AccountProvisioned", version=1, data={"account_id": 7}, trace_context={"traceparent": traceparent}
    )
    await store.append(f"identity-account-{uuid4().hex}", [broken], expected_version=None)
    trace = traceparent.split("-")[1]

    await eventually(
        lambda: any(span.name == "dead letter identity.accounts" for span in spans.of_event(broken.event_id)),
        what="the accounts projection dead-lettered the event",
    )
    (dead,) = [span for span in spans.of_event(broken.event_id) if span.name == "dead letter identity.accounts"]
    assert trace_id(dead) == trace
    assert dead.status.status_code is StatusCode.ERROR
    lines = [
        line for line in json_logs() if line["event"] == "dead_letter" and line["event_id"] == str(broken.event_id)
    ]
    assert lines
    assert {line["trace_id"] for line in lines} == {trace}
