"""The back-office credential: a bearer token of the leasing company's core system, never a client's."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.events.errors import Unauthenticated
from libs.events.service.deps import get_runtime

_bearer = HTTPBearer(auto_error=False, scheme_name="BackOfficeToken")


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def require_backoffice(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """Returns the caller's actor name; 401 problem+json without a valid back-office token."""
    accepted = get_runtime(request).settings.backoffice_token_sha256
    if credentials is not None and accepted:
        presented = token_sha256(credentials.credentials)
        for expected in accepted:
            if hmac.compare_digest(presented, expected.lower()):
                return f"backoffice:{expected[:8]}"
    raise Unauthenticated("backoffice_token_required", "a valid back-office token is required")


BackOffice = Annotated[str, Depends(require_backoffice)]
