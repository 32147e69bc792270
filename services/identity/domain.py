"""Identity's aggregates: pure decide/evolve. No I/O, no clock, no randomness.

The clock (`now`) comes in through the commands, as do the hashes of the codes, tokens and passwords
the handler generated or computed: only hashes ever reach an event. Two aggregates:

- the account (`identity-account-<id>`, one per e-mail address): who the person is, which clients it
  may act for and with which scopes, activation (code, link, password), failed logins, and the
  sessions it started (so a password change or a deactivation can end them all, consistently);
- the session (`identity-session-<id>`): the rotation of its refresh token and its active client.

An erased account (PersonErased, GDPR Art. 17), or one whose erasure began (PersonErasureStarted),
refuses every command but the erasure's: its events still fold, their personal fields reading
"[erased]" (libs/events/pii.py).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, uuid5

from libs.events import Aggregate, Conflict, DomainError, DomainEvent, Forbidden, NotFound
from libs.events.errors import Invalid, TooManyRequests, Unauthenticated
from libs.events.pii import contact_subject
from libs.events.schemas.identity import (
    AccountActivated,
    AccountDeactivated,
    AccountProvisioned,
    AccountReactivated,
    ActivationCodeIssued,
    ActivationCodeRejected,
    ActivationCodeVerified,
    ActivationLinkIssued,
    ClientAccessChanged,
    ClientAccessGranted,
    ClientAccessRevoked,
    ContactChangeNoticeIssued,
    LoginEmailChanged,
    LoginEmailChangeRequested,
    LoginEmailReleased,
    LoginEmailReserved,
    LoginFailed,
    PasswordChanged,
    PersonErased,
    PersonErasureStarted,
    PhoneChangeCodeRejected,
    PhoneChanged,
    PhoneChangeRequested,
    SessionClientSwitched,
    SessionRefreshed,
    SessionRevoked,
    SessionStarted,
    SubAccountCreated,
)
from libs.events.sealed import SealedMessage
from libs.events.warsaw import midnight_after, warsaw_date

MAX_CODE_FAILURES = 5


def normalize_email(email: str) -> str:
    """One account per address, whatever the case: addresses are compared lower-cased."""
    return email.strip().lower()


def account_id_for(email: str, generation: int = 0) -> str:
    """The account of an address: derived from it, so provisioning the same address twice, from two
    contracts at once, lands on one stream (and the stream is found without a read model).

    `generation` > 0: an address released by an account that moved to another login e-mail and then
    provisioned again names a new account (see `login_email`)."""
    suffix = f"#{generation}" if generation else ""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:account:{normalize_email(email)}{suffix}"))


def code_expiry(now: datetime, lifetime_minutes: int | None) -> datetime:
    """Midnight (Warsaw) ending the day of issue, or sooner with a configured lifetime; never later,
    so the Warsaw day of `expires_at - 1 µs` is always the day the code was issued."""
    midnight = midnight_after(now, 0)
    if lifetime_minutes is None:
        return midnight
    return min(midnight, now + timedelta(minutes=lifetime_minutes))


def link_expiry(now: datetime) -> datetime:
    """Midnight (Warsaw) ending the day after the one the link was generated on."""
    return midnight_after(now, 1)


@dataclass(frozen=True)
class Backoff:
    """Failed logins: `free` tries, then a lock of `base * 2**(n - free)` seconds, at most `cap`."""

    free: int = 5
    base_seconds: int = 1
    cap_seconds: int = 900

    def delay(self, failures: int) -> int:
        if failures < self.free:
            return 0
        return int(min(self.cap_seconds, self.base_seconds * 2 ** min(failures - self.free, 30)))

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        delay = self.delay(failures)
        return now + timedelta(seconds=delay) if delay else None


def retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


class ActivationRefused(DomainError):
    """One answer for an unknown address, a wrong, expired, used or dead code or link."""

    status = 400


def _same(a: str, b: str | None) -> bool:
    return b is not None and hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Grant:
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None
    active: bool = True
    created_by: str | None = None
    """The account that made this a sub-account grant; None for a client's main user."""


@dataclass(frozen=True)
class Code:
    hash: str
    expires_at: datetime
    failed: int = 0
    spent: bool = False


@dataclass(frozen=True)
class Link:
    hash: str
    expires_at: datetime
    spent: bool = False


@dataclass(frozen=True)
class PendingEmail:
    """A requested login e-mail change: the hash of its link's token."""

    new_email: str
    hash: str
    expires_at: datetime
    keep_session: str
    spent: bool = False


