"""Read models of the profile service: pure folds over its own events, contracts' and identity's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.pii import contact_subject, is_erased
from libs.events.schemas.contracts import ContractRegistered
from libs.events.schemas.identity import AccountProvisioned, LoginEmailChanged, PersonErased, PhoneChanged
from libs.events.schemas.profile import (
    ContactDataChanged,
    EInvoiceConfirmationRequested,
    EInvoiceConsentGiven,
    EInvoiceConsentWithdrawn,
    EInvoiceEmailChanged,
    PersonContactDataChanged,
    RequestStatusChanged,
    RequestSubmitted,
)
from services.profile.domain.catalogue import CATALOGUE
from services.profile.domain.contact import person_key

HISTORY_KEPT = 50

CONTRACTS = Collection("contracts", (Index.on("client_id"),))
COMPANIES = Collection("companies")
PERSONS = Collection("persons")
PERSON_CONTACTS = Collection("person_contacts", (Index.on("client_id"),))
EINVOICE = Collection("einvoice")
REQUESTS = Collection("requests", (Index.on("client_id"), Index.on("submitted_at"), Index.on("status")))


def _keep(history: list[Any], item: Any) -> list[Any]:
    return [*history, item][-HISTORY_KEPT:]


# --- contracts the profile service knows of: to check the contracts a request names -----------------


def _fold_contract(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    assert isinstance(event, ContractRegistered)
    return {
        "contract_id": event.contract_id,
        "client_id": event.client.client_id,
        "contract_number": event.contract_number,
        "asset": f"{event.asset.make} {event.asset.model}",
        "registration_number": event.asset.registration_number,
    }


contracts = Projection(
    name="profile_contracts",
    collection=CONTRACTS,
    sources=("contracts",),
    handles=frozenset({ContractRegistered.event_type}),
    keys=lambda event, _: [event.contract_id] if isinstance(event, ContractRegistered) else [],
    fold=_fold_contract,
)


# --- the company: name and NIP from its contracts, contact data edited here ----------------------


def _company_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case ContractRegistered():
            return [event.client.client_id]
        case ContactDataChanged():
            return [event.client_id]
        case PersonErased():
            return list(event.client_ids)
    return []


def _contact_persons(doc: Document, event: ContractRegistered) -> list[Document]:
    persons = {person["email"].casefold(): person for person in doc.get("contact_persons", [])}
    for person in event.contact_persons:
        if is_erased(person.email):
            continue
        known = persons.get(person.email.casefold(), {"contracts": []})
        persons[person.email.casefold()] = {
            **person.model_dump(mode="json"),
            "contracts": sorted({*known["contracts"], event.contract_number}),
        }
    return list(persons.values())


def _fold_company(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    doc = doc or {"contact": None, "contact_history": []}
    match event:
        case ContractRegistered():
            return {
                **doc,
                "client_id": event.client.client_id,
                "name": event.client.name,
                "nip": event.client.nip,
                "contact_persons": _contact_persons(doc, event),
            }
        case ContactDataChanged():
            change = {"fields": list(event.changed_fields), "by": event.changed_by, "at": event.changed_at.isoformat()}
            return {
                **doc,
                "client_id": event.client_id,
                "contact": event.contact.model_dump(mode="json"),
                "contact_changed_by": event.changed_by,
                "contact_changed_at": event.changed_at.isoformat(),
                "contact_history": _keep(doc.get("contact_history", []), change),
            }
        case PersonErased():
            erased = set(event.contact_subjects)
            persons = doc.get("contact_persons", [])
            return {**doc, "contact_persons": [p for p in persons if contact_subject(p["email"]) not in erased]}
    return doc


companies = Projection(
    name="companies",
    collection=COMPANIES,
    sources=("contracts", "profile", "identity"),
    handles=frozenset({ContractRegistered.event_type, ContactDataChanged.event_type, PersonErased.event_type}),
    keys=_company_keys,
    fold=_fold_company,
)


# --- persons: as identity provisioned them (login e-mail, phone: as last confirmed); their additional data per client

PERSON_EVENTS = (AccountProvisioned, LoginEmailChanged, PhoneChanged, PersonErased)


def _fold_person(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case AccountProvisioned():
            return {
                "account_id": event.account_id,
                "first_name": event.first_name,
                "last_name": event.last_name,
                "email": event.email,
                "phone": event.phone,
            }
        case LoginEmailChanged():
            return {**(doc or {}), "account_id": event.account_id, "email": event.new_email}
        case PhoneChanged():
            return {**(doc or {}), "account_id": event.account_id, "phone": event.new_phone}
        case PersonErased():
            return {"account_id": event.account_id, "erased": True}
    raise TypeError(f"not a person event: {event!r}")


persons = Projection(
    name="persons",
    collection=PERSONS,
    sources=("identity",),
    handles=frozenset(cls.event_type for cls in PERSON_EVENTS),
    keys=lambda event, _: [event.account_id] if isinstance(event, PERSON_EVENTS) else [],
    fold=_fold_person,
)


def _fold_person_contact(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case PersonErased():
            return {"account_id": event.account_id, "erased": True}
        case PersonContactDataChanged() if doc is not None and doc.get("erased"):
            return doc  # identity's erasure was folded first: the data reads "[erased]" anyway
        case PersonContactDataChanged():
            return {
                "client_id": event.client_id,
                "account_id": event.account_id,
                "contact": event.contact.model_dump(mode="json"),
                "changed_by": event.changed_by,
                "changed_at": event.changed_at.isoformat(),
            }
    raise TypeError(f"not a person contact event: {event!r}")


def _person_contact_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case PersonContactDataChanged():
            return [person_key(event.client_id, event.account_id)]
        case PersonErased():
            return [person_key(client_id, event.account_id) for client_id in event.client_ids]
    return []


person_contacts = Projection(
    name="person_contacts",
    collection=PERSON_CONTACTS,
    sources=("profile", "identity"),
    handles=frozenset({PersonContactDataChanged.event_type, PersonErased.event_type}),
    keys=_person_contact_keys,
    fold=_fold_person_contact,
)


# --- e-invoice: consent, address, the pending confirmation, with who and when -------------------

EINVOICE_EVENTS = (EInvoiceConfirmationRequested, EInvoiceConsentGiven, EInvoiceConsentWithdrawn, EInvoiceEmailChanged)


def _einvoice_step(event: DomainEvent) -> tuple[dict[str, Any], Document]:
    """What the event changes in the document, and the history entry it adds."""
    match event:
        case EInvoiceConfirmationRequested():
            pending = {
                "purpose": event.purpose,
                "email": event.email,
                "requested_by": event.requested_by,
                "requested_at": event.requested_at.isoformat(),
                "expires_at": event.expires_at.isoformat(),
            }
            return {"pending": pending}, {"event": "confirmation_sent", "email": event.email, **_by_at(pending)}
        case EInvoiceConsentGiven():
            given = {"by": event.given_by, "at": event.given_at.isoformat()}
            changes = {"consent": True, "email": event.email, "consent_given": given, "pending": None}
            return changes, {"event": "consent_given", "email": event.email, **given}
        case EInvoiceConsentWithdrawn():
            withdrawn = {"by": event.withdrawn_by, "at": event.withdrawn_at.isoformat(), "reason": event.reason}
            changes = {"consent": False, "consent_withdrawn": withdrawn, "pending": None}
            return changes, {"event": "consent_withdrawn", "email": event.email, **withdrawn}
        case EInvoiceEmailChanged():
            changed = {"by": event.requested_by, "at": event.changed_at.isoformat()}
            changes = {"email": event.email, "email_changed": changed, "pending": None}
            return changes, {"event": "email_changed", "email": event.email, **changed}
    raise TypeError(f"not an e-invoice event: {event!r}")


def _by_at(pending: Document) -> Document:
    return {"by": pending["requested_by"], "at": pending["requested_at"]}


def _fold_einvoice(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    doc = doc or {"consent": False, "email": None, "pending": None, "history": []}
    assert isinstance(event, EINVOICE_EVENTS)
    changes, entry = _einvoice_step(event)
    return {**doc, **changes, "client_id": event.client_id, "history": _keep(doc.get("history", []), entry)}


einvoice = Projection(
    name="einvoice",
    collection=EINVOICE,
    sources=("profile",),
    handles=frozenset(cls.event_type for cls in EINVOICE_EVENTS),
    keys=lambda event, _: [event.client_id] if isinstance(event, EINVOICE_EVENTS) else [],
    fold=_fold_einvoice,
)


# --- requests and their status history ------------------------------------------------------------


def _submitted(event: RequestSubmitted) -> Document:
    request_type = CATALOGUE.get(event.request_type)
    title = {"pl": request_type.title_pl, "en": request_type.title_en} if request_type else None
    at = event.submitted_at.isoformat()
    return {
        "request_id": event.request_id,
        "reference": event.request_id[:8].upper(),
        "client_id": event.client_id,
        "request_type": event.request_type,
        "title": title,
        "form_version": event.form_version,
        "form": event.form,
        "contract_ids": list(event.contract_ids),
        "attachments": [
            {
                "index": index,
                "filename": attachment.filename,
                "size": attachment.file.size,
                "content_type": attachment.file.content_type,
                "sha256": attachment.file.sha256,
                "key": attachment.file.key,
            }
            for index, attachment in enumerate(event.attachments)
        ],
        "status": "submitted",
        "submitted_by": event.submitted_by,
        "submitted_at": at,
        "updated_at": at,
        "history": [{"status": "submitted", "at": at, "by": f"account:{event.submitted_by}"}],
    }


def _fold_request(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case RequestSubmitted():
            return _submitted(event)
        case RequestStatusChanged():
            doc = doc or {"request_id": event.request_id, "client_id": event.client_id, "history": []}
            entry = {
                "status": event.to_status,
                "at": event.changed_at.isoformat(),
                "by": event.changed_by,
                "reason": event.reason,
                "comment": event.comment,
            }
            history = [*doc.get("history", []), entry]
            return {**doc, "status": event.to_status, "updated_at": entry["at"], "history": history}
    return doc or {}


requests = Projection(
    name="requests",
    collection=REQUESTS,
    sources=("profile",),
    handles=frozenset({RequestSubmitted.event_type, RequestStatusChanged.event_type}),
    keys=lambda event, _: [event.request_id] if isinstance(event, RequestSubmitted | RequestStatusChanged) else [],
    fold=_fold_request,
)

PROJECTIONS: Iterable[Projection] = (contracts, companies, persons, person_contacts, einvoice, requests)
