"""HTTP API of the contracts service. Handlers stay short: validate, run a command or read a model.

- `/backoffice/...`: the leasing company's core system feeds contracts, schedules and terminations
  (back-office credential; an `Idempotency-Key` header makes a repeated call return the first answer).
- `/contracts/...`: the client zone ("Umowy", "Szczegóły umowy", "Harmonogram spłaty"), scoped to
  the active client and contracts of the caller's access token, with the `contracts:read` scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel

from libs.events import NotFound
from libs.events.access import Principal
from libs.events.projection import public
from libs.events.service.access import require_scope
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from services.contracts import queries
from services.contracts.domain import (
    AgreeSchedule,
    ChangeSchedule,
    Command,
    RegisterContract,
    TerminateContract,
    contract,
    contract_id_for,
)
from services.contracts.inputs import RegisterContractIn, ScheduleChangeIn, ScheduleIn, TerminationIn
from services.contracts.projections import CONTRACTS
from services.contracts.views import ContractDetails, ContractItem, ContractPage, Schedule

IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=128)]
Reader = Annotated[Principal, Depends(require_scope("contracts:read"))]


class Accepted(BaseModel):
    contract_id: str
    stream_version: int
    """The contract stream's version after the command: the same for a call repeated with its key."""


async def _run(
    request: Request,
    runtime: ServiceRuntime,
    actor: str,
    contract_id: str,
    command: Command,
    idempotency_key: str | None,
) -> Accepted:
    """Runs a command on a contract; its events carry the contract's client as their tenant."""
    if isinstance(command, RegisterContract):
        client_id: str | None = command.details.client.client_id
    else:
        state, _ = await runtime.commands.load(contract, contract_id)
        client_id = state.registered.client.client_id if state.registered else None
    context = event_context(request, actor=actor, client_id=client_id)
    decision = await runtime.commands.handle(contract, contract_id, command, context, idempotency_key)
    assert decision.result is not None  # every accepted contract command appends an event
    return Accepted(contract_id=contract_id, stream_version=decision.result.stream_version)


backoffice = APIRouter(prefix="/backoffice", tags=["back office"])


@backoffice.post("/contracts", status_code=status.HTTP_201_CREATED)
async def register_contract(
    body: RegisterContractIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Registers a contract (ContractRegistered); 409 if its number is already registered."""
    contract_id = contract_id_for(body.contract_number)
    command = RegisterContract(body.event(contract_id))
    return await _run(request, runtime, actor, contract_id, command, idempotency_key)


@backoffice.post("/contracts/{contract_id}/schedule", status_code=status.HTTP_201_CREATED)
async def agree_schedule(
    contract_id: str,
    body: ScheduleIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Agrees the repayment schedule (ScheduleAgreed); 409 if one is agreed already (PUT changes it)."""
    command = AgreeSchedule(body.agreed())
    return await _run(request, runtime, actor, contract_id, command, idempotency_key)


@backoffice.put("/contracts/{contract_id}/schedule")
async def change_schedule(
    contract_id: str,
    body: ScheduleChangeIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Replaces the agreed schedule with a new one, for a reason (ScheduleChanged)."""
    command = ChangeSchedule(body.agreed(), body.reason)
    return await _run(request, runtime, actor, contract_id, command, idempotency_key)


@backoffice.post("/contracts/{contract_id}/termination")
async def terminate_contract(
    contract_id: str,
    body: TerminationIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Ends the contract (ContractTerminated); its schedule can no longer change."""
    command = TerminateContract(body.terminated_on, body.reason)
    return await _run(request, runtime, actor, contract_id, command, idempotency_key)


@backoffice.get("/contracts")
async def list_contracts(
    runtime: Runtime,
    _: BackOffice,
    response: Response,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    filter_ = {"client_id": client_id} if client_id else {}
    total = await runtime.documents.count(CONTRACTS, filter_)
    docs = await runtime.documents.find(
        CONTRACTS, filter_, sort=[("start_date", -1), ("_id", 1)], limit=limit, skip=offset
    )
    response.headers["X-Total-Count"] = str(total)
    return [public(doc) for doc in docs]


@backoffice.get("/contracts/{contract_id}")
async def get_contract(contract_id: str, runtime: Runtime, _: BackOffice) -> dict[str, Any]:
    doc = await runtime.documents.get(CONTRACTS, contract_id)
    if doc is None:
        raise NotFound("contract_not_found", f"no contract {contract_id}")
    return public(doc)


client = APIRouter(prefix="/contracts", tags=["client zone"])


@client.get("")
async def my_contracts(
    query: Annotated[queries.ContractQuery, Query()], runtime: Runtime, principal: Reader
) -> ContractPage:
    """The active client's contracts ("Umowy"): filter, sort and page; `total` counts every page."""
    docs, total = await queries.contract_page(runtime.documents, principal, query)
    items = [ContractItem.model_validate(doc) for doc in docs]
    return ContractPage(items=items, total=total, limit=query.limit, offset=query.offset)


@client.get("/{contract_id}")
async def my_contract(contract_id: str, runtime: Runtime, principal: Reader) -> ContractDetails:
    """A contract with its leased asset and a summary of its schedule ("Szczegóły umowy")."""
    return ContractDetails.model_validate(await queries.owned_contract(runtime.documents, principal, contract_id))


@client.get("/{contract_id}/schedule")
async def my_schedule(contract_id: str, runtime: Runtime, principal: Reader) -> Schedule:
    """The current repayment schedule, instalment by instalment ("Harmonogram spłaty")."""
    return Schedule.model_validate(await queries.owned_schedule(runtime.documents, principal, contract_id))
