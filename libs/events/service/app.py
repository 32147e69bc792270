"""The FastAPI application of a service: problems, health, correlation ids, traces, its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any
from uuid import UUID, uuid4

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.events.service.auth import BackOffice
from libs.events.service.problems import install_problem_handlers, problem
from libs.events.service.runtime import ServiceRuntime

CORRELATION_HEADER = "x-correlation-id"


class CorrelationMiddleware:
    """Takes the caller's X-Correlation-ID (a UUID) or makes one; binds it to every log line and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _parse_uuid(_header(scope, CORRELATION_HEADER)) or uuid4()
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER.encode(), str(correlation_id).encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=str(correlation_id)):
            await self.app(scope, receive, send_with_header)


def _header(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key.decode("latin-1").lower() == name:
            return str(value.decode("latin-1"))
    return None


def _parse_uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def create_service_app(runtime: ServiceRuntime, manage_runtime: bool = False) -> FastAPI:
    """The service's app. With `manage_runtime`, its lifespan starts and stops the runtime (a service in
    its own process), its consumers only when `<NAME>_CONSUMERS` is on; embedded, the gateway does that
    for every service."""
    definition = runtime.definition

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start(run_consumers=runtime.settings.consumers)
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.stop()

    app = FastAPI(title=definition.title, version="1", lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @app.get("/readyz", tags=["ops"], response_model=None)
    async def readyz() -> Any:
        checks = await runtime.readiness()
        if all(value == "ok" for value in checks.values()):
            return {"status": "ready", "checks": checks}
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)

    @app.get("/ops/consumers", tags=["ops"], response_model=None)
    async def consumers(_: BackOffice, request: Request) -> Any:
        """Position, lag and errors of each projection and reactor of this service."""
        if not runtime.settings.consumers:
            # Reading a status here would make this process a member of the worker's consumer groups,
            # holding partitions it never reads.
            detail = (
                f"this process serves {definition.name}'s API without its consumers "
                f"({definition.name.upper()}_CONSUMERS=false); its worker runs them: ask the worker's "
                "/ops/consumers, or run `python -m services.ops --mode cluster projections status`"
            )
            return problem(409, "consumers_not_in_this_process", detail, request)
        return [asdict(await runner.current_status()) for runner in runtime.runners]

    for router in (*definition.routers, *(definition.dev_routers if runtime.settings.dev_mode else ())):
        app.include_router(router)
    app.add_middleware(CorrelationMiddleware)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
