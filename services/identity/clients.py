"""Client context (who am I, for which clients may I act, switch) and sub-accounts.

Another client's objects, or a client not granted, answer 404 like ids that do not exist.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Request, Response, status

from libs.events import Invalid, NotFound
from libs.events.access import SCOPES, Principal
from libs.events.errors import Unauthenticated
from libs.events.sealed import NotificationRequest
from libs.events.service.access import Authenticated, require_scope
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from services.identity.context import IdentityDep
from services.identity.domain import (
    ChangeSubAccount,
    CreateSubAccount,
    DeactivateSubAccount,
    Manager,
    Person,
    SwitchClient,
    account,
    session,
)
from services.identity.emails import account_for_provisioning
from services.identity.inputs import ContextIn, SubAccountIn, SubAccountPatch
from services.identity.projections import ACCOUNTS, CLIENTS, GRANTS
from services.identity.sessions import TokenOut, token_answer

log = structlog.get_logger(__name__)

router = APIRouter(tags=["client context"])
Manages = Annotated[Principal, Depends(require_scope("subaccounts:manage"))]


@router.get("/scopes")
async def scopes() -> list[dict[str, str]]:
    """The permission catalogue, with Polish and English labels (for the sub-account form)."""
    return [{"scope": scope, "label_pl": pl, "label_en": en} for scope, (pl, en) in SCOPES.items()]


@router.get("/me")
async def me(principal: Authenticated, runtime: Runtime) -> dict[str, Any]:
    """The person, the active client with its scopes, and the clients the person may switch to."""
    person = await runtime.documents.get(ACCOUNTS, principal.account_id) or {}
    grants = await runtime.documents.find(GRANTS, {"account_id": principal.account_id}, sort=[("_id", 1)])
    clients = [{"client_id": g["client_id"], "name": g.get("client_name", "")} for g in grants if g.get("active")]
    active = next((c for c in clients if c["client_id"] == principal.client_id), {"client_id": principal.client_id})
    return {
        "account_id": principal.account_id,
        "email": person.get("email"),
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "phone": person.get("phone"),
        "client": active,
        "scopes": sorted(principal.scopes),
        "contract_ids": sorted(principal.contract_ids) if principal.contract_ids is not None else None,
        "clients": clients,
    }


@router.post("/context")
async def switch_client(
    body: ContextIn,
    principal: Authenticated,
    request: Request,
    response: Response,
    runtime: Runtime,
    identity: IdentityDep,
) -> TokenOut:
    """A new access token for another client the person was granted (404 for any other)."""
    now = runtime.clock()
    async with identity.locks.hold(principal.account_id):
        state, _ = await runtime.commands.load(account, principal.account_id)
        grant = state.grant(body.client_id)
        origin = state.sessions.get(principal.session_id)
        if grant is None:
            raise NotFound("client_not_found", "no such client")
        if origin is None:
            raise Unauthenticated("session_ended", "the session has ended; log in again")
        context = event_context(request, actor=principal.actor, client_id=grant.client_id)
        command = SwitchClient(now, principal.account_id, origin, grant.client_id)
        await runtime.commands.handle(session, principal.session_id, command, context)
    return await token_answer(identity, response, principal.account_id, principal.session_id, grant, None, False)


def _manager(principal: Principal) -> Manager:
    return Manager(principal.account_id, principal.client_id, principal.scopes, principal.contract_ids)


async def _check_contracts(runtime: ServiceRuntime, client_id: str, contract_ids: list[str] | None) -> None:
    if contract_ids is None:
        return
    known = set((await runtime.documents.get(CLIENTS, client_id) or {}).get("contract_ids", []))
    unknown = sorted(set(contract_ids) - known)
    if unknown:
        raise Invalid("contract_not_found", f"no such contracts of the client: {unknown}", field="contract_ids")


@router.post("/subaccounts", status_code=status.HTTP_201_CREATED)
async def create_subaccount(
    body: SubAccountIn, principal: Manages, request: Request, runtime: Runtime, identity: IdentityDep
) -> dict[str, Any]:
    """A sub-account within the active client, with at most the scopes (and contracts) the creator holds."""
    await _check_contracts(runtime, principal.client_id, body.contract_ids)
    creator, _ = await runtime.commands.load(account, principal.account_id)
    grant = creator.grant(principal.client_id)
    if grant is None or creator.person is None:
        raise Unauthenticated("access_revoked", "access to this client was withdrawn")
    contract_ids = tuple(body.contract_ids) if body.contract_ids is not None else None
    _manager(principal).may_grant(body.scopes, contract_ids)  # refused before the address is reserved
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    account_id = await account_for_provisioning(runtime, body.email, context)
    params = {
        "first_name": body.first_name,
        "client_name": grant.client_name,
        "invited_by": f"{creator.person.first_name} {creator.person.last_name}",
        "activation_url": f"{identity.settings.public_url.rstrip('/')}/aktywacja",
    }
    invitation = identity.seal(
        NotificationRequest(channel="email", to=body.email, template="subaccount_invitation", params=params)
    )
    contract_ids = tuple(body.contract_ids) if body.contract_ids is not None else None
    command = CreateSubAccount(
        account_id=account_id,
        person=Person(body.first_name, body.last_name, body.email, body.phone),
        client_name=grant.client_name,
        scopes=tuple(body.scopes),
        contract_ids=contract_ids,
        manager=_manager(principal),
        invitation=invitation,
    )
    async with identity.locks.hold(account_id):
        await runtime.commands.handle(account, account_id, command, context)
    log.info("subaccount_created", account_id=account_id, client_id=principal.client_id)
    return {
        "account_id": account_id,
        "client_id": principal.client_id,
        "scopes": body.scopes,
        "contract_ids": contract_ids,
    }


@router.get("/subaccounts")
async def list_subaccounts(principal: Manages, runtime: Runtime) -> list[dict[str, Any]]:
    """The active client's sub-accounts (read model)."""
    found = await runtime.documents.find(GRANTS, {"client_id": principal.client_id, "subaccount": True})
    people = await runtime.documents.get_many(ACCOUNTS, [grant["account_id"] for grant in found])
    result = []
    for grant in found:
        person = people.get(grant["account_id"], {})
        result.append(
            {
                "account_id": grant["account_id"],
                "first_name": person.get("first_name"),
                "last_name": person.get("last_name"),
                "email": person.get("email"),
                "phone": person.get("phone"),
                "account_status": person.get("status"),
                "active": grant.get("active", False),
                "scopes": grant.get("scopes", []),
                "contract_ids": grant.get("contract_ids"),
                "created_by": grant.get("created_by"),
                "created_at": grant.get("created_at"),
            }
        )
    return sorted(result, key=lambda item: (item["last_name"] or "", item["first_name"] or "", item["account_id"]))


