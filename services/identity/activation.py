"""Activation, as the client zone describes it: e-mail -> SMS code -> e-mailed link -> own password.

No enumeration: `start` answers 202 before it looks anything up (the work runs after the answer,
the same hashing and sealing for every address); `verify` and `complete` give one answer for an
unknown address, a wrong, expired, used or dead code or link, after the same work.

The link's token is in its fragment (`/aktywacja#token=`), which browsers never send to a server
(no access or proxy log, no Referer, no http.target of a span): the page posts it to `complete`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, BackgroundTasks, Request, status
from pydantic import BaseModel

from libs.events.envelope import EventContext
from libs.events.portal_links import link_with_token
from libs.events.schemas.identity import ActivationLinkIssued
from libs.events.sealed import NotificationRequest
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from libs.events.warsaw import WARSAW
from services.identity.context import Identity, IdentityDep, client_ip
from services.identity.credentials import generate_code, link_token, parse_link_token, sha256_hash
from services.identity.domain import (
    CompleteActivation,
    IssueCode,
    Person,
    VerifyCode,
    account,
    code_expiry,
    decide,
    link_expiry,
    refuse_code,
    refuse_link,
)
from services.identity.emails import login_account
from services.identity.inputs import CompleteIn, StartIn, VerifyIn
from services.identity.passwords import check_policy

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/activation", tags=["activation"])

NOBODY = Person("-", "-", "nobody@invalid.example", "+48500000000")
"""Stands in for an unknown address, so it costs the same hashing and sealing as a known one."""


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class LinkSent(BaseModel):
    status: Literal["link_sent"] = "link_sent"


class Activated(BaseModel):
    status: Literal["activated"] = "activated"


def warsaw_iso(moment: datetime) -> str:
    return moment.astimezone(WARSAW).isoformat()


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
async def start(
    body: StartIn, request: Request, runtime: Runtime, identity: IdentityDep, background: BackgroundTasks
) -> Accepted:
    """Always 202, the same body: the SMS goes out only to a provisioned, not yet active account."""
    now = runtime.clock()
    await identity.limits.start_ip.hit(client_ip(request, identity), now)
    await identity.limits.start_email.hit(body.email, now)
    background.add_task(issue_code, runtime, identity, body.email, now, event_context(request))
    return Accepted()


async def issue_code(
    runtime: ServiceRuntime, identity: Identity, email: str, now: datetime, context: EventContext
) -> None:
    account_id, _ = await login_account(runtime, email)
    code = generate_code()
    code_hash = identity.codes.hash(account_id, code)
    expires_at = code_expiry(now, identity.settings.activation_code_minutes)
    try:
        async with identity.locks.hold(account_id):
            account_id, state = await login_account(runtime, email)
            person = state.person or NOBODY
            params = {"code": code, "valid_until": warsaw_iso(expires_at)}
            sms = identity.seal(
                NotificationRequest(channel="sms", to=person.phone, template="activation_code", params=params)
            )
            if state.status != "provisioned":
                return
            command = IssueCode(now, code_hash, expires_at, sms, identity.settings.activation_codes_per_day)
            decision = await runtime.commands.handle(account, account_id, command, context)
        log.info("activation_code_issued" if decision.events else "activation_code_limit", account_id=account_id)
    except Exception as error:  # after the answer: log (never the code) and let the person try again
        log.error("activation_start_failed", account_id=account_id, error=type(error).__name__)


@router.post("/verify")
async def verify(body: VerifyIn, request: Request, runtime: Runtime, identity: IdentityDep) -> LinkSent:
    """The right code: the e-mail with the activation link goes out. Anything else: one 400 answer."""
    now = runtime.clock()
    await identity.limits.verify_ip.hit(client_ip(request, identity), now)
    await identity.limits.verify_email.hit(body.email, now)
    account_id, _ = await login_account(runtime, body.email)
    code_hash = identity.codes.hash(account_id, body.code)
    token = link_token(account_id)
    expires_at = link_expiry(now)
    async with identity.locks.hold(account_id):
        _, state = await login_account(runtime, body.email)
        person = state.person or NOBODY
        link = link_with_token(identity.settings.public_url, "/aktywacja", token)
        params = {"first_name": person.first_name, "link": link, "valid_until": warsaw_iso(expires_at)}
        mail = identity.seal(
            NotificationRequest(channel="email", to=person.email, template="activation_link", params=params)
        )
        if state.person is None:
            raise refuse_code()
        command = VerifyCode(now, code_hash, sha256_hash(token), expires_at, mail)
        decision = await runtime.commands.handle(account, account_id, command, event_context(request))
    if not any(isinstance(event, ActivationLinkIssued) for event in decision.events):
        log.info("activation_code_rejected", account_id=account_id)
        raise refuse_code()
    log.info("activation_link_issued", account_id=account_id)
    return LinkSent()


@router.post("/complete")
async def complete(body: CompleteIn, request: Request, runtime: Runtime, identity: IdentityDep) -> Activated:
    """The link's token and the person's own password: the account is active."""
    now = runtime.clock()
    await identity.limits.complete_ip.hit(client_ip(request, identity), now)
    account_id = parse_link_token(body.token)
    if account_id is None:
        raise refuse_link()
    token_hash = sha256_hash(body.token)
    state, _ = await runtime.commands.load(account, account_id)
    decide(state, CompleteActivation(now, token_hash, "-"))  # refuses a bad link before any hashing
    assert state.person is not None
    password = check_policy(body.password, state.person.email)
    password_hash = await identity.passwords.hash(password)
    async with identity.locks.hold(account_id):
        context = event_context(request, actor=f"account:{account_id}")
        await runtime.commands.handle(account, account_id, CompleteActivation(now, token_hash, password_hash), context)
    log.info("account_activated", account_id=account_id)
    return Activated()
