"""OpenTelemetry metrics: one meter provider per process, exported over OTLP and scraped by Prometheus.

The instruments below exist from import on; until `configure_metrics` sets a provider they record
nothing. Lags are sampled, not computed at collection: reading a consumer's lag is I/O on the event
loop (the event store, Kafka), and the readers collect on their own threads. Whoever measures a lag
(the relay, and ServiceRuntime's sampler for its consumers, once per lag sample interval) sets a
`Readings`, and the observable gauges report the last values set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

_configured = False
_meter = otel_metrics.get_meter("strefa")


class Readings:
    """The last value measured per attribute set, for an observable gauge (thread-safe)."""

    def __init__(self) -> None:
        self._values: dict[frozenset[tuple[str, str]], int] = {}
        self._lock = threading.Lock()

    def set(self, value: int, attributes: Mapping[str, str]) -> None:
        with self._lock:
            self._values[frozenset(attributes.items())] = value

    def forget(self, **match: str) -> None:
        """Drops the readings whose attributes include `match` (a consumer that stopped)."""
        wanted = set(match.items())
        with self._lock:
            for key in [key for key in self._values if wanted <= key]:
                del self._values[key]

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            current = list(self._values.items())
        return [Observation(value, dict(attributes)) for attributes, value in current]


relay_lag = Readings()
"""Global positions in a service's event store not yet published to Kafka: {service, topic}."""
consumer_lag = Readings()
"""Events a projection or reactor has not yet processed, per source: {service, consumer, source}."""

_meter.create_observable_gauge(
    "strefa.relay.lag",
    callbacks=[relay_lag.observe],
    unit="{position}",
    description="Events in the service's event store that the relay has not yet published (store head minus "
    "checkpoint; log bytes on EventStoreDB)",
)
_meter.create_observable_gauge(
    "strefa.consumer.lag",
    callbacks=[consumer_lag.observe],
    unit="{event}",
    description="Events of a source that a projection or reactor has not yet processed (head minus checkpoint)",
)
relay_published = _meter.create_counter(
    "strefa.relay.published", unit="{event}", description="Events the relay published to Kafka"
)
dead_letters = _meter.create_counter(
    "strefa.consumer.dead_letters",
    unit="{event}",
    description="Events a projection or reactor could not apply and recorded as dead letters",
)
notifications_sent = _meter.create_counter(
    "strefa.notifications.sent", unit="{message}", description="Messages handed to an SMS or e-mail provider"
)
notification_failures = _meter.create_counter(
    "strefa.notifications.failed",
    unit="{message}",
    description="Notifications that ended as NotificationFailed, by channel, template and reason",
)


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`0.0.0.0:9464`, `127.0.0.1:9464`, `[::1]:9464`) of the Prometheus scrape endpoint."""
    host, separator, port = listen.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"metrics_listen must be host:port (e.g. 127.0.0.1:9464), not {listen!r}")
    return host.strip("[]"), int(port)


def configure_metrics(service_name: str, otlp_endpoint: str | None, listen: str | None) -> bool:
    """Sets the process's meter provider: OTLP/HTTP export to `otlp_endpoint` (every 15 s), and a
    Prometheus scrape endpoint (`GET /metrics`, text format) on `listen` (host:port). Either, both or
    neither; with neither the instruments stay no-ops. Once per process; returns whether metrics are on."""
    global _configured
    if _configured:
        return True
    readers: list[MetricReader] = []
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{otlp_endpoint}/v1/metrics")))
    if listen:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        host, port = parse_listen(listen)
        try:
            start_http_server(port, host)
        except OSError as error:
            raise OSError(f"cannot serve metrics on {listen}: {error.strerror}") from error
        readers.append(PrometheusMetricReader())
    if not readers:
        return False
    resource = Resource.create({"service.name": service_name})
    otel_metrics.set_meter_provider(MeterProvider(metric_readers=readers, resource=resource))
    _configured = True
    return True


def metrics_enabled() -> bool:
    """Whether a meter provider records: only then is sampling lags worth its queries."""
    return _configured
