"""Events published by the contracts service (topic leasing.contracts.events)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr

from libs.events.envelope import DomainEvent
from libs.events.pii import Personal, Subject, contact_subject
from libs.events.registry import registry
from libs.events.schemas.common import Currency, Money


class Party(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    name: str
    nip: str


class ContactPerson(BaseModel):
    """A natural person (the client's is a company): `Personal`, sealed with a key derived from the
    address, which identity deletes when it erases the account logging in with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    data_subject: ClassVar[Subject] = Subject("email", derive=contact_subject)

    first_name: Annotated[str, Personal]
    last_name: Annotated[str, Personal]
    email: Annotated[EmailStr, Personal]
    phone: Annotated[str, Personal]
    """E.164, e.g. +48601234567."""


class LeasedAsset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    make: str
    model: str
    vin: str | None = None
    registration_number: str | None = None
    year: int | None = None


@registry.register
class ContractRegistered(DomainEvent):
    event_type = "ContractRegistered"
    schema_version = 1

    contract_id: str
    contract_number: str
    client: Party
    contract_type: Literal["operating", "financial"]
    start_date: date
    end_date: date
    net_value: Money
    currency: Currency
    asset: LeasedAsset
    contact_persons: tuple[ContactPerson, ...] = ()


class Instalment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    due_date: date
    net: Money
    vat: Money
    gross: Money
    capital: Money
    """The capital part of the net amount."""
    interest: Money
    """The interest part of the net amount."""


@registry.register
class ScheduleAgreed(DomainEvent):
    """The repayment schedule of a contract, as agreed (the first one)."""

    event_type = "ScheduleAgreed"
    schema_version = 1

    contract_id: str
    client_id: str
    currency: Currency
    instalments: tuple[Instalment, ...]


@registry.register
class ScheduleChanged(DomainEvent):
    """A new schedule replacing the previous one (for example after a schedule-change request)."""

    event_type = "ScheduleChanged"
    schema_version = 1

    contract_id: str
    client_id: str
    currency: Currency
    instalments: tuple[Instalment, ...]
    reason: str


@registry.register
class ContractTerminated(DomainEvent):
    event_type = "ContractTerminated"
    schema_version = 1

    contract_id: str
    client_id: str
    terminated_on: date
    reason: Literal["completed", "early_termination", "cancelled", "assigned"]
