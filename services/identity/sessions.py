"""Login, refresh, logout, password change and the public keys.

Tokens: a short-lived access token (EdDSA JWT, libs/events/tokens.py) in the body, and a rotating
refresh token `<account>.<session>.<256 random bits>` (stored as SHA-256 only). Browsers get the
refresh token only as a cookie (HttpOnly; Secure; SameSite=Strict; Path=/api/identity; `__Secure-`
name), never in a body JavaScript could read; non-browser clients ask for it in the body
(`refresh_token_in_body` at login) and send it back in the body. A refresh token used twice means
a copy exists: the session ends (SessionRevoked "refresh_token_reused").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import uuid4

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from libs.events.errors import Invalid, NotFound, TooManyRequests, Unauthenticated
from libs.events.locks import LockBusy
from libs.events.service.access import Authenticated, authenticate
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from services.identity.context import Identity, IdentityDep, client_ip
from services.identity.credentials import parse_refresh_token, refresh_token, sha256_hash
from services.identity.domain import (
    INVALID_CREDENTIALS,
    INVALID_REFRESH,
    Account,
    ChangePassword,
    Grant,
    Login,
    Refresh,
    RefreshTokenReused,
    RevokeSessions,
    SessionOrigin,
    account,
    session,
    throttled,
)
from services.identity.emails import login_account
from services.identity.inputs import LoginIn, PasswordIn, RefreshIn
from services.identity.passwords import check_policy
from services.identity.projections import SESSIONS

log = structlog.get_logger(__name__)

router = APIRouter(tags=["sessions"])
_bearer = HTTPBearer(auto_error=False, scheme_name="AccessToken")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the scheme name)
    expires_in: int
    client_id: str
    refresh_token: str | None = None
    """Only for a client that asked for it in the body (never for browsers)."""


async def token_answer(
    identity: Identity,
    response: Response,
    account_id: str,
    session_id: str,
    grant: Grant,
    refresh: str | None,
    in_body: bool,
) -> TokenOut:
    response.headers.update(NO_STORE)
    if refresh is not None:
        settings = identity.settings
        response.set_cookie(
            settings.refresh_cookie_name,
            refresh,
            max_age=settings.refresh_idle_seconds,
            path=settings.refresh_cookie_path,
            secure=True,
            httponly=True,
            samesite="strict",
        )
    return TokenOut(
        access_token=await identity.access_token(account_id, session_id, grant),
        expires_in=identity.settings.access_token_ttl_seconds,
        client_id=grant.client_id,
        refresh_token=refresh if in_body else None,
    )


@router.post("/login")
async def login(
    body: LoginIn, request: Request, response: Response, runtime: Runtime, identity: IdentityDep
) -> TokenOut:
    """One 401 answer for an unknown address, a wrong password or an account not (or no longer) active."""
    ip = client_ip(request, identity)
    await identity.limits.login_ip.hit(ip, runtime.clock())
    # One attempt at a time per address (in this process): wrong passwords sent in parallel are
    # counted and throttled as one by one would be, alike for known and unknown addresses.
    # Across processes the shared counters and the account's own events keep the count.
    try:
        async with identity.locks.hold(f"login:{sha256_hash(body.email)}", wait=identity.settings.login_queue_seconds):
            return await _attempt_login(body, request, response, runtime, identity, ip)
    except LockBusy:
        raise TooManyRequests("too_many_attempts", "too many logins to this address at once; wait", 1) from None


async def _attempt_login(
    body: LoginIn, request: Request, response: Response, runtime: ServiceRuntime, identity: Identity, ip: str
) -> TokenOut:
    now, limits = runtime.clock(), identity.limits
    await limits.login_email.check(body.email, now)
    await limits.login_address.check(ip, now)
    account_id, state = await login_account(runtime, body.email)
    refusal = throttled(state, now)
    if refusal is not None:
        raise refusal
    known_hash = state.password_hash if state.status == "active" else None
    password_ok = await identity.passwords.verify(known_hash, body.password)
    session_id = str(uuid4())
    refresh = refresh_token(account_id, session_id)
    command = _login(identity, now, password_ok, body.client_id, session_id, refresh)
    if not password_ok:
        await limits.login_email.failed(body.email, now)
        await limits.login_address.failed(ip, now)
        if state.status == "active":
            await _handle(runtime, identity, account_id, command, request)
        log.info("login_failed", account_id=account_id if state.status == "active" else None)
        raise Unauthenticated(*INVALID_CREDENTIALS)
    after = await _handle(runtime, identity, account_id, command, request)
    await limits.login_email.succeeded(body.email)
    started = after.sessions[session_id]
    grant = after.grants[started.client_id]
    log.info("session_started", account_id=account_id, session_id=session_id)
    return await token_answer(identity, response, account_id, session_id, grant, refresh, body.refresh_token_in_body)


def _login(
    identity: Identity, now: datetime, password_ok: bool, client_id: str | None, session_id: str, refresh: str
) -> Login:
    settings = identity.settings
    return Login(
        now=now,
        password_ok=password_ok,
        client_id=client_id,
        session_id=session_id,
        refresh_hash=sha256_hash(refresh),
        refresh_expires_at=now + timedelta(seconds=settings.refresh_idle_seconds),
        session_expires_at=now + timedelta(seconds=settings.session_max_seconds),
        backoff=identity.backoff,
    )


async def _handle(
    runtime: ServiceRuntime, identity: Identity, account_id: str, command: Any, request: Request
) -> Account:
    async with identity.locks.hold(account_id):
        context = event_context(request, actor=f"account:{account_id}")
        decision = await runtime.commands.handle(account, account_id, command, context)
    return decision.state


def _presented(request: Request, identity: Identity, body: RefreshIn | None) -> tuple[str, bool] | None:
    """The refresh token and whether it came in the body (then the new one goes back in the body)."""
    if body is not None and body.refresh_token:
        return body.refresh_token, True
    cookie = request.cookies.get(identity.settings.refresh_cookie_name)
    return (cookie, False) if cookie else None


@router.post("/token/refresh")
async def refresh(
    request: Request, response: Response, runtime: Runtime, identity: IdentityDep, body: RefreshIn | None = None
) -> TokenOut:
    """A new access token and a new refresh token; the presented one is spent."""
    now = runtime.clock()
    await identity.limits.refresh_ip.hit(client_ip(request, identity), now)
    presented = _presented(request, identity, body)
    parsed = parse_refresh_token(presented[0]) if presented else None
    if presented is None or parsed is None:
        raise Unauthenticated(*INVALID_REFRESH)
    account_id, session_id = parsed
    new = refresh_token(account_id, session_id)
    async with identity.locks.hold(account_id):
        state, origin = await _session_origin(runtime, account_id, session_id)
        current, _ = await runtime.commands.load(session, session_id)
        grant = state.grant(current.active_client(origin)) if state.status == "active" else None
        if grant is None:
            raise Unauthenticated(*INVALID_REFRESH)
        command = Refresh(
            now=now,
            account_id=account_id,
            origin=origin,
            presented_hash=sha256_hash(presented[0]),
            new_hash=sha256_hash(new),
            new_refresh_expires_at=now + timedelta(seconds=identity.settings.refresh_idle_seconds),
        )
        context = event_context(request, actor=f"account:{account_id}", client_id=grant.client_id)
        try:
            await runtime.commands.handle(session, session_id, command, context)
        except RefreshTokenReused:
            revoke = RevokeSessions((session_id,), "refresh_token_reused")
            await runtime.commands.handle(account, account_id, revoke, context)
            log.warning("refresh_token_reused", account_id=account_id, session_id=session_id)
            raise
    return await token_answer(identity, response, account_id, session_id, grant, new, presented[1])


async def _session_origin(runtime: ServiceRuntime, account_id: str, session_id: str) -> tuple[Account, SessionOrigin]:
    state, _ = await runtime.commands.load(account, account_id)
    origin = state.sessions.get(session_id)
    if origin is None:
        raise Unauthenticated(*INVALID_REFRESH)
    return state, origin


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request,
    runtime: Runtime,
    identity: IdentityDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    body: RefreshIn | None = None,
) -> Response:
    """Ends the session named by the access token, or else by the refresh token (cookie or body)."""
    account_id, session_id = await _session_to_end(request, runtime, identity, credentials, body)
    await _handle(runtime, identity, account_id, RevokeSessions((session_id,), "logout"), request)
    log.info("session_ended", account_id=account_id, session_id=session_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT, headers=NO_STORE)
    settings = identity.settings
    response.delete_cookie(
        settings.refresh_cookie_name,
        path=settings.refresh_cookie_path,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


async def _session_to_end(
    request: Request,
    runtime: ServiceRuntime,
    identity: Identity,
    credentials: HTTPAuthorizationCredentials | None,
    body: RefreshIn | None,
) -> tuple[str, str]:
    if credentials is not None:
        principal = await authenticate(request, credentials)
        return principal.account_id, principal.session_id
    presented = _presented(request, identity, body)
    parsed = parse_refresh_token(presented[0]) if presented else None
    if presented is None or parsed is None:
        raise Unauthenticated("authentication_required", "log in first")
    account_id, session_id = parsed
    _, origin = await _session_origin(runtime, account_id, session_id)
    current, _ = await runtime.commands.load(session, session_id)
    if not current.knows(origin, sha256_hash(presented[0])):
        raise Unauthenticated(*INVALID_REFRESH)
    return account_id, session_id


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordIn, principal: Authenticated, request: Request, runtime: Runtime, identity: IdentityDep
) -> None:
    """Needs the current password; ends every other session of the person."""
    now = runtime.clock()
    state, _ = await runtime.commands.load(account, principal.account_id)
    if state.person is None:
        raise Unauthenticated("authentication_required", "log in first")
    new_password = check_policy(body.new_password, state.person.email, field="new_password")
    refusal = throttled(state, now)
    if refusal is not None:
        raise refusal
    current_ok = await identity.passwords.verify(state.password_hash, body.current_password)
    new_hash = await identity.passwords.hash(new_password) if current_ok else "-"
    command = ChangePassword(now, current_ok, principal.session_id, new_hash, identity.backoff)
    await _handle(runtime, identity, principal.account_id, command, request)
    if not current_ok:
        raise Invalid("current_password_wrong", "the current password is wrong", field="current_password")
    log.info("password_changed", account_id=principal.account_id)


@router.get("/sessions")
async def my_sessions(principal: Authenticated, runtime: Runtime) -> list[dict[str, Any]]:
    """The person's sessions (read model), the current one marked, so it can end the others."""
    found = await runtime.documents.find(SESSIONS, {"account_id": principal.account_id})
    now = runtime.clock().isoformat()
    return sorted(
        (
            {
                "session_id": doc["session_id"],
                "client_id": doc.get("client_id"),
                "started_at": doc.get("started_at"),
                "expires_at": doc.get("expires_at"),
                "current": doc["session_id"] == principal.session_id,
            }
            for doc in found
            if not doc.get("revoked") and doc.get("expires_at", "") > now and "session_id" in doc
        ),
        key=lambda item: str(item["started_at"]),
        reverse=True,
    )


@router.post("/sessions/{session_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(
    session_id: str, principal: Authenticated, request: Request, runtime: Runtime, identity: IdentityDep
) -> None:
    """Ends one of the person's own sessions (404 for anyone else's)."""
    state, _ = await runtime.commands.load(account, principal.account_id)
    if session_id not in state.sessions:
        raise NotFound("session_not_found", "no such session")
    await _handle(runtime, identity, principal.account_id, RevokeSessions((session_id,), "logout"), request)


@router.get("/.well-known/jwks.json")
async def jwks_document(identity: IdentityDep, response: Response) -> dict[str, Any]:
    """The public keys every service verifies access tokens with."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await identity.jwks()
