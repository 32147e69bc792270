"""Back-office endpoints (the leasing company's credential, never a client's) and the dev-mode seeder hook."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, Query, Request, status

from libs.events import NotFound
from libs.events.access import ALL_SCOPES
from libs.events.envelope import EventContext
from libs.events.projection import public
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from services.identity.context import identity_of
from services.identity.domain import Person, Provision, SetPasswordForDemo, account
from services.identity.emails import account_for_provisioning, login_account
from services.identity.erasure import erase_person
from services.identity.inputs import DemoActivateIn, Email, ProvisionIn
from services.identity.passwords import check_policy
from services.identity.projections import ACCOUNTS, GRANTS

log = structlog.get_logger(__name__)

backoffice = APIRouter(prefix="/backoffice", tags=["back office"])
dev = APIRouter(prefix="/backoffice/dev", tags=["dev"])


@backoffice.post("/accounts", status_code=status.HTTP_201_CREATED)
async def provision(
    body: ProvisionIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """Provisions a person for a client (all scopes unless given); the person then activates."""
    context = event_context(request, actor=actor, client_id=body.client_id)
    account_id = await account_for_provisioning(runtime, body.email, context)
    command = Provision(
        account_id=account_id,
        person=Person(body.first_name, body.last_name, body.email, body.phone),
        client_id=body.client_id,
        client_name=body.client_name,
        scopes=tuple(body.scopes) if body.scopes is not None else ALL_SCOPES,
        contract_ids=tuple(body.contract_ids) if body.contract_ids is not None else None,
        source="backoffice",
    )
    async with identity_of(runtime).locks.hold(account_id):
        decision = await runtime.commands.handle(account, account_id, command, context, idempotency_key=idempotency_key)
    return {"account_id": account_id, "status": decision.state.status, "client_id": body.client_id}


@backoffice.get("/accounts")
async def find_account(email: Annotated[Email, Query()], runtime: Runtime, _: BackOffice) -> dict[str, Any]:
    """An account by e-mail (read model), with the clients it may act for."""
    found = await runtime.documents.find(ACCOUNTS, {"email": email}, limit=1)
    if not found:
        raise NotFound("account_not_found", "no such account")
    doc = public(found[0])
    grants = await runtime.documents.find(GRANTS, {"account_id": doc["account_id"]}, sort=[("_id", 1)])
    return {**doc, "grants": [public(grant) for grant in grants]}


@backoffice.post("/accounts/{account_id}/erasure")
async def erase(account_id: UUID, runtime: Runtime, actor: BackOffice) -> dict[str, Any]:
    """Erases the person's personal data (GDPR Art. 17): its names, e-mails and phones read "[erased]"
    in every event, read models drop them, it never logs in again. Its clients' invoices and payments
    stay. Repeating it is harmless and finishes one a crash cut short; 404 `account_not_found` for an
    unknown account."""
    erasure = await erase_person(runtime, str(account_id), actor)
    return {"account_id": erasure.account_id, "status": "erased", "already_erased": erasure.already_erased}


async def activate_for_demo(runtime: ServiceRuntime, email: str, password: str, actor: str) -> str:
    """Activates a provisioned account with the given password (demo seeding only); its account id."""
    identity = identity_of(runtime)
    account_id, _ = await login_account(runtime, email)
    password_hash = await identity.passwords.hash(check_policy(password, email))
    async with identity.locks.hold(account_id):
        state, _ = await runtime.commands.load(account, account_id)
        if state.person is None:
            raise NotFound("account_not_found", "no such account (yet): wait for provisioning")
        context = EventContext(actor=actor)
        await runtime.commands.handle(account, account_id, SetPasswordForDemo(password_hash), context)
    log.info("demo_account_activated", account_id=account_id)
    return account_id


@dev.post("/activate")
async def demo_activate(body: DemoActivateIn, runtime: Runtime, actor: BackOffice) -> dict[str, str]:
    """Dev mode only (the route does not exist otherwise), back office only: for the demo seeder."""
    account_id = await activate_for_demo(runtime, body.email, body.password, actor)
    return {"account_id": account_id, "status": "active"}
