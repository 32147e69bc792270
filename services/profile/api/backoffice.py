"""The back office's side of requests: the queue, a request with its history and files, status changes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import Field

from libs.events import NotFound
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime, event_context
from services.profile.api.common import Blobs, Input, request_view
from services.profile.api.requests import STATUS_PATTERN, AttachmentIndex, RequestId, attachment_response
from services.profile.domain.requests import ChangeRequestStatus, client_request
from services.profile.notify import status_notification
from services.profile.projections import REQUESTS

router = APIRouter(prefix="/backoffice", tags=["back office"])


class StatusIn(Input):
    status: Literal["in_progress", "completed", "rejected"]
    reason: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    """Required to reject; told to the client."""
    comment: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


@router.get("/requests")
async def request_queue(
    runtime: Runtime,
    _: BackOffice,
    response: Response,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    filter_ = {name: value for name, value in (("client_id", client_id), ("status", status)) if value}
    docs = await runtime.documents.find(REQUESTS, filter_, sort=[("submitted_at", -1)], limit=limit, skip=offset)
    response.headers["X-Total-Count"] = str(await runtime.documents.count(REQUESTS, filter_))
    return [request_view(doc, for_client=False) for doc in docs]


@router.get("/requests/{request_id}")
async def request_detail(request_id: RequestId, runtime: Runtime, _: BackOffice) -> dict[str, Any]:
    doc = await runtime.documents.get(REQUESTS, request_id)
    if doc is None:
        raise NotFound("request_not_found", "no such request")
    return request_view(doc, for_client=False)


@router.get("/requests/{request_id}/attachments/{index}", response_class=Response)
async def request_attachment(
    request_id: RequestId, index: AttachmentIndex, runtime: Runtime, blobs: Blobs, _: BackOffice
) -> Response:
    doc = await runtime.documents.get(REQUESTS, request_id)
    if doc is None:
        raise NotFound("request_not_found", "no such request")
    return await attachment_response(blobs, doc, index)


@router.post("/requests/{request_id}/status")
async def change_request_status(
    request_id: RequestId,
    body: StatusIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """submitted -> in_progress -> completed | rejected (with a reason); anything else is a 409.
    The person who filed the request is told by e-mail (a sealed notification in the event)."""
    state, _ = await runtime.commands.load(client_request, request_id)
    if state.submitted is None:
        raise NotFound("request_not_found", "no such request")
    notification = await status_notification(runtime, state.submitted, body.status, body.reason)
    command = ChangeRequestStatus(body.status, body.reason, body.comment, actor, runtime.clock(), notification)
    context = event_context(request, actor=actor, client_id=state.submitted.client_id)
    decision = await runtime.commands.handle(
        client_request, request_id, command, context, idempotency_key=idempotency_key
    )
    assert decision.result is not None
    return {"request_id": request_id, "status": decision.state.status, "stream_version": decision.result.stream_version}
