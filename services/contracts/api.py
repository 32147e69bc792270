"""HTTP API of the contracts service. Handlers stay short: validate, run a command or read a model."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from libs.events import NotFound
from libs.events.projection import public
from libs.events.schemas.common import Currency, Money
from libs.events.schemas.contracts import ContactPerson, ContractRegistered, LeasedAsset, Party
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime, event_context
from libs.events.validators import Nip, PhoneNumber
from services.contracts.domain import RegisterContract, contract, contract_id_for
from services.contracts.projections import CONTRACTS

Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientIn(_Input):
    client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: Text
    nip: Nip


class ContactPersonIn(_Input):
    first_name: Text
    last_name: Text
    email: EmailStr
    phone: PhoneNumber


class AssetIn(_Input):
    kind: Text
    make: Text
    model: Text
    vin: Annotated[str, Field(min_length=17, max_length=17)] | None = None
    registration_number: Annotated[str, Field(min_length=2, max_length=12)] | None = None
    year: Annotated[int, Field(ge=1950, le=2100)] | None = None


class RegisterContractIn(_Input):
    contract_number: Annotated[str, Field(min_length=1, max_length=64)]
    client: ClientIn
    contract_type: Literal["operating", "financial"]
    start_date: date
    end_date: date
    net_value: Money
    currency: Currency = "PLN"
    asset: AssetIn
    contact_persons: Annotated[list[ContactPersonIn], Field(max_length=20)] = []


class Registered(BaseModel):
    contract_id: str
    stream_version: int


backoffice = APIRouter(prefix="/backoffice", tags=["back office"])


@backoffice.post("/contracts", status_code=status.HTTP_201_CREATED)
async def register_contract(
    body: RegisterContractIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Registered:
    contract_id = contract_id_for(body.contract_number)
    details = ContractRegistered(
        contract_id=contract_id,
        contract_number=body.contract_number,
        client=Party(**body.client.model_dump()),
        contract_type=body.contract_type,
        start_date=body.start_date,
        end_date=body.end_date,
        net_value=body.net_value,
        currency=body.currency,
        asset=LeasedAsset(**body.asset.model_dump()),
        contact_persons=tuple(ContactPerson(**person.model_dump()) for person in body.contact_persons),
    )
    context = event_context(request, actor=actor, client_id=body.client.client_id)
    decision = await runtime.commands.handle(
        contract, contract_id, RegisterContract(details), context, idempotency_key=idempotency_key
    )
    assert decision.result is not None
    return Registered(contract_id=contract_id, stream_version=decision.result.stream_version)


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
