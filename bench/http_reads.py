"""Dashboard and invoice-list GETs per second per worker, with p50 and p99 at 70 % of the maximum rate.

Embedded: the portal (`python -m services.gateway`, one uvicorn worker, SQLite read models) seeded by
the demo seeder; the caller is the demo login, authenticated by logging in through identity (a real
EdDSA access token checked against the JWKS and the `_access` read model on every request).
Cluster: the billing service alone (`python -m services.billing`, one uvicorn worker) on FerretDB,
serving the read models the replay figure folded from the cloned log (whose copy 0 is the seeded
portal's own events, so the same token works), without nginx in front.
Baseline: a bare Starlette app (bench/bare.py) answering the same JSON documents, served the same way
(uvicorn, one worker, uvloop + httptools, access log off).

Each target gets a closed-loop run for its maximum rate (wrk when installed, else bench.loadgen), then
an open-loop run at 70 % of that rate measuring p50 and p99 from each request's scheduled start. The
load generator is always its own process; everything runs on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bench.core import Figure, Workspace
from bench.infra import Infra
from bench.loadgen import maximum_rate, open_rate
from bench.processes import (
    MemorySampler,
    Server,
    finish_profile,
    free_port,
    python,
    spawn,
    start_profile,
    stop,
    wait_until_ready,
)
from bench.world import Portal
from libs.events.cluster import cluster_env

ENDPOINTS: dict[str, str] = {"dashboard": "/dashboard", "invoices": "/invoices"}
"""Billing's client endpoints: /api/billing/<path> on the portal, /<path> on the billing service."""
RATE_SHARE = 0.7
P99_TARGET_MS = 15.0
MIN_RATIO = 0.5
OPEN_CONNECTIONS = 64


@dataclass
class Target:
    label: str
    base: str
    prefix: str
    headers: tuple[str, ...]

    def url(self, path: str) -> str:
        return f"{self.base}{self.prefix}{path}"


def load(work: Workspace, target: Target, path: str, profile_pid: int | None = None) -> dict[str, Any]:
    """The maximum rate, then p50/p99 at 70 % of it (open loop)."""
    scale = work.scale
    url = target.url(path)
    maximum = maximum_rate(url, target.headers, scale.http_connections, scale.http_max_seconds)
    rate = max(0.05, maximum.get("rate", 0.0) * RATE_SHARE)
    profile = None
    if profile_pid is not None:
        label = f"http-{target.label}-{path.strip('/')}"
        profile = start_profile(
            label, profile_pid, scale.http_rate_seconds + 1, work.results / "profiles" / work.run_id
        )
    at_rate = open_rate(url, target.headers, OPEN_CONNECTIONS, rate, scale.http_rate_seconds)
    result: dict[str, Any] = {"max": maximum, "at_70_percent": at_rate}
    if profile is not None:
        saved = finish_profile(profile)
        result["profile"] = str(saved) if saved else None
    return result


