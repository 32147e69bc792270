"""A request ("wniosek"): filed by a client's person, moved by the back office through its statuses. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from libs.events import Aggregate, Conflict, Document, DomainEvent, Invalid, NotFound
from libs.events.access import Principal
from libs.events.schemas.profile import RequestStatus, RequestStatusChanged, RequestSubmitted
from libs.events.sealed import SealedMessage

TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "submitted": frozenset({"in_progress", "rejected"}),
    "in_progress": frozenset({"completed", "rejected"}),
    "completed": frozenset(),
    "rejected": frozenset(),
}
"""submitted -> in_progress -> completed | rejected; a plainly unacceptable request may be rejected at once."""

STATUS_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "submitted": ("Złożony", "Submitted"),
    "in_progress": ("W realizacji", "In progress"),
    "completed": ("Zrealizowany", "Completed"),
    "rejected": ("Odrzucony", "Rejected"),
}


@dataclass(frozen=True)
class SubmitRequest:
    details: RequestSubmitted


@dataclass(frozen=True)
class ChangeRequestStatus:
    to_status: RequestStatus
    reason: str | None
    comment: str | None
    by: str
    at: datetime
    notification: SealedMessage | None


@dataclass(frozen=True)
class Request:
    submitted: RequestSubmitted | None = None
    status: RequestStatus | None = None


Command = SubmitRequest | ChangeRequestStatus


def _change(state: Request, command: ChangeRequestStatus) -> Sequence[DomainEvent]:
    if state.submitted is None or state.status is None:
        raise NotFound("request_not_found", "no such request")
    if command.to_status not in TRANSITIONS[state.status]:
        raise Conflict(
            "invalid_status_transition",
            f"a request that is {state.status} cannot become {command.to_status}",
            field="status",
        )
    if command.to_status == "rejected" and not command.reason:
        raise Invalid("reason_required", "a rejection needs a reason", field="reason")
    return [
        RequestStatusChanged(
            request_id=state.submitted.request_id,
            client_id=state.submitted.client_id,
            from_status=state.status,
            to_status=command.to_status,
            reason=command.reason,
            comment=command.comment,
            changed_by=command.by,
            changed_at=command.at,
            notification=command.notification,
            submitted_by=state.submitted.submitted_by,
        )
    ]


def decide(state: Request, command: Command) -> Sequence[DomainEvent]:
    match command:
        case SubmitRequest(details=details):
            if state.submitted is not None:
                raise Conflict("request_exists", f"request {details.request_id} exists already")
            return [details]
        case ChangeRequestStatus():
            return _change(state, command)
    raise TypeError(f"unknown command {command!r}")


def evolve(state: Request, event: DomainEvent) -> Request:
    match event:
        case RequestSubmitted():
            return Request(submitted=event, status="submitted")
        case RequestStatusChanged():
            return Request(submitted=state.submitted, status=event.to_status)
    return state


client_request = Aggregate[Request, Command](category="profile-request", initial=Request, decide=decide, evolve=evolve)


def may_see(principal: Principal, doc: Document) -> bool:
    """Within its client, a person sees the requests it filed and those on contracts it may see
    (all of them, unless it is limited to some contracts)."""
    if doc.get("client_id") != principal.client_id:
        return False
    if principal.contract_ids is None or doc.get("submitted_by") == principal.account_id:
        return True
    contract_ids = doc.get("contract_ids") or []
    return bool(contract_ids) and all(principal.may_see_contract(cid) for cid in contract_ids)


def visible(principal: Principal, doc: Document | None) -> Document:
    """The request if the principal may see it; 404 otherwise, as for an id that does not exist."""
    if doc is None or not may_see(principal, doc):
        raise NotFound("request_not_found", "no such request")
    return doc
