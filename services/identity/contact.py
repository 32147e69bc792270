"""Changing the login e-mail or the phone SMS codes go to: the current password again, then a
confirmation sent to the new address or number; nothing changes until it is confirmed.

- E-mail: a link (`<account>.<256 random bits>`, stored as SHA-256) sealed to the new address, valid
  until midnight (Warsaw) ending the next day, single use, a newer request replaces it; an information
  e-mail to the current address. An address another account logs in with gets the same answer and
  nothing is recorded; the confirmation reserves the address (`emails.py`), so it can never complete
  for a taken one. The token is in the link's fragment (`/potwierdz-email#token=`), which browsers
  never send to a server (no access or proxy log, no Referer, no http.target of a span): the page
  posts it to `/contact/email/confirm`.
- Phone: a 6-digit code (stored as HMAC) sealed by SMS to the new number, valid until midnight
  (Warsaw) of the day of issue, dead after 5 wrong tries.
- Confirmed: every other session of the person ends.
"""

from __future__ import annotations

from typing import Literal

import structlog
from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from libs.events.access import Principal
from libs.events.envelope import EventContext
from libs.events.errors import Forbidden, Unauthenticated
from libs.events.portal_links import link_with_token
from libs.events.schemas.identity import LoginEmailChanged, LoginFailed, PhoneChanged
from libs.events.sealed import NotificationRequest
from libs.events.service.access import Authenticated
from libs.events.service.deps import Runtime, event_context
from services.identity.activation import warsaw_iso
from services.identity.context import IdentityDep, client_ip
from services.identity.credentials import generate_code, link_token, parse_link_token, sha256_hash
from services.identity.domain import (
    ConfirmEmailChange,
    ConfirmPhoneChange,
    RequestEmailChange,
    RequestPhoneChange,
    account,
    code_expiry,
    decide,
    link_expiry,
    refuse_contact_code,
    refuse_contact_link,
    throttled,
)
from services.identity.emails import is_taken, release, reserve_for_change
from services.identity.inputs import EmailChangeIn, EmailConfirmIn, PhoneChangeIn, PhoneConfirmIn

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/contact", tags=["contact"])

WRONG_PASSWORD = ("current_password_wrong", "the current password is wrong")


class Sent(BaseModel):
    status: Literal["confirmation_sent"] = "confirmation_sent"


class Changed(BaseModel):
    status: Literal["changed"] = "changed"


@router.post("/email", status_code=status.HTTP_202_ACCEPTED)
async def request_email_change(
    body: EmailChangeIn, principal: Authenticated, request: Request, runtime: Runtime, identity: IdentityDep
) -> Sent:
    """202 whether or not the address is free (no enumeration); 403 for a wrong current password."""
    now = runtime.clock()
    await identity.limits.contact_ip.hit(client_ip(request, identity), now)
    account_id = principal.account_id
    state, _ = await runtime.commands.load(account, account_id)
    if state.person is None:
        raise Unauthenticated("authentication_required", "log in first")
    refusal = throttled(state, now)
    if refusal is not None:
        raise refusal
    current_ok = await identity.passwords.verify(state.password_hash, body.current_password)
    taken = await is_taken(runtime, body.new_email, account_id)
    token = link_token(account_id)
    expires_at = link_expiry(now)
    params = {"first_name": state.person.first_name, "valid_until": warsaw_iso(expires_at)}
    link = identity.seal(
        NotificationRequest(
            channel="email",
            to=body.new_email,
            template="login_email_confirmation",
            params={
                **params,
                "link": link_with_token(identity.settings.public_url, "/potwierdz-email", token),
                "new_email": body.new_email,
            },
        )
    )
    notice = identity.seal(
        NotificationRequest(
            channel="email",
            to=state.person.email,
            template="contact_change_notice",
            params={**params, "change": "login_email", "new_value": body.new_email},
        )
    )
    command = RequestEmailChange(
        now,
        current_ok,
        principal.session_id,
        body.new_email,
        taken,
        sha256_hash(token),
        expires_at,
        link,
        notice,
        identity.backoff,
    )
    async with identity.locks.hold(account_id):
        decision = await runtime.commands.handle(account, account_id, command, _context(request, principal))
    if any(isinstance(event, LoginFailed) for event in decision.events):
        log.info("contact_change_wrong_password", account_id=account_id)
        raise Forbidden(*WRONG_PASSWORD, field="current_password")
    log.info("login_email_change_requested" if decision.events else "login_email_change_taken", account_id=account_id)
    return Sent()


