"""OpenTelemetry: one tracer provider per process; trace context travels in event metadata.

One user action is one trace: the HTTP request's span, under it `append <category>` (the command
handler's append; its context is what the appended events store), then `publish <topic>` (the relay,
a producer span whose context travels in the Kafka headers) and, in each consumer, a consumer span
(`apply <service>.<projection>`, `react <service>.<reactor>`, `dead letter <consumer>`) whose parent is
the event's trace context: the Kafka header's when the event came through Kafka, the stored one in
the embedded mode. Events a reactor appends inherit the trace in the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

from libs.events.envelope import RecordedEvent

_configured = False
tracer = trace.get_tracer("strefa")
"""Resolves to the provider `configure_tracing` sets, whenever that happens."""


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
