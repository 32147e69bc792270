"""Telemetry as an operator sees it: spans caught by an in-memory exporter on the process's tracer
provider, metrics scraped from the Prometheus endpoint, log lines as the JSON the services write.

The providers are process-wide and set once (OpenTelemetry allows no second one): the first test here
sets them, and counters only grow, so tests compare values before and after what they do.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from libs.events.service.logs import configure_logging
from libs.events.service.metrics import configure_metrics
from libs.events.service.tracing import configure_tracing
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    configure_tracing("strefa-tests", None)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "another tracer provider was set before these tests"
    caught = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(caught))
    return caught


class Spans:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all() if span.name == name]

    def of_event(self, event_id: object) -> list[ReadableSpan]:
        """Spans about one event (their `messaging.message.id`)."""
        return [span for span in self.all() if (span.attributes or {}).get("messaging.message.id") == str(event_id)]


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[Spans]:
    exporter.clear()
    yield Spans(exporter)
    exporter.clear()


@pytest.fixture(scope="session")
def metrics_url() -> str:
    port = free_port()
    assert configure_metrics("strefa-tests", None, f"127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}/metrics"


@dataclass
class Scrape:
    text: str
    content_type: str

    def value(self, name: str, **labels: str) -> float | None:
        """The sample `name` whose labels include `labels`; None when there is none."""
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return float(sample.value)
        return None

    def names(self) -> set[str]:
        return {sample.name for family in text_string_to_metric_families(self.text) for sample in family.samples}


@pytest.fixture
def scrape(metrics_url: str) -> Callable[[], Any]:
    async def get() -> Scrape:
        async with httpx.AsyncClient() as client:
            response = await client.get(metrics_url)
        assert response.status_code == 200
        return Scrape(response.text, response.headers["content-type"])

    return get


@dataclass
class Portal:
    portal: EmbeddedPortal
    http: httpx.AsyncClient
    backoffice: dict[str, str]
    data_dir: Path


@asynccontextmanager
async def running_portal(data_dir: Path, run_consumers: bool) -> AsyncIterator[Portal]:
    embedded = EmbeddedPortal(PortalSettings(data_dir=data_dir, dev_mode=True))
    await embedded.start(run_consumers)
    transport = httpx.ASGITransport(app=embedded.app(), client=("203.0.113.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
            token = backoffice_token(data_dir)
            yield Portal(embedded, http, {"Authorization": f"Bearer {token}"}, data_dir)
    finally:
        await embedded.stop()


@pytest.fixture
async def portal(tmp_path: Path, exporter: InMemorySpanExporter, metrics_url: str) -> AsyncIterator[Portal]:
    """The embedded portal with every service, its consumers running; telemetry set up before it starts."""
    async with running_portal(tmp_path / "data", run_consumers=True) as running:
        yield running


@pytest.fixture
async def idle_portal(tmp_path: Path, exporter: InMemorySpanExporter, metrics_url: str) -> AsyncIterator[Portal]:
    """The embedded portal whose consumers do not run: a test runs them (and reads their lag) itself."""
    async with running_portal(tmp_path / "data", run_consumers=False) as running:
        yield running


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The services' JSON log lines (INFO and up) written during the test."""
    configure_logging("json", "INFO")
    written: list[dict[str, Any]] = []

    def lines() -> list[dict[str, Any]]:
        written.extend(json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{"))
        return written

    yield lines
    configure_logging("console", "WARNING")  # as tests/conftest.py has it
