"""Erasure of a person (GDPR Art. 17), for the back office and the ops CLI.

Crypto-shredding (libs/events/pii.py): the person's names, e-mails and phones are sealed in every event
with keys kept in the key vault, apart from the events. Erasing the person

1. releases its login e-mail, so a later contract naming the address provisions a new account;
2. records PersonErasureStarted: the contact subjects of every address it had (their keys go too), while
   the addresses can still be read; the account refuses everything but its erasure from now on;
3. deletes its keys: the account's for good (nothing new is ever sealed for it again) and the
   contact-person keys of every address it had (an address may come back, as another person);
4. records PersonErased (with its sessions and client access revoked): every read model holding the
   person's data drops it as it folds that event. It holds no personal data.

So wherever a crash stops it, PersonErased is never recorded over data still readable. Its clients'
invoices, payments and contracts stay readable: they hold no personal data of it. Repeating an erasure
is harmless and finishes one a crash cut short: the recorded steps are skipped, the keys deleted again,
the rest follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from libs.events import NotFound
from libs.events.envelope import EventContext
from libs.events.service.runtime import ServiceRuntime
from services.identity.context import identity_of
from services.identity.domain import BeginErasure, ErasePerson, account
from services.identity.emails import release

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Erasure:
    account_id: str
    already_erased: bool
    """Erased before this call (which then only deleted the keys again)."""
    keys_deleted: int


async def erase_person(runtime: ServiceRuntime, account_id: str, actor: str) -> Erasure:
    """Erases the person of `account_id`; NotFound for an account that does not exist."""
    vault = runtime.vault
    if vault is None:
        raise RuntimeError("identity runs without a key vault: personal data cannot be erased")
    context = EventContext(actor=actor)
    async with identity_of(runtime).locks.hold(account_id):
        state, _ = await runtime.commands.load(account, account_id)
        if state.person is None:
            raise NotFound("account_not_found", "no such account")
        already_erased = state.erased is not None
        if state.erasure_started is None and state.erased is None:
            await release(runtime, state.person.email, account_id, context)
            begun = await runtime.commands.handle(account, account_id, BeginErasure(runtime.clock(), actor), context)
            state = begun.state
        recorded = state.erased or state.erasure_started
        assert recorded is not None
        deleted = [await vault.erase(account_id)]
        deleted.extend([await vault.delete(subject) for subject in recorded.contact_subjects])
        if not already_erased:
            await runtime.commands.handle(account, account_id, ErasePerson(runtime.clock(), actor), context)
    log.info("person_erased", account_id=account_id, already_erased=already_erased, keys_deleted=sum(deleted))
    return Erasure(account_id, already_erased, sum(deleted))
