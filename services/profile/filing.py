"""Filing a request: the form checked against its JSON Schema, the contracts it names against the filer's,
the attachments against the limits; only then are the files stored and RequestSubmitted appended.
Nothing is stored when anything is refused; stored files are removed if the append fails, and swept
later (`sweep_orphans`, libs/events/blobs.py) if the process died before it could remove them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import uuid4

import structlog
from fastapi.exceptions import RequestValidationError

from libs.events import EventContext, Invalid, NotFound
from libs.events import blobs as blob_port
from libs.events.access import Principal
from libs.events.blobs import BlobStore, BlobSweeper, FileBlobStore
from libs.events.envelope import utc_now
from libs.events.schemas.profile import RequestAttachment, RequestSubmitted
from libs.events.service.runtime import ServiceRuntime
from services.profile.domain.attachments import CheckedFile, check_count, check_file
from services.profile.domain.catalogue import CATALOGUE, RequestType, referenced_contracts, validate_form
from services.profile.domain.requests import SubmitRequest, client_request
from services.profile.notify import settings_of
from services.profile.projections import CONTRACTS

log = structlog.get_logger(__name__)

REQUESTS = "requests"


class Upload(Protocol):
    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


def request_type_of(code: str) -> RequestType:
    found = CATALOGUE.get(code)
    if found is None:
        raise Invalid("unknown_request_type", f"no request type {code!r} in the catalogue", field="type")
    return found


def parse_form(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise Invalid("form_not_json", "the form data must be a JSON object", field="data") from None
    if not isinstance(data, dict):
        raise Invalid("form_not_object", "the form data must be a JSON object", field="data")
    return data


def check_form(request_type: RequestType, data: Mapping[str, Any]) -> None:
    errors = validate_form(request_type, data)
    if errors:
        raise RequestValidationError(
            [
                {"loc": ("data", *(e.field.split(".") if e.field else ())), "msg": e.message, "type": e.code}
                for e in errors
            ]
        )


async def check_contracts(runtime: ServiceRuntime, principal: Principal, contracts: Mapping[str, str]) -> None:
    """Each contract must be the principal's to see: 404 naming the field otherwise, as for no such contract."""
    found = await runtime.documents.get_many(CONTRACTS, list(contracts))
    for contract_id, field in contracts.items():
        doc = found.get(contract_id)
        if doc is None or doc.get("client_id") != principal.client_id or not principal.may_see_contract(contract_id):
            raise NotFound("contract_not_found", f"no such contract {contract_id}", field=f"data.{field}")


async def check_files(
    uploads: Sequence[Upload], request_type: RequestType, max_files: int, max_bytes: int
) -> list[CheckedFile]:
    check_count(len(uploads), request_type.min_attachments, max_files)
    return [
        check_file(index, upload.filename, await upload.read(max_bytes + 1), max_bytes)
        for index, upload in enumerate(uploads)
    ]


def attachment_files(runtime: ServiceRuntime) -> BlobStore:
    """The blob port; the embedded default keeps files under the service's data folder."""
    return FileBlobStore(settings_of(runtime).blobs_root)


def attachment_key(request_id: str, index: int, filename: str) -> str:
    return f"{REQUESTS}/{request_id}/{index}-{filename.rsplit('.', 1)[-1]}"


def orphan_sweeper(runtime: ServiceRuntime, clock: Callable[[], datetime] = utc_now) -> BlobSweeper:
    """Each key made by `attachment_key` is checked against its request's RequestSubmitted."""
    return blob_port.orphan_sweeper(runtime, attachment_files(runtime), REQUESTS, client_request.stream_id, clock)


async def sweep_orphans(runtime: ServiceRuntime) -> None:
    """Profile's ServiceDefinition.background: a sweep at start, then one every interval."""
    await blob_port.run_orphan_sweeps(runtime, orphan_sweeper(runtime))


async def store_files(blobs: BlobStore, request_id: str, files: Sequence[CheckedFile]) -> list[RequestAttachment]:
    stored: list[RequestAttachment] = []
    try:
        for index, file in enumerate(files):
            key = attachment_key(request_id, index, file.filename)
            ref = await blobs.put(key, file.content, file.content_type)
            stored.append(RequestAttachment(filename=file.filename, file=ref))
    except BaseException:
        await discard(blobs, stored)
        raise
    return stored


async def discard(blobs: BlobStore, attachments: Sequence[RequestAttachment]) -> None:
    for attachment in attachments:
        with contextlib.suppress(Exception):
            await blobs.delete(attachment.file.key)


async def file_request(
    runtime: ServiceRuntime,
    blobs: BlobStore,
    principal: Principal,
    code: str,
    raw_form: str,
    uploads: Sequence[Upload],
    context: EventContext,
) -> RequestSubmitted:
    settings = settings_of(runtime)
    request_type = request_type_of(code)
    form = parse_form(raw_form)
    check_form(request_type, form)
    contracts = referenced_contracts(request_type, form)
    await check_contracts(runtime, principal, contracts)
    files = await check_files(uploads, request_type, settings.attachment_max_files, settings.attachment_max_bytes)
    request_id = uuid4().hex
    attachments = await store_files(blobs, request_id, files)
    details = RequestSubmitted(
        request_id=request_id,
        client_id=principal.client_id,
        request_type=request_type.code,
        form_version=request_type.version,
        contract_ids=tuple(contracts),
        form=form,
        attachments=tuple(attachments),
        submitted_by=principal.account_id,
        submitted_at=runtime.clock(),
    )
    try:
        await runtime.commands.handle(client_request, request_id, SubmitRequest(details), context)
    except BaseException:
        await discard(blobs, attachments)
        raise
    log.info("request_submitted", request_id=request_id, request_type=request_type.code, attachments=len(files))
    return details
