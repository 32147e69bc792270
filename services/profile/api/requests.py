"""Wnioski: the catalogue, filing with attachments, the client's requests and their history."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status

from libs.events import Document, NotFound
from libs.events.blobs import BlobNotFound, BlobStore
from libs.events.service.access import Authenticated
from libs.events.service.deps import Runtime, event_context
from services.profile.api.common import Blobs, RequestFiler, RequestReader, request_view
from services.profile.domain.attachments import ALLOWED_TYPES
from services.profile.domain.catalogue import REQUEST_TYPES
from services.profile.domain.requests import may_see, visible
from services.profile.filing import file_request
from services.profile.notify import settings_of
from services.profile.projections import REQUESTS

log = structlog.get_logger(__name__)

router = APIRouter(tags=["requests"])

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
AttachmentIndex = Annotated[int, Path(ge=0, le=99)]
STATUS_PATTERN = "^(submitted|in_progress|completed|rejected)$"


def content_disposition(filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def attachment_response(blobs: BlobStore, doc: Document, index: int) -> Response:
    attachments = doc.get("attachments", [])
    if index >= len(attachments):
        raise NotFound("attachment_not_found", "no such attachment")
    item = attachments[index]
    try:
        content = await blobs.get(item["key"])
    except BlobNotFound:
        log.error("attachment_missing", request_id=doc.get("request_id"), index=index)
        raise NotFound("attachment_not_found", "no such attachment") from None
    if hashlib.sha256(content).hexdigest() != item["sha256"]:
        raise RuntimeError(f"attachment {index} of request {doc.get('request_id')} does not match its digest")
    headers = {
        "Content-Disposition": content_disposition(item["filename"]),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(content, media_type=item["content_type"], headers=headers)


@router.get("/requests/catalogue")
async def catalogue(runtime: Runtime, _: Authenticated) -> list[dict[str, Any]]:
    """The request types a client may file, each with its JSON Schema form (Polish titles, English beside)."""
    settings = settings_of(runtime)
    return [
        request_type.describe(settings.attachment_max_files, settings.attachment_max_bytes, list(ALLOWED_TYPES))
        for request_type in REQUEST_TYPES
    ]


@router.post("/requests", status_code=status.HTTP_201_CREATED)
async def submit_request(
    request: Request,
    response: Response,
    runtime: Runtime,
    blobs: Blobs,
    principal: RequestFiler,
    request_type: Annotated[str, Form(alias="type", min_length=1, max_length=64)],
    data: Annotated[str, Form(max_length=64 * 1024)] = "{}",
    attachments: Annotated[list[UploadFile], File()] = [],  # noqa: B006  (FastAPI copies defaults)
) -> dict[str, Any]:
    """Multipart: `type` (catalogue code), `data` (the form as JSON), `attachments` (PDF, JPEG or PNG files)."""
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    details = await file_request(runtime, blobs, principal, request_type, data, attachments, context)
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/requests/{details.request_id}"
    return {"request_id": details.request_id, "reference": details.request_id[:8].upper(), "status": "submitted"}


@router.get("/requests")
async def my_requests(
    runtime: Runtime,
    principal: RequestReader,
    response: Response,
    status_: Annotated[str | None, Query(alias="status", pattern=STATUS_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    filter_: dict[str, Any] = {"client_id": principal.client_id}
    if status_:
        filter_["status"] = status_
    docs = await runtime.documents.find(REQUESTS, filter_, sort=[("submitted_at", -1)], limit=limit, skip=offset)
    shown = [request_view(doc) for doc in docs if may_see(principal, doc)]
    if principal.contract_ids is None:  # a person limited to some contracts sees a filtered page only
        response.headers["X-Total-Count"] = str(await runtime.documents.count(REQUESTS, filter_))
    return shown


@router.get("/requests/{request_id}")
async def my_request(request_id: RequestId, runtime: Runtime, principal: RequestReader) -> dict[str, Any]:
    """A request with its whole status history."""
    return request_view(visible(principal, await runtime.documents.get(REQUESTS, request_id)))


@router.get("/requests/{request_id}/attachments/{index}", response_class=Response)
async def my_attachment(
    request_id: RequestId, index: AttachmentIndex, runtime: Runtime, blobs: Blobs, principal: RequestReader
) -> Response:
    doc = visible(principal, await runtime.documents.get(REQUESTS, request_id))
    return await attachment_response(blobs, doc, index)
