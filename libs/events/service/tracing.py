"""OpenTelemetry: one tracer provider per process; trace context travels in event metadata."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


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


def context_from(trace_context: Mapping[str, str]) -> Context:
    """The trace context an event was recorded in, to continue its trace in a consumer."""
    return propagate.extract(dict(trace_context))