def _account_id(raw: str) -> str:
    try:
        return str(UUID(raw))
    except ValueError:
        raise NotFound("subaccount_not_found", "no such sub-account") from None


@router.patch("/subaccounts/{account_id}")
async def change_subaccount(
    account_id: str,
    body: SubAccountPatch,
    principal: Manages,
    request: Request,
    runtime: Runtime,
    identity: IdentityDep,
) -> dict[str, Any]:
    """New scopes and/or contract limits (left out: unchanged); in force on the next request everywhere."""
    target_id = _account_id(account_id)
    if "contract_ids" in body.model_fields_set:
        await _check_contracts(runtime, principal.client_id, body.contract_ids)
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    async with identity.locks.hold(target_id):
        target, _ = await runtime.commands.load(account, target_id)
        grant = target.grant(principal.client_id)
        if grant is None:
            raise NotFound("subaccount_not_found", "no such sub-account")
        scopes = tuple(body.scopes) if body.scopes is not None else grant.scopes
        contract_ids = grant.contract_ids
        if "contract_ids" in body.model_fields_set:
            contract_ids = tuple(body.contract_ids) if body.contract_ids is not None else None
        command = ChangeSubAccount(scopes, contract_ids, _manager(principal))
        await runtime.commands.handle(account, target_id, command, context)
    log.info("subaccount_changed", account_id=target_id, client_id=principal.client_id)
    return {"account_id": target_id, "scopes": list(scopes), "contract_ids": contract_ids}


@router.post("/subaccounts/{account_id}/deactivate", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_subaccount(
    account_id: str, principal: Manages, request: Request, runtime: Runtime, identity: IdentityDep
) -> None:
    """Withdraws the client; with no other client left, the account is deactivated and its sessions end."""
    target_id = _account_id(account_id)
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    async with identity.locks.hold(target_id):
        command = DeactivateSubAccount(runtime.clock(), _manager(principal))
        await runtime.commands.handle(account, target_id, command, context)
    log.info("subaccount_deactivated", account_id=target_id, client_id=principal.client_id)
