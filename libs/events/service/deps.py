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


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


def event_context(request: Request, actor: str | None = None, client_id: str | None = None) -> EventContext:
    """The context for events a request causes: its correlation id, actor, tenant and trace."""
    correlation_id = getattr(request.state, "correlation_id", None) or uuid4()
    return EventContext(
        correlation_id=correlation_id,
        client_id=client_id,
        actor=actor,
        trace_context=current_trace_context(),
    )
