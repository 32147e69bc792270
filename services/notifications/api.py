"""HTTP API of the notifications service: the back office's audit trail, and the dev mailbox."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from libs.events.docstore import Filter
from libs.events.projection import public
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime
from services.notifications.adapters.outbox import DEV_OUTBOX, outbox_address
from services.notifications.projections import NOTIFICATION_LOG

backoffice = APIRouter(prefix="/backoffice", tags=["back office"])


@backoffice.get("/notifications")
async def list_notifications(
    runtime: Runtime,
    _: BackOffice,
    response: Response,
    status: Literal["sent", "failed"] | None = None,
    cause_event_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Outcomes of notifications, newest first: channel, template, masked recipient, attempts, error."""
    filter_: dict[str, Any] = {}
    if status:
        filter_["status"] = status
    if cause_event_id:
        filter_["cause_event_id"] = str(cause_event_id)
    total = await runtime.documents.count(NOTIFICATION_LOG, filter_)
    docs = await runtime.documents.find(
        NOTIFICATION_LOG, filter_, sort=[("settled_at", -1), ("_id", 1)], limit=limit, skip=offset
    )
    response.headers["X-Total-Count"] = str(total)
    return [public(doc) for doc in docs]


dev = APIRouter(prefix="/dev", tags=["dev"])
"""Mounted only in dev mode (ServiceDefinition.dev_routers): absent, not refused, otherwise."""


class OutboxEntry(BaseModel):
    id: str
    notification_id: str
    channel: Literal["sms", "email"]
    to: str
    template: str
    locale: str
    subject: str | None
    text: str
    html: str | None
    sent_at: datetime


def _address_filter(to: str) -> str:
    """`to` as the outbox files it. A "+" in a query string arrives as a space: 48601234567 and
    601234567 (Polish) both mean +48601234567."""
    if "@" in to:
        return outbox_address("email", to)
    digits = re.sub(r"\D", "", to)
    if to.strip().startswith("+"):
        return "+" + digits
    return "+48" + digits if len(digits) == 9 else "+" + digits


@dev.get("/outbox")
async def dev_outbox(
    runtime: Runtime,
    to: Annotated[str | None, Query(max_length=320, description="Only messages to this number or address")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OutboxEntry]:
    """The SMS and e-mails "sent" in dev mode, newest first, whole: codes and links included."""
    filter_: Filter = {"to": _address_filter(to)} if to else {}
    docs = await runtime.documents.find(DEV_OUTBOX, filter_, sort=[("sent_at", -1), ("_id", -1)], limit=limit)
    return [OutboxEntry(id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}) for doc in docs]
