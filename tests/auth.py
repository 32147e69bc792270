"""Access tokens for tests of services other than identity, signed the way identity signs them.

This is no stub: the token is signed with the portal's own identity signing key (made in its data
folder) and verified by the service under test exactly as in production, through the JWKS file.
Identity's own tests obtain tokens by logging in.
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

from libs.events.access import ALL_SCOPES
from libs.events.tokens import AccessClaims, jwks, load_or_create_signing_key, sign


def mint_access_token(
    secrets_dir: Path,
    client_id: str,
    scopes: tuple[str, ...] = ALL_SCOPES,
    account_id: str | None = None,
    session_id: str | None = None,
    contract_ids: tuple[str, ...] | None = None,
    ttl_seconds: int = 300,
) -> str:
    key = load_or_create_signing_key(secrets_dir / "identity-signing-key.pem")
    jwks_path = secrets_dir / "jwks.json"
    published = json.loads(jwks_path.read_text()) if jwks_path.exists() else {"keys": []}
    mine = jwks([key.public_key()])["keys"][0]
    if mine["kid"] not in {k["kid"] for k in published["keys"]}:
        jwks_path.write_text(json.dumps({"keys": [mine, *published["keys"]]}))
    claims = AccessClaims(
        sub=account_id or f"acc-{uuid4().hex[:8]}",
        sid=session_id or uuid4().hex,
        cid=client_id,
        scp=scopes,
        ctr=contract_ids,
    )
    return sign(claims, key, ttl_seconds)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
