"""The benchmark suite cannot rot: its runner, in a tiny configuration, still measures every figure.

No timing is asserted (performance is measured by `make bench`, never in tests): the smoke run must
produce a report with every figure, each beside its baseline and their ratio, and docs rendered from it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import parse_wrk
from bench.report import choose, render
from tests.servers import KAFKA_SKIP, MONGO_SKIP, ROOT, server_setting

MEASURED = {
    "appends.single",
    "appends.batched",
    "relay.publish",
    "replay.mongo",
    "http.dashboard.embedded",
    "http.invoices.embedded",
    "http.dashboard.cluster",
    "http.invoices.cluster",
    "lag.embedded",
    "lag.cluster",
    "rebuild",
}


def run_bench(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    out = tmp_path_factory.mktemp("bench-results")
    completed = run_bench(
        "--smoke", "--out", str(out), "--no-docs",
        env={"KAFKA_BOOTSTRAP": bootstrap, "MONGO_URI": mongo_uri}, timeout=540,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    reports = list(out.glob("*.json"))
    assert len(reports) == 1, reports
    report: dict[str, Any] = json.loads(reports[0].read_text())
    return report


@pytest.mark.cluster
@pytest.mark.timeout(600)
def test_the_smoke_run_reports_every_figure_beside_its_baseline_and_their_ratio(smoke_report: dict[str, Any]) -> None:
    assert smoke_report["errors"] == {}
    assert smoke_report["skipped"] == {}
    figures = {figure["key"]: figure for figure in smoke_report["figures"]}
    assert set(figures) >= MEASURED, MEASURED - set(figures)
    for key in MEASURED:
        figure = figures[key]
        assert figure["baseline"] is not None, figure
        assert figure["baseline"] > 0, figure
        assert figure["ratio"] is not None, figure
        assert math.isfinite(figure["ratio"]), figure
        assert figure["value"] > 0, figure
        assert figure["target"], figure
        assert isinstance(figure["passed"], bool), figure
        assert figure["settings"], figure
    memory = [figure for key, figure in figures.items() if key.startswith("rss.")]
    assert {"rss.portal_embedded_gateway", "rss.bare_starlette_app"} <= {figure["key"] for figure in memory}
    assert all(figure["value"] > 0 and figure["target"] == "reported" for figure in memory)
    assert set(figures) == MEASURED | {figure["key"] for figure in memory}


@pytest.mark.cluster
@pytest.mark.timeout(600)
def test_the_report_names_the_machine_and_versions_and_the_docs_show_every_figure(
    smoke_report: dict[str, Any],
) -> None:
    assert smoke_report["machine"]["cores"] >= 1
    assert smoke_report["machine"]["ram_gib"] > 0
    versions = smoke_report["versions"]
    assert versions["python"]
    assert versions["sqlite"]
    assert versions["kafka"]
    assert not versions["kafka"].startswith("unknown")
    assert versions["ferretdb"]
    assert not versions["ferretdb"].startswith("unknown")
    assert smoke_report["figures"][0]["settings"]
    whole, million = choose([smoke_report])
    assert whole is smoke_report
    assert million is None
    docs = render(whole, million, "## Profiles\n\nnotes")
    for figure in smoke_report["figures"]:
        assert figure["title"].removeprefix("Peak RSS: ") in docs
    assert "## Profiles" in docs


def test_an_unknown_figure_is_refused_with_the_names_to_choose_from(tmp_path: Path) -> None:
    completed = run_bench("--only", "nonsense", "--out", str(tmp_path), "--no-docs")
    assert completed.returncode == 2
    assert "unknown figure 'nonsense'" in completed.stderr
    assert "appends" in completed.stderr
    assert "rebuild" in completed.stderr
    assert list(tmp_path.iterdir()) == []


def test_wrk_output_is_read_into_rate_errors_and_percentiles() -> None:
    output = """Running 10s test @ http://127.0.0.1:8000/api/billing/dashboard
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.31ms    2.10ms  40.02ms   88.00%
    Req/Sec     1.30k   100.00     1.50k    70.00%
  Latency Distribution
     50%   11.90ms
     75%   13.00ms
     90%   14.50ms
     99%    1.02s
  13012 requests in 10.01s, 48.20MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   1299.90
Transfer/sec:      4.81MB
"""
    parsed = parse_wrk(output)
    assert parsed["rate"] == pytest.approx(1299.90)
    assert parsed["requests"] == 13012
    assert parsed["duration_s"] == pytest.approx(10.01)
    assert parsed["errors"] == 7 + 3  # non-2xx answers and requests that got none
    assert parsed["latency"] == {"p50_ms": 11.9, "p90_ms": 14.5, "p99_ms": 1020.0}