@router.post("/email/confirm")
async def confirm_email_change(
    body: EmailConfirmIn, request: Request, runtime: Runtime, identity: IdentityDep
) -> Changed:
    """The link's token (no login needed: it may be opened on another device). One 400 for anything wrong."""
    now = runtime.clock()
    await identity.limits.contact_ip.hit(client_ip(request, identity), now)
    account_id = parse_link_token(body.token)
    if account_id is None:
        raise refuse_contact_link()
    token_hash = sha256_hash(body.token)
    context = event_context(request, actor=f"account:{account_id}")
    async with identity.locks.hold(account_id):
        state, _ = await runtime.commands.load(account, account_id)
        decide(state, ConfirmEmailChange(now, token_hash, reserved=True))  # a bad link touches nothing
        assert state.pending_email is not None
        assert state.person is not None
        old_email, new_email = state.person.email, state.pending_email.new_email
        reserved = await reserve_for_change(runtime, new_email, account_id, context)
        decision = await runtime.commands.handle(
            account, account_id, ConfirmEmailChange(now, token_hash, reserved), context
        )
    if not any(isinstance(event, LoginEmailChanged) for event in decision.events):
        raise refuse_contact_link()
    await release(runtime, old_email, account_id, context)
    log.info("login_email_changed", account_id=account_id)
    return Changed()


@router.post("/phone", status_code=status.HTTP_202_ACCEPTED)
async def request_phone_change(
    body: PhoneChangeIn, principal: Authenticated, request: Request, runtime: Runtime, identity: IdentityDep
) -> Sent:
    now = runtime.clock()
    await identity.limits.contact_ip.hit(client_ip(request, identity), now)
    account_id = principal.account_id
    state, _ = await runtime.commands.load(account, account_id)
    if state.person is None:
        raise Unauthenticated("authentication_required", "log in first")
    refusal = throttled(state, now)
    if refusal is not None:
        raise refusal
    current_ok = await identity.passwords.verify(state.password_hash, body.current_password)
    code = generate_code()
    expires_at = code_expiry(now, identity.settings.activation_code_minutes)
    valid_until = warsaw_iso(expires_at)
    sms = identity.seal(
        NotificationRequest(
            channel="sms",
            to=body.new_phone,
            template="phone_change_code",
            params={"code": code, "valid_until": valid_until},
        )
    )
    notice = identity.seal(
        NotificationRequest(
            channel="email",
            to=state.person.email,
            template="contact_change_notice",
            params={"first_name": state.person.first_name, "change": "phone", "new_value": body.new_phone},
        )
    )
    command = RequestPhoneChange(
        now,
        current_ok,
        body.new_phone,
        identity.codes.hash(account_id, code, purpose="phone-change"),
        expires_at,
        sms,
        notice,
        identity.settings.activation_codes_per_day,
        identity.backoff,
    )
    async with identity.locks.hold(account_id):
        decision = await runtime.commands.handle(account, account_id, command, _context(request, principal))
    if any(isinstance(event, LoginFailed) for event in decision.events):
        log.info("contact_change_wrong_password", account_id=account_id)
        raise Forbidden(*WRONG_PASSWORD, field="current_password")
    log.info("phone_change_requested", account_id=account_id)
    return Sent()


@router.post("/phone/confirm")
async def confirm_phone_change(
    body: PhoneConfirmIn, principal: Authenticated, request: Request, runtime: Runtime, identity: IdentityDep
) -> Changed:
    now = runtime.clock()
    await identity.limits.contact_ip.hit(client_ip(request, identity), now)
    account_id = principal.account_id
    command = ConfirmPhoneChange(
        now, identity.codes.hash(account_id, body.code, purpose="phone-change"), principal.session_id
    )
    async with identity.locks.hold(account_id):
        decision = await runtime.commands.handle(account, account_id, command, _context(request, principal))
    if not any(isinstance(event, PhoneChanged) for event in decision.events):
        log.info("phone_change_code_rejected", account_id=account_id)
        raise refuse_contact_code()
    log.info("phone_changed", account_id=account_id)
    return Changed()


def _context(request: Request, principal: Principal) -> EventContext:
    return event_context(request, actor=f"account:{principal.account_id}", client_id=principal.client_id)
