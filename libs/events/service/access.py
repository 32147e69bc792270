"""The one FastAPI dependency every service uses to check the caller's client and scopes.

See libs/events/access.py for the model. The token (libs/events/tokens.py) is verified against
identity's JWKS; the `_access` read model then applies what changed since it was issued.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.events.access import ACCESS, SCOPES, Principal
from libs.events.errors import Forbidden, Unauthenticated
from libs.events.service.deps import get_runtime
from libs.events.tokens import InvalidToken, verify

_bearer = HTTPBearer(auto_error=False, scheme_name="AccessToken")


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthenticated("authentication_required", "log in first")
    runtime = get_runtime(request)
    try:
        kid = jwt.get_unverified_header(credentials.credentials).get("kid")
        claims = verify(credentials.credentials, await runtime.jwks.keys(want=kid))
    except (InvalidToken, jwt.PyJWTError):
        raise Unauthenticated("invalid_token", "the access token is invalid or expired") from None
    found = await runtime.documents.get_many(
        ACCESS, [f"session:{claims.sid}", f"account:{claims.sub}", f"grant:{claims.sub}:{claims.cid}"]
    )
    if found.get(f"session:{claims.sid}", {}).get("revoked"):
        raise Unauthenticated("session_ended", "the session has ended; log in again")
    if found.get(f"account:{claims.sub}", {}).get("active") is False:
        raise Unauthenticated("account_deactivated", "the account is deactivated")
    grant = found.get(f"grant:{claims.sub}:{claims.cid}")
    scopes = frozenset(claims.scp)
    contract_ids = frozenset(claims.ctr) if claims.ctr is not None else None
    if grant is not None:
        if not grant.get("active", True):
            raise Unauthenticated("access_revoked", "access to this client was withdrawn")
        scopes &= frozenset(grant.get("scopes", []))
        if grant.get("contract_ids") is not None:
            granted = frozenset(grant["contract_ids"])
            contract_ids = granted if contract_ids is None else contract_ids & granted
    return Principal(claims.sub, claims.sid, claims.cid, scopes, contract_ids)


Authenticated = Annotated[Principal, Depends(authenticate)]


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if it holds `scope` in its active client; 403 problem+json otherwise.

    Use it as `Annotated[Principal, Depends(require_scope("invoices:read"))]`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(principal: Authenticated) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden("scope_required", f"this needs the permission {scope!r}")
        return principal

    return dependency
