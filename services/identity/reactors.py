"""Provisioning: every contact person of a registered contract may act for the contract's client.

Idempotent: the events' ids derive from the causing event's id and the person's index, so a
redelivered ContractRegistered appends nothing. A contact person since erased (its data reads
"[erased]") is not provisioned again.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from libs.events import DomainEvent, Reactor, RecordedEvent
from libs.events.access import ALL_SCOPES
from libs.events.pii import is_erased
from libs.events.schemas.contracts import ContractRegistered
from libs.events.service.runtime import ServiceRuntime
from services.identity.context import identity_of
from services.identity.domain import Person, Provision, account
from services.identity.emails import account_for_provisioning

log = structlog.get_logger(__name__)


def provisioning(runtime: ServiceRuntime) -> Reactor:
    async def react(event: DomainEvent, recorded: RecordedEvent) -> None:
        if not isinstance(event, ContractRegistered):
            return
        locks = identity_of(runtime).locks
        context = recorded.context().model_copy(update={"client_id": event.client.client_id})
        for index, contact in enumerate(event.contact_persons):
            if is_erased(contact.email):
                continue
            account_id = await account_for_provisioning(runtime, str(contact.email), context)
            command = Provision(
                account_id=account_id,
                person=Person(contact.first_name, contact.last_name, str(contact.email), contact.phone),
                client_id=event.client.client_id,
                client_name=event.client.name,
                scopes=ALL_SCOPES,
                contract_ids=None,
                source=f"contract:{event.contract_id}",
            )
            async with locks.hold(account_id):
                decision = await runtime.commands.handle(
                    account, account_id, command, context, idempotency_key=f"{recorded.event_id}:{index}"
                )
            if decision.events:
                log.info("account_provisioned", account_id=account_id, client_id=event.client.client_id)

    return Reactor(
        name="provisioning",
        sources=("contracts",),
        handles=frozenset({ContractRegistered.event_type}),
        react=react,
    )


def reactors(runtime: ServiceRuntime) -> Sequence[Reactor]:
    return [provisioning(runtime)]
