"""OpenTelemetry: one tracer provider per process; trace context travels in event metadata.

One user action is one trace: the HTTP request's span, under it `append <category>` (the command
handler's append; its context is what the appended events store) and, in each consumer, a consumer span
(`apply <service>.<projection>`, `react <service>.<reactor>`, `dead letter <consumer>`) whose parent is
the event's stored trace context: the relay puts it in the Kafka headers, the embedded mode reads it
from the envelope. Events a reactor appends inherit the trace in the same way. The relay traces each
published batch as one `publish <topic>` producer span of its own, linked to the stored contexts of
its events (`links_to`): a span per event cost more than a third of the relay's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

from libs.events.envelope import RecordedEvent

_configured = False
tracer = trace.get_tracer("strefa")
"""Resolves to the provider `configure_tracing` sets, whenever that happens."""
_MAX_LINKS = SpanLimits().max_links or 128
"""Links a span keeps: OTEL_SPAN_LINK_COUNT_LIMIT, 128 by default."""


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    _configured = True


def current_trace_context() -> dict[str, str]:
    """The W3C traceparent (and tracestate) of the current span, to store with new events."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def trace_context_of(span: Span) -> dict[str, str]:
    """The W3C traceparent (and tracestate) of `span`, e.g. for a message's headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def context_from(trace_context: Mapping[str, str]) -> Context:
    """The trace context an event was recorded in, to continue its trace in a consumer."""
    return propagate.extract(dict(trace_context))


def links_to(events: Iterable[RecordedEvent]) -> list[trace.Link]:
    """Links to the distinct trace contexts `events` were stored with, the first `_MAX_LINKS` of them (the
    SDK would drop any more); events stored outside any trace have none."""
    stored: dict[str, Mapping[str, str]] = {}
    for event in events:
        traceparent = event.trace_context.get("traceparent")
        if traceparent and traceparent not in stored:
            stored[traceparent] = event.trace_context
            if len(stored) == _MAX_LINKS:
                break
    links = []
    for trace_context in stored.values():
        span_context = trace.get_current_span(context_from(trace_context)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    return links


def event_attributes(event: RecordedEvent) -> dict[str, Any]:
    return {
        "messaging.message.id": str(event.event_id),
        "strefa.event.type": event.type,
        "strefa.event.version": event.version,
        "strefa.event.position": event.global_position,
        "strefa.stream.id": event.stream_id,
        "strefa.stream.version": event.stream_version,
    }


def start_event_span(name: str, kind: SpanKind, event: RecordedEvent, attributes: Mapping[str, Any]) -> Span:
    """A span (not made current) whose parent is the event's trace context; the caller ends it."""
    return tracer.start_span(
        name, context=context_from(event.trace_context), kind=kind, attributes={**event_attributes(event), **attributes}
    )


@contextmanager
def event_span(name: str, kind: SpanKind, event: RecordedEvent, attributes: Mapping[str, Any]) -> Iterator[Span]:
    """The current span while a consumer handles `event`, in the event's trace: log lines written inside
    carry its trace and span ids."""
    with trace.use_span(start_event_span(name, kind, event, attributes), end_on_exit=True) as span:
        yield span


def mark_failed(span: Span, reason: str) -> None:
    span.set_status(trace.Status(trace.StatusCode.ERROR, reason))
