"""Mój profil: the client's contact data, the logged-in person's data and additional contact data."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import AfterValidator, EmailStr, Field, ValidationInfo, field_validator

from libs.events import Document
from libs.events.access import Principal
from libs.events.projection import public
from libs.events.schemas.profile import CompanyContact, PersonContact
from libs.events.service.deps import Runtime, event_context
from libs.events.validators import PhoneNumber
from services.profile.api.common import Input, ProfileEditor, ProfileReader
from services.profile.api.einvoice import einvoice_view
from services.profile.domain.contact import (
    ChangeCompanyContact,
    ChangePersonContact,
    company_contact,
    person_contact,
    person_key,
)
from services.profile.domain.postal import check_postal_code, is_country
from services.profile.projections import COMPANIES, EINVOICE, PERSON_CONTACTS, PERSONS

router = APIRouter(tags=["profile"])


def _country(value: str) -> str:
    code = value.upper()
    if not is_country(code):
        raise ValueError("invalid country: expected an ISO 3166-1 alpha-2 code, e.g. PL")
    return code


Country = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)]


def text(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length)


class AddressIn(Input):
    country: Country = "PL"
    street: Annotated[str, text(120)]
    building: Annotated[str, text(16)]
    apartment: Annotated[str, text(16)] | None = None
    postal_code: Annotated[str, text(10)]
    city: Annotated[str, text(80)]

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        return check_postal_code(country, value) if country else value


class CompanyContactIn(Input):
    """The whole editable contact data: a field left out is cleared."""

    correspondence_address: AddressIn | None = None
    phone: PhoneNumber | None = None
    email: EmailStr | None = None


class PersonContactIn(Input):
    position: Annotated[str, text(120)] | None = None
    department: Annotated[str, text(120)] | None = None
    work_phone: PhoneNumber | None = None
    work_email: EmailStr | None = None


LOGIN_CONTACT = {
    "editable_here": False,
    "managed_by": "identity",
    "note": {
        "pl": "Zmiana e-maila logowania lub telefonu do kodów SMS wymaga podania hasła i potwierdzenia.",
        "en": "Changing the login e-mail or the phone for SMS codes needs the password and a confirmation.",
    },
}


def company_view(principal: Principal, doc: Document | None) -> dict[str, Any]:
    view: dict[str, Any] = (
        public(doc) if doc else {"client_id": principal.client_id, "name": None, "nip": None, "contact": None}
    )
    view.pop("contact_history", None)
    persons: list[dict[str, Any]] = view.get("contact_persons", [])
    if principal.contract_ids is not None:  # limited to some contracts: no contract numbers of the others
        persons = [{k: v for k, v in person.items() if k != "contracts"} for person in persons]
    return {**view, "contact_persons": persons}


def person_view(principal: Principal, person: Document | None, contact: Document | None) -> dict[str, Any]:
    data = public(person) if person else {"account_id": principal.account_id}
    extra = public(contact) if contact else {}
    return {
        **data,
        "login_contact": LOGIN_CONTACT,
        "contact": extra.get("contact") or PersonContact().model_dump(mode="json"),
        "contact_changed_by": extra.get("changed_by"),
        "contact_changed_at": extra.get("changed_at"),
    }


@router.get("/me")
async def my_profile(runtime: Runtime, principal: ProfileReader) -> dict[str, Any]:
    """The "Mój profil" screen: company contact data, the person's data and contacts, the e-invoice service."""
    docs = runtime.documents
    company, person, contact, einvoice = await asyncio.gather(
        docs.get(COMPANIES, principal.client_id),
        docs.get(PERSONS, principal.account_id),
        docs.get(PERSON_CONTACTS, person_key(principal.client_id, principal.account_id)),
        docs.get(EINVOICE, principal.client_id),
    )
    return {
        "client": company_view(principal, company),
        "person": person_view(principal, person, contact),
        "einvoice": einvoice_view(principal.client_id, einvoice, runtime.clock()),
        "may_edit": "profile:edit" in principal.scopes,
    }


@router.put("/company/contact")
async def change_company_contact(
    body: CompanyContactIn, request: Request, runtime: Runtime, principal: ProfileEditor
) -> dict[str, Any]:
    command = ChangeCompanyContact(
        principal.client_id, CompanyContact.model_validate(body.model_dump()), principal.actor, runtime.clock()
    )
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    decision = await runtime.commands.handle(company_contact, principal.client_id, command, context)
    changed = [field for event in decision.events for field in getattr(event, "changed_fields", ())]
    return {"contact": decision.state.contact.model_dump(mode="json"), "changed_fields": changed}


@router.put("/me/contact")
async def change_my_contact(
    body: PersonContactIn, request: Request, runtime: Runtime, principal: ProfileEditor
) -> dict[str, Any]:
    key = person_key(principal.client_id, principal.account_id)
    command = ChangePersonContact(
        principal.client_id,
        principal.account_id,
        PersonContact.model_validate(body.model_dump()),
        principal.actor,
        runtime.clock(),
    )
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    decision = await runtime.commands.handle(person_contact, key, command, context)
    changed = [field for event in decision.events for field in getattr(event, "changed_fields", ())]
    return {"contact": decision.state.contact.model_dump(mode="json"), "changed_fields": changed}