@dataclass(frozen=True)
class PendingPhone:
    """A requested phone change: the HMAC of its SMS code."""

    new_phone: str
    hash: str
    expires_at: datetime
    failed: int = 0
    spent: bool = False


@dataclass(frozen=True)
class SessionOrigin:
    """A session as its account knows it: started (with the first refresh token) and maybe revoked."""

    session_id: str
    client_id: str
    refresh_hash: str
    refresh_expires_at: datetime
    expires_at: datetime
    revoked: bool = False

    def live(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Account:
    account_id: str | None = None
    person: Person | None = None
    password_hash: str | None = None
    deactivated: bool = False
    grants: Mapping[str, Grant] = field(default_factory=dict)
    code: Code | None = None
    code_days: tuple[date, ...] = ()
    """The Warsaw day of every code issued (for the per-day limit)."""
    link: Link | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None
    sessions: Mapping[str, SessionOrigin] = field(default_factory=dict)
    pending_email: PendingEmail | None = None
    pending_phone: PendingPhone | None = None
    phone_code_days: tuple[date, ...] = ()
    addresses: tuple[str, ...] = ()
    """Every login e-mail it had (provisioned with, then confirmed changes): contracts may name any."""
    erasure_started: PersonErasureStarted | None = None
    erased: PersonErased | None = None

    @property
    def status(self) -> Literal["none", "provisioned", "active", "deactivated", "erased"]:
        if self.person is None:
            return "none"
        if self.erased is not None or self.erasure_started is not None:
            return "erased"
        if self.deactivated:
            return "deactivated"
        return "active" if self.password_hash is not None else "provisioned"

    def active_grants(self) -> list[Grant]:
        return [grant for grant in self.grants.values() if grant.active]

    def grant(self, client_id: str) -> Grant | None:
        grant = self.grants.get(client_id)
        return grant if grant is not None and grant.active else None

    def live_sessions(self, now: datetime) -> list[str]:
        return [session.session_id for session in self.sessions.values() if session.live(now)]


# ------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Provision:
    """A person who may act for a client: from a contract (its main user) or the back office."""

    account_id: str
    person: Person
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None
    source: str


@dataclass(frozen=True)
class Manager:
    """The person managing sub-accounts within its active client, with what it holds there itself."""

    account_id: str
    client_id: str
    scopes: frozenset[str]
    contract_ids: frozenset[str] | None

    def may_grant(self, scopes: Iterable[str], contract_ids: Iterable[str] | None) -> None:
        missing = sorted(set(scopes) - self.scopes)
        if missing:
            raise Forbidden("scope_not_held", f"you cannot grant what you do not hold: {missing}", field="scopes")
        if self.contract_ids is not None and (contract_ids is None or not set(contract_ids) <= self.contract_ids):
            raise Forbidden(
                "contracts_not_held", "you can only grant contracts you may see yourself", field="contract_ids"
            )


@dataclass(frozen=True)
class CreateSubAccount:
    account_id: str
    person: Person
    client_name: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None
    manager: Manager
    invitation: SealedMessage


@dataclass(frozen=True)
class ChangeSubAccount:
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None
    manager: Manager


@dataclass(frozen=True)
class DeactivateSubAccount:
    now: datetime
    manager: Manager


@dataclass(frozen=True)
class IssueCode:
    now: datetime
    code_hash: str
    expires_at: datetime
    notification: SealedMessage
    max_per_day: int


@dataclass(frozen=True)
class VerifyCode:
    now: datetime
    code_hash: str
    link_hash: str
    link_expires_at: datetime
    notification: SealedMessage


@dataclass(frozen=True)
class CompleteActivation:
    now: datetime
    token_hash: str
    password_hash: str


@dataclass(frozen=True)
class SetPasswordForDemo:
    """Back office, dev mode only: activates a provisioned account with a given password."""

    password_hash: str


@dataclass(frozen=True)
class Login:
    now: datetime
    password_ok: bool
    client_id: str | None
    session_id: str
    refresh_hash: str
    refresh_expires_at: datetime
    session_expires_at: datetime
    backoff: Backoff


@dataclass(frozen=True)
class ChangePassword:
    now: datetime
    current_ok: bool
    session_id: str
    password_hash: str
    backoff: Backoff


@dataclass(frozen=True)
class RevokeSessions:
    session_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RequestEmailChange:
    """`taken`: the address is another account's login e-mail: the same answer, nothing recorded."""

    now: datetime
    current_ok: bool
    session_id: str
    new_email: str
    taken: bool
    token_hash: str
    expires_at: datetime
    notification: SealedMessage
    notice: SealedMessage
    backoff: Backoff


@dataclass(frozen=True)
class ConfirmEmailChange:
    """`reserved`: the new address's reservation stream names this account (checked by the handler)."""

    now: datetime
    token_hash: str
    reserved: bool


@dataclass(frozen=True)
class RequestPhoneChange:
    now: datetime
    current_ok: bool
    new_phone: str
    code_hash: str
    expires_at: datetime
    notification: SealedMessage
    notice: SealedMessage
    max_per_day: int
    backoff: Backoff


@dataclass(frozen=True)
class ConfirmPhoneChange:
    now: datetime
    code_hash: str
    session_id: str


@dataclass(frozen=True)
class BeginErasure:
    """The first step of an erasure (services/identity/erasure.py): records the contact subjects while
    the addresses can still be read, before the keys are deleted."""

    now: datetime
    erased_by: str


@dataclass(frozen=True)
class ErasePerson:
    """GDPR Art. 17: the person's data goes, its sessions and access end. Its clients' invoices and
    payments stay: they are the client's, and hold no personal data of it."""

    now: datetime
    erased_by: str


AccountCommand = (
    Provision
    | CreateSubAccount
    | ChangeSubAccount
    | DeactivateSubAccount
    | IssueCode
    | VerifyCode
    | CompleteActivation
    | SetPasswordForDemo
    | Login
    | ChangePassword
    | RevokeSessions
    | RequestEmailChange
    | ConfirmEmailChange
    | RequestPhoneChange
    | ConfirmPhoneChange
    | BeginErasure
    | ErasePerson
)

INVALID_CREDENTIALS = ("invalid_credentials", "wrong e-mail or password")


def refuse_code() -> ActivationRefused:
    return ActivationRefused("activation_code_invalid", "the code is wrong, expired or no longer valid")


class ContactChangeRefused(DomainError):
    """One answer for a wrong, expired, used, replaced or dead link or code, or a taken address."""

    status = 400


def refuse_contact_link() -> ContactChangeRefused:
    return ContactChangeRefused(
        "contact_change_link_invalid", "the link is wrong, expired, replaced or was already used"
    )


def refuse_contact_code() -> ContactChangeRefused:
    return ContactChangeRefused("contact_change_code_invalid", "the code is wrong, expired or no longer valid")


def refuse_link() -> ActivationRefused:
    return ActivationRefused("activation_link_invalid", "the link is wrong, expired or was already used")


# ------------------------------------------------------------------------------------- account decide


def decide(state: Account, command: AccountCommand) -> Sequence[DomainEvent]:
    if state.status == "erased":
        return _erasure_step(state, command)
    match command:
        case BeginErasure():
            return [_erasure_started(state, command)]
        case ErasePerson():
            return _erase(state, command)
        case Provision():
            return _provision(state, command)
        case CreateSubAccount():
            return _create_subaccount(state, command)
        case ChangeSubAccount():
            grant = _managed_grant(state, command.manager)
            command.manager.may_grant(command.scopes, command.contract_ids)
            return [
                ClientAccessChanged(
                    account_id=_id(state),
                    client_id=grant.client_id,
                    scopes=command.scopes,
                    contract_ids=command.contract_ids,
                    changed_by=command.manager.account_id,
                )
            ]
        case DeactivateSubAccount():
            return _deactivate_subaccount(state, command)
        case IssueCode():
            return _issue_code(state, command)
        case VerifyCode():
            return _verify_code(state, command)
        case CompleteActivation():
            link = state.link
            if state.status != "provisioned" or link is None or link.spent or not _same(command.token_hash, link.hash):
                raise refuse_link()
            if command.now >= link.expires_at:
                raise refuse_link()
            return [AccountActivated(account_id=_id(state), password_hash=command.password_hash)]
        case SetPasswordForDemo():
            if state.status != "provisioned":
                raise Conflict("account_not_provisioned", "only a provisioned, not yet active account")
            return [AccountActivated(account_id=_id(state), password_hash=command.password_hash)]
        case Login():
            return _login(state, command)
        case ChangePassword():
            return _change_password(state, command)
        case RequestEmailChange() | RequestPhoneChange() | ConfirmEmailChange() | ConfirmPhoneChange():
            return _contact_change(state, command)
        case RevokeSessions():
            return [
                SessionRevoked(session_id=sid, account_id=_id(state), reason=command.reason)
                for sid in command.session_ids
                if sid in state.sessions and not state.sessions[sid].revoked
            ]
    raise TypeError(f"unknown command {command!r}")


def _id(state: Account) -> str:
    if state.account_id is None:
        raise NotFound("account_not_found", "no such account")
    return state.account_id


def _erasure_step(state: Account, command: AccountCommand) -> Sequence[DomainEvent]:
    """What an account erased, or being erased, still does: the rest of its erasure, nothing else."""
    if isinstance(command, ErasePerson) and state.erased is None:
        return _erase(state, command)
    if isinstance(command, BeginErasure | ErasePerson):
        return []  # done already: repeating it is harmless
    raise NotFound("account_not_found", "no such account")


def _contact_subjects(state: Account) -> tuple[str, ...]:
    return tuple(dict.fromkeys(contact_subject(address) for address in state.addresses))


def _erasure_started(state: Account, command: BeginErasure) -> PersonErasureStarted:
    return PersonErasureStarted(
        account_id=_id(state),
        contact_subjects=_contact_subjects(state),
        started_by=command.erased_by,
        started_at=command.now,
    )


def _erase(state: Account, command: ErasePerson) -> list[DomainEvent]:
    if state.person is None:
        raise NotFound("account_not_found", "no such account")
    account_id = _id(state)
    started = state.erasure_started
    return [
        *(
            SessionRevoked(session_id=sid, account_id=account_id, reason="erased")
            for sid in state.live_sessions(command.now)
        ),
        *(
            ClientAccessRevoked(account_id=account_id, client_id=grant.client_id, revoked_by=command.erased_by)
            for grant in state.active_grants()
        ),
        PersonErased(
            account_id=account_id,
            client_ids=tuple(sorted(state.grants)),
            contact_subjects=started.contact_subjects if started is not None else _contact_subjects(state),
            erased_by=command.erased_by,
            erased_at=command.now,
        ),
    ]


def _provision(state: Account, command: Provision) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    if state.person is None:
        person = command.person
        events.append(
            AccountProvisioned(
                account_id=command.account_id,
                email=normalize_email(person.email),
                phone=person.phone,
                first_name=person.first_name,
                last_name=person.last_name,
                source=command.source,
            )
        )
    if command.client_id not in state.grants:  # a revoked grant stays revoked: the client decided so
        events.append(
            ClientAccessGranted(
                account_id=command.account_id,
                client_id=command.client_id,
                client_name=command.client_name,
                scopes=command.scopes,
                contract_ids=command.contract_ids,
            )
        )
    return events


def _create_subaccount(state: Account, command: CreateSubAccount) -> list[DomainEvent]:
    manager = command.manager
    manager.may_grant(command.scopes, command.contract_ids)
    if state.grant(manager.client_id) is not None:
        raise Conflict("already_has_access", "this person already has access to the client", field="email")
    events: list[DomainEvent] = []
    if state.person is None:
        person = command.person
        events.append(
            AccountProvisioned(
                account_id=command.account_id,
                email=normalize_email(person.email),
                phone=person.phone,
                first_name=person.first_name,
                last_name=person.last_name,
                source=f"subaccount:{manager.account_id}",
            )
        )
    events.append(
        SubAccountCreated(
            account_id=command.account_id,
            client_id=manager.client_id,
            created_by=manager.account_id,
            scopes=command.scopes,
            contract_ids=command.contract_ids,
            notification=command.invitation,
        )
    )
    events.append(
        ClientAccessGranted(
            account_id=command.account_id,
            client_id=manager.client_id,
            client_name=command.client_name,
            scopes=command.scopes,
            contract_ids=command.contract_ids,
        )
    )
    if state.deactivated:
        events.append(AccountReactivated(account_id=command.account_id, reactivated_by=manager.account_id))
    return events


def _managed_grant(state: Account, manager: Manager) -> Grant:
    """The sub-account grant a manager may touch: in its client, not its own, within what it holds."""
    grant = state.grant(manager.client_id)
    if grant is None or grant.created_by is None or state.account_id == manager.account_id:
        raise NotFound("subaccount_not_found", "no such sub-account")
    manager.may_grant(grant.scopes, grant.contract_ids)
    return grant


def _deactivate_subaccount(state: Account, command: DeactivateSubAccount) -> list[DomainEvent]:
    grant = _managed_grant(state, command.manager)
    account_id = _id(state)
    by = command.manager.account_id
    events: list[DomainEvent] = [ClientAccessRevoked(account_id=account_id, client_id=grant.client_id, revoked_by=by)]
    if all(other.client_id == grant.client_id for other in state.active_grants()):
        events.append(AccountDeactivated(account_id=account_id, deactivated_by=by))
        events.extend(
            SessionRevoked(session_id=sid, account_id=account_id, reason="deactivated")
            for sid in state.live_sessions(command.now)
        )
    return events


def _issue_code(state: Account, command: IssueCode) -> list[DomainEvent]:
    if state.status != "provisioned":
        return []
    today = warsaw_date(command.now)
    if sum(1 for day in state.code_days if day == today) >= command.max_per_day:
        return []
    return [
        ActivationCodeIssued(
            account_id=_id(state),
            code_hash=command.code_hash,
            expires_at=command.expires_at,
            notification=command.notification,
        )
    ]


def _verify_code(state: Account, command: VerifyCode) -> list[DomainEvent]:
    code = state.code
    if state.status != "provisioned" or code is None or code.spent or code.failed >= MAX_CODE_FAILURES:
        raise refuse_code()
    if command.now >= code.expires_at:
        raise refuse_code()
    account_id = _id(state)
    if not _same(command.code_hash, code.hash):
        return [ActivationCodeRejected(account_id=account_id, failed_attempts=code.failed + 1)]
    return [
        ActivationCodeVerified(account_id=account_id),
        ActivationLinkIssued(
            account_id=account_id,
            token_hash=command.link_hash,
            expires_at=command.link_expires_at,
            notification=command.notification,
        ),
    ]


def throttled(state: Account, now: datetime) -> TooManyRequests | None:
    if state.locked_until is not None and now < state.locked_until:
        return TooManyRequests(
            "too_many_attempts", "too many failed attempts; wait", retry_after(state.locked_until, now)
        )
    return None


def _login(state: Account, command: Login) -> list[DomainEvent]:
    if state.status != "active":
        raise Unauthenticated(*INVALID_CREDENTIALS)
    refusal = throttled(state, command.now)
    if refusal is not None:
        raise refusal
    account_id = _id(state)
    if not command.password_ok:
        failures = state.failed_logins + 1
        return [
            LoginFailed(
                account_id=account_id,
                failed_attempts=failures,
                locked_until=command.backoff.locked_until(failures, command.now),
            )
        ]
    if command.client_id is not None:
        grant = state.grant(command.client_id)
        if grant is None:
            raise NotFound("client_not_found", "no such client")
    else:
        grants = state.active_grants()
        if not grants:
            raise Forbidden("no_client_access", "the account may act for no client")
        grant = grants[0]
    return [
        SessionStarted(
            session_id=command.session_id,
            account_id=account_id,
            client_id=grant.client_id,
            refresh_token_hash=command.refresh_hash,
            expires_at=command.session_expires_at,
            refresh_expires_at=min(command.refresh_expires_at, command.session_expires_at),
        )
    ]


def _change_password(state: Account, command: ChangePassword) -> list[DomainEvent]:
    if state.status != "active":
        raise Unauthenticated("account_deactivated", "the account is not active")
    refusal = throttled(state, command.now)
    if refusal is not None:
        raise refusal
    account_id = _id(state)
    if not command.current_ok:
        failures = state.failed_logins + 1
        return [
            LoginFailed(
                account_id=account_id,
                failed_attempts=failures,
                locked_until=command.backoff.locked_until(failures, command.now),
            )
        ]
    events: list[DomainEvent] = [PasswordChanged(account_id=account_id, password_hash=command.password_hash)]
    events.extend(
        SessionRevoked(session_id=sid, account_id=account_id, reason="password_changed")
        for sid in state.live_sessions(command.now)
        if sid != command.session_id
    )
    return events


def _password_checked(state: Account, now: datetime, current_ok: bool, backoff: Backoff) -> list[DomainEvent] | None:
    """None when the current password is right; else the LoginFailed to record (throttled like login)."""
    if state.status != "active":
        raise Unauthenticated("account_deactivated", "the account is not active")
    refusal = throttled(state, now)
    if refusal is not None:
        raise refusal
    if current_ok:
        return None
    failures = state.failed_logins + 1
    return [
        LoginFailed(account_id=_id(state), failed_attempts=failures, locked_until=backoff.locked_until(failures, now))
    ]


def _contact_change(
    state: Account, command: RequestEmailChange | RequestPhoneChange | ConfirmEmailChange | ConfirmPhoneChange
) -> list[DomainEvent]:
    account_id = _id(state)
    person = state.person
    assert person is not None
    match command:
        case RequestEmailChange():
            failed = _password_checked(state, command.now, command.current_ok, command.backoff)
            if failed is not None:
                return failed
            if normalize_email(command.new_email) == normalize_email(person.email):
                raise Invalid("email_unchanged", "this is already your login e-mail", field="new_email")
            if command.taken:
                return []
            return [
                LoginEmailChangeRequested(
                    account_id=account_id,
                    new_email=normalize_email(command.new_email),
                    token_hash=command.token_hash,
                    expires_at=command.expires_at,
                    requested_in_session=command.session_id,
                    notification=command.notification,
                ),
                ContactChangeNoticeIssued(account_id=account_id, change="login_email", notification=command.notice),
            ]
        case ConfirmEmailChange():
            pending = state.pending_email
            if state.status != "active" or pending is None or pending.spent:
                raise refuse_contact_link()
            if not _same(command.token_hash, pending.hash) or command.now >= pending.expires_at:
                raise refuse_contact_link()
            if not command.reserved:
                raise refuse_contact_link()
            events: list[DomainEvent] = [
                LoginEmailChanged(account_id=account_id, old_email=person.email, new_email=pending.new_email)
            ]
            events.extend(
                SessionRevoked(session_id=sid, account_id=account_id, reason="login_email_changed")
                for sid in state.live_sessions(command.now)
                if sid != pending.keep_session
            )
            return events
        case RequestPhoneChange():
            failed = _password_checked(state, command.now, command.current_ok, command.backoff)
            if failed is not None:
                return failed
            if command.new_phone == person.phone:
                raise Invalid("phone_unchanged", "this is already your phone number", field="new_phone")
            today = warsaw_date(command.now)
            if sum(1 for day in state.phone_code_days if day == today) >= command.max_per_day:
                raise TooManyRequests(
                    "too_many_codes",
                    "too many codes today; try tomorrow",
                    retry_after(midnight_after(command.now), command.now),
                )
            return [
                PhoneChangeRequested(
                    account_id=account_id,
                    new_phone=command.new_phone,
                    code_hash=command.code_hash,
                    expires_at=command.expires_at,
                    notification=command.notification,
                ),
                ContactChangeNoticeIssued(account_id=account_id, change="phone", notification=command.notice),
            ]
        case ConfirmPhoneChange():
            code = state.pending_phone
            if state.status != "active" or code is None or code.spent or code.failed >= MAX_CODE_FAILURES:
                raise refuse_contact_code()
            if command.now >= code.expires_at:
                raise refuse_contact_code()
            if not _same(command.code_hash, code.hash):
                return [PhoneChangeCodeRejected(account_id=account_id, failed_attempts=code.failed + 1)]
            events = [PhoneChanged(account_id=account_id, old_phone=person.phone, new_phone=code.new_phone)]
            events.extend(
                SessionRevoked(session_id=sid, account_id=account_id, reason="phone_changed")
                for sid in state.live_sessions(command.now)
                if sid != command.session_id
            )
            return events
    raise TypeError(f"unknown command {command!r}")


# ------------------------------------------------------------------------------------- account evolve


def evolve(state: Account, event: DomainEvent) -> Account:
    match event:
        case AccountProvisioned():
            person = Person(event.first_name, event.last_name, str(event.email), event.phone)
            return replace(state, account_id=event.account_id, person=person, addresses=(str(event.email),))
        case SubAccountCreated():
            grant = Grant(event.client_id, "", event.scopes, event.contract_ids, False, event.created_by)
            return replace(state, grants={**state.grants, event.client_id: grant})
        case ClientAccessGranted():
            earlier = state.grants.get(event.client_id)
            creator = earlier.created_by if earlier is not None else None
            grant = Grant(event.client_id, event.client_name, event.scopes, event.contract_ids, True, creator)
            return replace(state, grants={**state.grants, event.client_id: grant})
        case ClientAccessChanged():
            return _with_grant(state, event.client_id, scopes=event.scopes, contract_ids=event.contract_ids)
        case ClientAccessRevoked():
            return _with_grant(state, event.client_id, active=False)
        case AccountDeactivated():
            return replace(state, deactivated=True)
        case PersonErasureStarted():
            return replace(state, erasure_started=event)
        case PersonErased():
            return replace(state, erased=event)
        case AccountReactivated():
            return replace(state, deactivated=False)
        case LoginEmailChangeRequested():
            requested = PendingEmail(
                str(event.new_email), event.token_hash, event.expires_at, event.requested_in_session
            )
            return replace(state, pending_email=requested)
        case LoginEmailChanged() if state.person is not None:
            pending = replace(state.pending_email, spent=True) if state.pending_email is not None else None
            return replace(
                state,
                person=replace(state.person, email=str(event.new_email)),
                pending_email=pending,
                addresses=(*state.addresses, str(event.new_email)),
            )
        case PhoneChangeRequested():
            day = warsaw_date(event.expires_at - timedelta(microseconds=1))
            pending_phone = PendingPhone(event.new_phone, event.code_hash, event.expires_at)
            return replace(state, pending_phone=pending_phone, phone_code_days=(*state.phone_code_days, day))
        case PhoneChangeCodeRejected() if state.pending_phone is not None:
            return replace(state, pending_phone=replace(state.pending_phone, failed=event.failed_attempts))
        case PhoneChanged() if state.person is not None:
            spent = replace(state.pending_phone, spent=True) if state.pending_phone is not None else None
            return replace(state, person=replace(state.person, phone=event.new_phone), pending_phone=spent)
        case _:
            return _evolve_credentials(state, event)


def _with_grant(state: Account, client_id: str, **changes: object) -> Account:
    grant = state.grants.get(client_id)
    if grant is None:
        return state
    return replace(state, grants={**state.grants, client_id: replace(grant, **changes)})  # type: ignore[arg-type]


def _evolve_credentials(state: Account, event: DomainEvent) -> Account:
    match event:
        case ActivationCodeIssued():
            day = warsaw_date(event.expires_at - timedelta(microseconds=1))
            return replace(state, code=Code(event.code_hash, event.expires_at), code_days=(*state.code_days, day))
        case ActivationCodeRejected() if state.code is not None:
            return replace(state, code=replace(state.code, failed=event.failed_attempts))
        case ActivationCodeVerified() if state.code is not None:
            return replace(state, code=replace(state.code, spent=True))
        case ActivationLinkIssued():
            return replace(state, link=Link(event.token_hash, event.expires_at))
        case AccountActivated():
            link = replace(state.link, spent=True) if state.link is not None else None
            return replace(state, password_hash=event.password_hash, link=link, code=None)
        case PasswordChanged():
            return replace(state, password_hash=event.password_hash, failed_logins=0, locked_until=None)
        case LoginFailed():
            return replace(state, failed_logins=event.failed_attempts, locked_until=event.locked_until)
        case SessionStarted():
            origin = SessionOrigin(
                event.session_id,
                event.client_id,
                event.refresh_token_hash,
                event.refresh_expires_at or event.expires_at,
                event.expires_at,
            )
            sessions = {**state.sessions, event.session_id: origin}
            return replace(state, sessions=sessions, failed_logins=0, locked_until=None)
        case SessionRevoked() if event.session_id in state.sessions:
            revoked = replace(state.sessions[event.session_id], revoked=True)
            return replace(state, sessions={**state.sessions, event.session_id: revoked})
    return state


account = Aggregate[Account, AccountCommand](category="identity-account", initial=Account, decide=decide, evolve=evolve)


# --------------------------------------------------------------------------- login e-mail reservation


@dataclass(frozen=True)
class LoginEmail:
    """`identity-login-email-<account_id_for(address)>`: who logs in with an address.

    No event: the address's own account (`account_id_for(address)`), if it exists, as before this
    stream existed. Otherwise `holder` (None once released), `generation` counts the releases so a
    later provisioning of the address names a fresh account."""

    recorded: bool = False
    holder: str | None = None
    generation: int = 0


@dataclass(frozen=True)
class ReserveLoginEmail:
    email: str
    account_id: str
    natural_holder: str | None
    """With no event yet: the existing account derived from the address whose login e-mail it still is."""


@dataclass(frozen=True)
class ReleaseLoginEmail:
    email: str
    account_id: str


LoginEmailCommand = ReserveLoginEmail | ReleaseLoginEmail


class LoginEmailTaken(DomainError):
    status = 409


def decide_login_email(state: LoginEmail, command: LoginEmailCommand) -> Sequence[DomainEvent]:
    email = normalize_email(command.email)
    match command:
        case ReserveLoginEmail():
            holder = state.holder if state.recorded else command.natural_holder
            if state.recorded and holder == command.account_id:
                return []
            if holder is not None and holder != command.account_id:
                raise LoginEmailTaken("email_taken", "another account logs in with this address")
            return [LoginEmailReserved(email=email, account_id=command.account_id)]
        case ReleaseLoginEmail():
            holder = state.holder if state.recorded else account_id_for(email)
            if holder != command.account_id:
                return []
            return [LoginEmailReleased(email=email, account_id=command.account_id)]
    raise TypeError(f"unknown command {command!r}")


def evolve_login_email(state: LoginEmail, event: DomainEvent) -> LoginEmail:
    match event:
        case LoginEmailReserved():
            return replace(state, recorded=True, holder=event.account_id)
        case LoginEmailReleased() if state.holder in (None, event.account_id):
            return replace(state, recorded=True, holder=None, generation=state.generation + 1)
    return state


login_email = Aggregate[LoginEmail, LoginEmailCommand](
    category="identity-login-email", initial=LoginEmail, decide=decide_login_email, evolve=evolve_login_email
)


# ------------------------------------------------------------------------------------ session aggregate


class RefreshTokenReused(DomainError):
    """A spent refresh token came back: someone holds a copy. The session must end."""

    status = 401


@dataclass(frozen=True)
class Session:
    """What the session stream adds to its origin: the rotated refresh tokens and the active client."""

    client_id: str | None = None
    rotations: tuple[tuple[str, datetime], ...] = ()
    """(hash, expiry) of every refresh token issued after the first, oldest first."""

    def current(self, origin: SessionOrigin) -> tuple[str, datetime]:
        return self.rotations[-1] if self.rotations else (origin.refresh_hash, origin.refresh_expires_at)

    def spent(self, origin: SessionOrigin) -> list[str]:
        issued = [origin.refresh_hash, *(token_hash for token_hash, _ in self.rotations)]
        return issued[:-1]

    def active_client(self, origin: SessionOrigin) -> str:
        return self.client_id or origin.client_id

    def knows(self, origin: SessionOrigin, presented_hash: str) -> bool:
        return any(_same(presented_hash, known) for known in (*self.spent(origin), self.current(origin)[0]))


@dataclass(frozen=True)
class Refresh:
    now: datetime
    account_id: str
    origin: SessionOrigin
    presented_hash: str
    new_hash: str
    new_refresh_expires_at: datetime


@dataclass(frozen=True)
class SwitchClient:
    now: datetime
    account_id: str
    origin: SessionOrigin
    client_id: str


SessionCommand = Refresh | SwitchClient

INVALID_REFRESH = ("invalid_refresh_token", "the refresh token is invalid or expired; log in again")


def decide_session(state: Session, command: SessionCommand) -> Sequence[DomainEvent]:
    origin = command.origin
    match command:
        case Refresh():
            if any(_same(command.presented_hash, spent) for spent in state.spent(origin)):
                raise RefreshTokenReused(*INVALID_REFRESH)
            current_hash, current_expiry = state.current(origin)
            if not _same(command.presented_hash, current_hash):
                raise Unauthenticated(*INVALID_REFRESH)
            if not origin.live(command.now) or command.now >= current_expiry:
                raise Unauthenticated(*INVALID_REFRESH)
            return [
                SessionRefreshed(
                    session_id=origin.session_id,
                    account_id=command.account_id,
                    client_id=state.active_client(origin),
                    refresh_token_hash=command.new_hash,
                    expires_at=origin.expires_at,
                    refresh_expires_at=min(command.new_refresh_expires_at, origin.expires_at),
                )
            ]
        case SwitchClient():
            if not origin.live(command.now):
                raise Unauthenticated("session_ended", "the session has ended; log in again")
            return [
                SessionClientSwitched(
                    session_id=origin.session_id, account_id=command.account_id, client_id=command.client_id
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def evolve_session(state: Session, event: DomainEvent) -> Session:
    match event:
        case SessionRefreshed():
            expiry = event.refresh_expires_at or event.expires_at
            return replace(
                state, client_id=event.client_id, rotations=(*state.rotations, (event.refresh_token_hash, expiry))
            )
        case SessionClientSwitched():
            return replace(state, client_id=event.client_id)
    return state


session = Aggregate[Session, SessionCommand](
    category="identity-session", initial=Session, decide=decide_session, evolve=evolve_session
)
