"""Contact data: the client's (company) and a person's additional data within a client. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from libs.events import Aggregate, DomainEvent
from libs.events.schemas.profile import CompanyContact, ContactDataChanged, PersonContact, PersonContactDataChanged


def changed_fields(before: BaseModel, after: BaseModel) -> tuple[str, ...]:
    return tuple(name for name in type(after).model_fields if getattr(before, name) != getattr(after, name))


def person_key(client_id: str, account_id: str) -> str:
    """A person's data is kept per client: the same person may act for several clients."""
    return f"{client_id}:{account_id}"


@dataclass(frozen=True)
class ChangeCompanyContact:
    client_id: str
    contact: CompanyContact
    by: str
    at: datetime


@dataclass(frozen=True)
class CompanyContactState:
    contact: CompanyContact = field(default_factory=CompanyContact)


def decide_company(state: CompanyContactState, command: ChangeCompanyContact) -> Sequence[DomainEvent]:
    fields = changed_fields(state.contact, command.contact)
    if not fields:
        return []
    return [
        ContactDataChanged(
            client_id=command.client_id,
            contact=command.contact,
            changed_fields=fields,
            changed_by=command.by,
            changed_at=command.at,
        )
    ]


def evolve_company(state: CompanyContactState, event: DomainEvent) -> CompanyContactState:
    if isinstance(event, ContactDataChanged):
        return CompanyContactState(event.contact)
    return state


company_contact = Aggregate[CompanyContactState, ChangeCompanyContact](
    category="profile-company", initial=CompanyContactState, decide=decide_company, evolve=evolve_company
)


@dataclass(frozen=True)
class ChangePersonContact:
    client_id: str
    account_id: str
    contact: PersonContact
    by: str
    at: datetime


@dataclass(frozen=True)
class PersonContactState:
    contact: PersonContact = field(default_factory=PersonContact)


def decide_person(state: PersonContactState, command: ChangePersonContact) -> Sequence[DomainEvent]:
    fields = changed_fields(state.contact, command.contact)
    if not fields:
        return []
    return [
        PersonContactDataChanged(
            client_id=command.client_id,
            account_id=command.account_id,
            contact=command.contact,
            changed_fields=fields,
            changed_by=command.by,
            changed_at=command.at,
        )
    ]


def evolve_person(state: PersonContactState, event: DomainEvent) -> PersonContactState:
    if isinstance(event, PersonContactDataChanged):
        return PersonContactState(event.contact)
    return state


person_contact = Aggregate[PersonContactState, ChangePersonContact](
    category="profile-person", initial=PersonContactState, decide=decide_person, evolve=evolve_person
)
