"""FastAPI dependencies every service uses: its runtime and the context of the events a request causes."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Request

from libs.events.envelope import EventContext
from libs.events.service.runtime import ServiceRuntime
from libs.events.service.tracing import current_trace_context


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _runtime_dependency(request: Request) -> ServiceRuntime:
    # async, so FastAPI calls it on the event loop: a plain `def` dependency is sent to the thread pool
    # on every request (bench/notes.md: 15% of a dashboard request).
    return get_runtime(request)


Runtime = Annotated[ServiceRuntime, Depends(_runtime_dependency)]


def event_context(request: Request, actor: str | None = None, client_id: str | None = None) -> EventContext:
    """The context for events a request causes: its correlation id, actor, tenant and trace."""
    correlation_id = getattr(request.state, "correlation_id", None) or uuid4()
    return EventContext(
        correlation_id=correlation_id,
        client_id=client_id,
        actor=actor,
        trace_context=current_trace_context(),
    )
