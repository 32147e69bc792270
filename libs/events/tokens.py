"""Access tokens: JWTs signed by identity (EdDSA), checked by every service against identity's JWKS.

Identity signs; every other service only verifies, with the public keys identity publishes at
/api/identity/.well-known/jwks.json (embedded: the same JWKS file under the data folder).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal
from uuid import uuid4

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

ISSUER: Final = "strefa-klienta/identity"
AUDIENCE: Final = "strefa-klienta"
ALGORITHMS: Final = ["EdDSA"]
"""The allow-list: a token signed with anything else (none, HS256, RS256...) is refused."""


class AccessClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str
    """The account (person) id."""
    sid: str
    """The session id: revoking the session revokes every token of it."""
    cid: str
    """The active client (tenant) the person acts for."""
    scp: tuple[str, ...] = ()
    """Permission scopes within that client."""
    ctr: tuple[str, ...] | None = None
    """Contract ids the person is limited to within the client; None means all of them."""
    typ: Literal["access"] = "access"
    iat: int = Field(default_factory=lambda: int(time.time()))
    exp: int = 0
    jti: str = Field(default_factory=lambda: uuid4().hex)


class InvalidToken(Exception):
    pass


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Identity's signing key, made on first start (mode 0600), never committed."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidToken(f"{path} is not an Ed25519 key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    path.write_bytes(private_key_to_pem(key))
    path.chmod(0o600)
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()[:16]


def jwks(public_keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    """The JSON Web Key Set of the given public keys (current first, then still-valid older ones)."""
    keys = []
    for public_key in public_keys:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public_key))
        keys.append({**jwk, "kid": key_id(public_key), "alg": "EdDSA", "use": "sig"})
    return {"keys": keys}


def sign(claims: AccessClaims, key: Ed25519PrivateKey, ttl_seconds: int) -> str:
    now = int(time.time())
    payload = {**claims.model_dump(), "iat": now, "exp": now + ttl_seconds, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": key_id(key.public_key()), "typ": "JWT"})


def verify(token: str, keys: Mapping[str, Ed25519PublicKey]) -> AccessClaims:
    """Checks signature (allow-listed algorithm, known key id), iss, aud, exp and type."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {error}") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not allowed")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidToken("unknown signing key")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "cid", "typ"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    if payload.get("typ") != "access":
        raise InvalidToken("not an access token")
    return AccessClaims.model_validate(payload)


def public_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        public_key = jwt.algorithms.OKPAlgorithm.from_jwk(json.dumps(jwk))
        if isinstance(public_key, Ed25519PublicKey):
            keys[str(jwk["kid"])] = public_key
    return keys


class JwksSource:
    """Identity's public keys, from a file (embedded) or an URL (cluster), cached and re-read on an
    unknown key id at most every `refresh_seconds`."""

    def __init__(self, location: str, refresh_seconds: float = 30.0, unknown_kid_seconds: float = 1.0) -> None:
        self.location = location
        self.refresh_seconds = refresh_seconds
        self.unknown_kid_seconds = unknown_kid_seconds
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")

    async def keys(self, want: str | None = None) -> dict[str, Ed25519PublicKey]:
        age = time.monotonic() - self._loaded_at
        unknown = want is not None and want not in self._keys
        if age > self.refresh_seconds or (unknown and age > self.unknown_kid_seconds):
            self._keys = public_keys_from_jwks(await self._fetch())
            self._loaded_at = time.monotonic()
        return self._keys

    async def _fetch(self) -> dict[str, Any]:
        if self.location.startswith(("http://", "https://")):
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self.location)
                response.raise_for_status()
                result: dict[str, Any] = response.json()
                return result
        return await asyncio.to_thread(_read_jwks_file, Path(self.location.removeprefix("file:")))


def _read_jwks_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"keys": []}
    result: dict[str, Any] = json.loads(path.read_text())
    return result