async def fetch_bodies(target: Target) -> dict[str, Any]:
    bodies: dict[str, Any] = {}
    headers = dict(header.split(": ", 1) for header in target.headers)
    async with httpx.AsyncClient(timeout=30.0) as http:
        for path in ENDPOINTS.values():
            response = await http.get(target.url(path), headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{target.label} {path}: {response.status_code} {response.text[:300]}")
            bodies[path] = response.json()
    return bodies


async def start_bare(work: Workspace, bodies: Mapping[str, Any], sampler: MemorySampler) -> Server:
    path = work.root / "bare-bodies.json"
    path.write_text(json.dumps(bodies))
    port = free_port()
    args = python("-m", "uvicorn", "bench.bare:app", "--host", "127.0.0.1", "--port", str(port))
    args += ["--log-level", "warning", "--no-access-log"]
    server = spawn("bare", args, {"BENCH_BARE_BODIES": str(path)}, work.root / "logs", port)
    sampler.watch("bare Starlette app", server.pid)
    await wait_until_ready(server, f"http://127.0.0.1:{port}{ENDPOINTS['dashboard']}")
    return server


def figure(
    endpoint: str, mode: str, measured: Mapping[str, Any], bare: Mapping[str, Any], settings: dict[str, Any]
) -> Figure:
    value = float(measured["max"].get("rate", 0.0))
    baseline = float(bare["max"].get("rate", 0.0))
    ratio = value / baseline if baseline else 0.0
    p99 = float(measured["at_70_percent"]["latency"]["p99_ms"])
    errors = int(measured["max"].get("errors", 0)) + int(measured["at_70_percent"].get("errors", 0))
    title = {"dashboard": "Dashboard GET", "invoices": "Invoice list GET"}[endpoint]
    return Figure(
        key=f"http.{endpoint}.{mode}",
        title=f"{title} per worker ({'portal' if mode == 'embedded' else 'billing service on FerretDB'})",
        mode="embedded" if mode == "embedded" else "cluster",
        unit="req/s",
        value=value,
        baseline=baseline,
        baseline_label="bare Starlette JSON endpoint, same document, same uvicorn settings",
        ratio=ratio,
        target=f">= {MIN_RATIO:g}x bare, p99 <= {P99_TARGET_MS:g} ms at 70% of max",
        passed=ratio >= MIN_RATIO and p99 <= P99_TARGET_MS and errors == 0,
        settings=settings,
        details={
            "p50_ms_at_70": measured["at_70_percent"]["latency"]["p50_ms"],
            "p99_ms_at_70": p99,
            "bare_p50_ms_at_70": bare["at_70_percent"]["latency"]["p50_ms"],
            "bare_p99_ms_at_70": bare["at_70_percent"]["latency"]["p99_ms"],
            "errors": errors,
            "measured": dict(measured),
            "bare": dict(bare),
        },
    )


def settings_of(work: Workspace, extra: Mapping[str, Any]) -> dict[str, Any]:
    scale = work.scale
    return {
        "workers": 1,
        "max_rate": f"closed loop, {scale.http_connections} connections, {scale.http_max_seconds:g} s",
        "latency": f"open loop at {RATE_SHARE:.0%} of max, {scale.http_rate_seconds:g} s, up to {OPEN_CONNECTIONS} "
        "connections, latency from the scheduled start",
        **extra,
    }


async def measure_embedded(
    work: Workspace, portal: Portal, sampler: MemorySampler
) -> tuple[list[Figure], Server, dict[str, Any]]:
    """The portal's figures; returns them, the bare server (kept for the cluster figures) and its results."""
    assert portal.access_token is not None
    target = Target("portal", portal.url, "/api/billing", (f"Authorization: Bearer {portal.access_token}",))
    bodies = await fetch_bodies(target)
    bare_server = await start_bare(work, bodies, sampler)
    bare = Target("bare", f"http://127.0.0.1:{bare_server.port}", "", ())
    figures: list[Figure] = []
    bare_results: dict[str, Any] = {}
    for endpoint, path in ENDPOINTS.items():
        bare_results[endpoint] = load(work, bare, path)
        measured = load(work, target, path, portal.server.pid if work.profile else None)
        settings = settings_of(
            work,
            {
                "server": "python -m services.gateway (embedded, SQLite read models)",
                "path": f"/api/billing{path}",
                "caller": "the demo login (2 clients), token from POST /api/identity/login",
                "response_bytes": len(json.dumps(bodies[path]).encode()),
            },
        )
        figures.append(figure(endpoint, "embedded", measured, bare_results[endpoint], settings))
    return figures, bare_server, bare_results


async def measure_cluster(
    work: Workspace, infra: Infra, portal: Portal, sampler: MemorySampler, bare_results: Mapping[str, Any]
) -> list[Figure]:
    """Billing alone in cluster mode over the replayed read models (bench/replay.py ran before)."""
    assert portal.access_token is not None
    port = free_port()
    root = work.root / "cluster-http"
    env = cluster_env(
        root,
        f"http://127.0.0.1:{port}",
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        namespace=infra.namespace,
        log_format="json",
    )
    env.update(
        {
            "BILLING_JWKS_LOCATION": str(portal.data_dir / "secrets" / "jwks.json"),
            "BILLING_LOG_LEVEL": "WARNING",
        }
    )
    server = spawn(
        "billing-cluster-http", python("-m", "services.billing", "--port", str(port)), env, work.root / "logs"
    )
    sampler.watch("billing service (cluster, HTTP figure)", server.pid)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_ready(server, f"{url}/readyz")
        target = Target("billing-cluster", url, "", (f"Authorization: Bearer {portal.access_token}",))
        bodies = await fetch_bodies(target)
        figures: list[Figure] = []
        for endpoint, path in ENDPOINTS.items():
            measured = load(work, target, path, server.pid if work.profile else None)
            settings = settings_of(
                work,
                {
                    "server": "python -m services.billing (cluster mode, FerretDB read models, no nginx)",
                    "path": path,
                    "caller": "the demo login's token (same JWKS), read models from the replay figure",
                    "response_bytes": len(json.dumps(bodies[path]).encode()),
                    "baseline": "the bare app's results of the embedded figure (same run)",
                },
            )
            figures.append(figure(endpoint, "cluster", measured, bare_results[endpoint], settings))
        return figures
    finally:
        stop([server])
        sampler.unwatch("billing service (cluster, HTTP figure)")
