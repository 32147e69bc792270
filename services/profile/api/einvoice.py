"""The e-invoice service: consent with who and when, its address, confirmation links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import EmailStr, Field

from libs.events import Document, NotFound
from libs.events.access import Principal
from libs.events.projection import public
from libs.events.service.deps import Runtime, event_context
from services.profile.api.common import Input, ProfileEditor, ProfileReader, shown_actor
from services.profile.domain.einvoice import (
    Confirm,
    EInvoice,
    GiveConsent,
    RequestEmailChange,
    WithdrawConsent,
    einvoice,
)
from services.profile.links import client_of, token_hash
from services.profile.notify import prepare_confirmation
from services.profile.projections import EINVOICE

router = APIRouter(tags=["e-invoice"])


class EmailIn(Input):
    email: EmailStr


class WithdrawalIn(Input):
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class ConfirmationIn(Input):
    token: Annotated[str, Field(min_length=40, max_length=400)]


def einvoice_view(client_id: str, doc: Document | None, now: datetime) -> dict[str, Any]:
    """The read model as the client sees it: an expired pending confirmation is not shown."""
    view = public(doc) if doc else {"client_id": client_id, "consent": False, "email": None, "history": []}
    pending = view.get("pending")
    if pending and datetime.fromisoformat(pending["expires_at"]) <= now:
        view["pending"] = None
    view["history"] = [{**entry, "by": shown_actor(entry.get("by"))} for entry in view.get("history", [])]
    return view


def state_view(client_id: str, state: EInvoice) -> dict[str, Any]:
    """The outcome of a command, straight from the aggregate (the read model may lag behind)."""
    pending = state.pending
    return {
        "client_id": client_id,
        "consent": state.consent,
        "email": state.email if state.consent else None,
        "pending": {"purpose": pending.purpose, "email": pending.email, "expires_at": pending.expires_at.isoformat()}
        if pending
        else None,
    }


async def _run(request: Request, runtime: Runtime, principal: Principal, command: Any, response: Response) -> Any:
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    decision = await runtime.commands.handle(einvoice, principal.client_id, command, context)
    if decision.state.pending is not None and decision.events:
        response.status_code = status.HTTP_202_ACCEPTED
    return state_view(principal.client_id, decision.state)


@router.get("/einvoice")
async def get_einvoice(runtime: Runtime, principal: ProfileReader) -> dict[str, Any]:
    doc = await runtime.documents.get(EINVOICE, principal.client_id)
    return einvoice_view(principal.client_id, doc, runtime.clock())


@router.post("/einvoice/consent")
async def give_consent(
    body: EmailIn, request: Request, response: Response, runtime: Runtime, principal: ProfileEditor
) -> dict[str, Any]:
    """Consent to e-invoices at `email`: at once for the address confirmed before (200), else after its link (202)."""
    now = runtime.clock()
    link = await prepare_confirmation(runtime, principal.client_id, body.email, now)
    command = GiveConsent(principal.client_id, body.email, principal.actor, now, link)
    result: dict[str, Any] = await _run(request, runtime, principal, command, response)
    return result


@router.post("/einvoice/consent/withdrawal")
async def withdraw_consent(
    body: WithdrawalIn, request: Request, response: Response, runtime: Runtime, principal: ProfileEditor
) -> dict[str, Any]:
    command = WithdrawConsent(principal.client_id, principal.actor, runtime.clock(), body.reason)
    result: dict[str, Any] = await _run(request, runtime, principal, command, response)
    return result


@router.put("/einvoice/email", status_code=status.HTTP_202_ACCEPTED)
async def change_einvoice_email(
    body: EmailIn, request: Request, response: Response, runtime: Runtime, principal: ProfileEditor
) -> dict[str, Any]:
    """Sends a confirmation link to the new address; the address changes only when it is confirmed."""
    now = runtime.clock()
    link = await prepare_confirmation(runtime, principal.client_id, body.email, now)
    command = RequestEmailChange(principal.client_id, body.email, principal.actor, now, link)
    result: dict[str, Any] = await _run(request, runtime, principal, command, response)
    return result


@router.post("/einvoice/confirmations")
async def confirm_einvoice_email(body: ConfirmationIn, request: Request, runtime: Runtime) -> dict[str, Any]:
    """The link from the e-mail (no login needed: the token is the proof); works once, until it expires."""
    client_id = client_of(body.token)
    if client_id is None:
        raise NotFound("confirmation_link_invalid", "no such confirmation link")
    command = Confirm(client_id, token_hash(body.token), runtime.clock())
    context = event_context(request, actor="einvoice-confirmation-link", client_id=client_id)
    decision = await runtime.commands.handle(einvoice, client_id, command, context)
    return {"consent": decision.state.consent, "email": decision.state.email}
