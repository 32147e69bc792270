"""Which account logs in with an address, now that a login e-mail can change.

The account id stays `uuid5(address it was provisioned with)`. The stream
`identity-login-email-<account_id_for(address)>` records who holds an address once it is in play:
reserved when an account is provisioned under it or confirms a change to it, released when the
holder moves away. No event: the account derived from the address (every account provisioned
before this stream existed). The stream's optimistic concurrency keeps two accounts from holding
one address: a provisioning and a confirmation racing for it append to the same stream, one loses.
Every lookup also checks the account's current e-mail, so a change half-written by a crash (the
reservation or release missing) never lets the old address log in.
"""

from __future__ import annotations

from libs.events.envelope import EventContext
from libs.events.service.runtime import ServiceRuntime
from services.identity.domain import (
    Account,
    LoginEmailTaken,
    ReleaseLoginEmail,
    ReserveLoginEmail,
    account,
    account_id_for,
    login_email,
    normalize_email,
)


def _holds(state: Account, email: str) -> bool:
    return state.person is not None and normalize_email(state.person.email) == email


async def login_account(runtime: ServiceRuntime, email: str) -> tuple[str, Account]:
    """The account that logs in with `email` and its state; an empty state (status "none") when none does.

    The id returned is always usable for the same hashing work (the derived id when nobody holds it).
    """
    email = normalize_email(email)
    key = account_id_for(email)
    reservation, _ = await runtime.commands.load(login_email, key)
    account_id = (reservation.holder or key) if reservation.recorded else key
    state, _ = await runtime.commands.load(account, account_id)
    if reservation.recorded and reservation.holder is None:
        return key, Account()
    return account_id, state if _holds(state, email) else Account()


async def natural_holder(runtime: ServiceRuntime, email: str) -> str | None:
    """The account derived from `email`, when it exists and still logs in with it."""
    email = normalize_email(email)
    key = account_id_for(email)
    state, _ = await runtime.commands.load(account, key)
    return key if _holds(state, email) else None


async def account_for_provisioning(runtime: ServiceRuntime, email: str, context: EventContext) -> str:
    """The account a grant for `email` goes to: the one logging in with it, or a new one (reserved first)."""
    email = normalize_email(email)
    key = account_id_for(email)
    for _ in range(3):
        reservation, _ = await runtime.commands.load(login_email, key)
        if reservation.recorded and reservation.holder is not None:
            return reservation.holder
        candidate = account_id_for(email, reservation.generation)
        if not reservation.recorded:
            existing, _ = await runtime.commands.load(account, key)
            if _holds(existing, email):
                return key  # provisioned before reservations existed
            if existing.person is not None:  # moved away, its release not (yet) written
                candidate = account_id_for(email, 1)
        try:
            await runtime.commands.handle(login_email, key, ReserveLoginEmail(email, candidate, None), context)
        except LoginEmailTaken:
            continue  # someone reserved it meanwhile: the next round finds the holder
        return candidate
    raise LoginEmailTaken("email_taken", "the address is being claimed concurrently; try again")


async def reserve_for_change(runtime: ServiceRuntime, email: str, account_id: str, context: EventContext) -> bool:
    """Reserves `email` for `account_id` (a confirmed change); False when another account holds it."""
    email = normalize_email(email)
    natural = await natural_holder(runtime, email)
    command = ReserveLoginEmail(email, account_id, natural if natural != account_id else None)
    try:
        await runtime.commands.handle(login_email, account_id_for(email), command, context)
    except LoginEmailTaken:
        return False
    return True


async def is_taken(runtime: ServiceRuntime, email: str, account_id: str) -> bool:
    """Whether another account logs in with `email` (checked again, atomically, at confirmation)."""
    holder, state = await login_account(runtime, email)
    if state.person is not None and holder != account_id:
        return True
    reservation, _ = await runtime.commands.load(login_email, account_id_for(email))
    return reservation.recorded and reservation.holder not in (None, account_id)


async def release(runtime: ServiceRuntime, email: str, account_id: str, context: EventContext) -> None:
    await runtime.commands.handle(login_email, account_id_for(email), ReleaseLoginEmail(email, account_id), context)
