"""Access tokens: JWTs signed by identity (EdDSA), checked by every service against identity's JWKS.

Identity signs; every other service only verifies, with the public keys identity publishes at
/api/identity/.well-known/jwks.json (embedded: the same JWKS file under the data folder).

Identity's keyring, in its secrets folder (`SigningKeyring`): `identity-signing-key.pem` signs;
`identity-signing-key.next.pem` is published ahead of its use and signs after the next rotation, so
every verifier and every identity replica knows it before any token carries its kid; each key a
rotation retired is kept as its public half only, `identity-signing-keys/<kid>.pem` (the file's
modification time is when it was retired), and published until every token it signed has expired.
Keys are made only at identity's start (both, on the first one) and by the rotation command: a
running identity that finds a key file gone never replaces it with a key nobody has seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from uuid import uuid4

import httpx
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

ISSUER: Final = "strefa-klienta/identity"
AUDIENCE: Final = "strefa-klienta"
ALGORITHMS: Final = ["EdDSA"]
"""The allow-list: a token signed with anything else (none, HS256, RS256...) is refused."""

SIGNING_KEY_FILE: Final = "identity-signing-key.pem"
NEXT_SIGNING_KEY_FILE: Final = "identity-signing-key.next.pem"
RETIRED_SIGNING_KEYS_DIR: Final = "identity-signing-keys"


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


class SigningKeyError(Exception):
    """A key file that cannot be used. The message names the file, never its content."""


class NoSigningKey(SigningKeyError):
    """The keyring has no current key: identity has not started there yet, or the folder is wrong."""


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Identity's signing key, made on first start (mode 0600), never committed."""
    create_secret_file(path, private_key_to_pem(Ed25519PrivateKey.generate()))
    return load_signing_key(path)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = _load_key(path, serialization.load_pem_private_key, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_verifying_key(path: Path) -> Ed25519PublicKey:
    key = _load_key(path, serialization.load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return key


def _load_key(path: Path, load: Callable[..., object], **options: Any) -> object:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise NoSigningKey(f"no key file {path}") from None
    except OSError as error:
        raise SigningKeyError(f"{path} cannot be read: {error.strerror}") from None
    try:
        return load(content, **options)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{path} is damaged or not a PEM key file") from None


def write_secret_file(path: Path, content: bytes, modified_at: datetime | None = None) -> None:
    """Written whole under a temporary name (mode 0600 from the start) and renamed: a reader sees the
    old file or the new one, never a half-written or briefly world-readable one."""
    os.replace(_write_temporary(path, content, modified_at), path)


def create_secret_file(path: Path, content: bytes) -> bool:
    """Makes the file with `content` unless it exists (then leaves it as it is); True when this call made it.

    Processes starting together on one secrets folder (identity's replicas) each come with their own
    candidate: the first to link its complete file wins and the others keep the winner's, so every
    caller reads the file afterwards and never uses its candidate. A folder already holding the file
    (a read-only Secret) is not written to."""
    if path.exists():
        return False
    temporary = _write_temporary(path, content)
    try:
        os.link(temporary, path)  # unlike os.replace, fails when another process got there first
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def _write_temporary(path: Path, content: bytes, modified_at: datetime | None = None) -> Path:
    """`content` in a new file beside `path`, mode 0600 from the start (mkstemp), under a name of its own."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if modified_at is not None:
            os.utime(temporary, (modified_at.timestamp(), modified_at.timestamp()))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


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


# --- identity's keyring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetiredKey:
    path: Path
    public_key: Ed25519PublicKey
    retired_at: datetime

    @property
    def kid(self) -> str:
        return key_id(self.public_key)


@dataclass(frozen=True)
class SigningKeys:
    current: Ed25519PrivateKey
    """Signs every new token."""
    upcoming: Ed25519PrivateKey | None
    """Published now, signs after the next rotation (None in a keyring made before there was one)."""
    retired: tuple[RetiredKey, ...]
    """Newest first; published until pruned."""

    @property
    def kid(self) -> str:
        return key_id(self.current.public_key())

    def published(self) -> list[Ed25519PublicKey]:
        """The JWKS: current first, then the upcoming key, then the retired ones; each key once."""
        keys = [self.current.public_key()]
        if self.upcoming is not None:
            keys.append(self.upcoming.public_key())
        keys.extend(retired.public_key for retired in self.retired)
        unique: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            unique.setdefault(key_id(key), key)
        return list(unique.values())


@dataclass(frozen=True)
class Rotation:
    retired: str | None
    """The kid that signed until now (None when a compromised key was dropped instead)."""
    current: str
    upcoming: str
    pruned: tuple[str, ...]
    rotated: bool = True
    """False when the keyring had no upcoming key: one was only made and published, nothing else."""


class SigningKeyring:
    """Identity's signing keys in its secrets folder (see the module docstring for the layout).

    Every file is written under a temporary name and renamed into place, so a running identity
    reloading the keyring mid-rotation sees each file whole, old or new.
    """

    def __init__(self, folder: Path) -> None:
        self.current_path = folder / SIGNING_KEY_FILE
        self.upcoming_path = folder / NEXT_SIGNING_KEY_FILE
        self.retired_dir = folder / RETIRED_SIGNING_KEYS_DIR

    def load(self, create: bool = False) -> SigningKeys:
        """Every key, each file checked: a damaged or unreadable one raises SigningKeyError naming it.

        `create` is for identity's start only, never for a reload: a missing current key is made (the
        first start) and so is a missing upcoming key, so that even the first rotation signs with a key
        published ahead. Where the folder is read-only (a Secret), a missing upcoming key stays missing."""
        if create:
            self._create_missing()
        try:
            current = load_signing_key(self.current_path)
            upcoming = load_signing_key(self.upcoming_path) if self.upcoming_path.exists() else None
            return SigningKeys(current, upcoming, self._retired())
        except OSError as error:
            raise _unreadable(error, self.retired_dir) from None

    def _create_missing(self) -> None:
        """Replicas starting together keep the key whichever of them made first: `load` reads the files."""
        try:
            create_secret_file(self.current_path, private_key_to_pem(Ed25519PrivateKey.generate()))
        except OSError as error:
            raise SigningKeyError(f"{self.current_path} cannot be made: {error.strerror}") from None
        # Identity signs without an upcoming key; `rotate-signing-key` then publishes one first (`rotate`).
        with contextlib.suppress(OSError):
            create_secret_file(self.upcoming_path, private_key_to_pem(Ed25519PrivateKey.generate()))

    def _retired(self) -> tuple[RetiredKey, ...]:
        if not self.retired_dir.is_dir():
            return ()
        found = [
            RetiredKey(path, load_verifying_key(path), datetime.fromtimestamp(path.stat().st_mtime, UTC))
            for path in self.retired_dir.iterdir()
            if path.suffix == ".pem" and not path.name.startswith(".")
        ]
        return tuple(sorted(found, key=lambda retired: retired.retired_at, reverse=True))

    def stamp(self) -> tuple[tuple[int, int, int] | None, ...]:
        """Changes whenever a rotation or a prune replaced, added or removed a file of the keyring."""
        try:
            return tuple(_file_stamp(path) for path in (self.current_path, self.upcoming_path, self.retired_dir))
        except OSError as error:
            raise _unreadable(error, self.retired_dir.parent) from None

    def rotate(self, now: datetime, keep_retired: timedelta, compromised: bool = False) -> Rotation:
        """The upcoming key becomes current; the current one is retired (its public half kept, published,
        no longer signing); a fresh upcoming key is made; retired keys older than `keep_retired` are
        pruned. A keyring without an upcoming key (made before there was one, on a read-only folder)
        only gets one: nothing is rotated, since no verifier has seen that key yet; the next rotation,
        once identity publishes it, signs with it.

        `compromised`: the current and the upcoming keys are not to be trusted: both are replaced by
        fresh ones and every retired key is dropped now, so every token signed so far is refused (the
        portal renews access tokens with the refresh token, which no signing key protects)."""
        keys = self.load(create=False)
        if compromised:
            pruned = self._drop(keys.retired)
            write_secret_file(self.current_path, private_key_to_pem(Ed25519PrivateKey.generate()))
            retired = None
        elif keys.upcoming is None:
            upcoming = Ed25519PrivateKey.generate()
            write_secret_file(self.upcoming_path, private_key_to_pem(upcoming))
            return Rotation(None, keys.kid, key_id(upcoming.public_key()), (), rotated=False)
        else:
            retired = keys.kid
            write_secret_file(self.retired_dir / f"{retired}.pem", public_key_to_pem(keys.current.public_key()), now)
            os.replace(self.upcoming_path, self.current_path)
            pruned = self.prune(now, keep_retired)
        upcoming = Ed25519PrivateKey.generate()
        write_secret_file(self.upcoming_path, private_key_to_pem(upcoming))
        current = load_signing_key(self.current_path)
        return Rotation(retired, key_id(current.public_key()), key_id(upcoming.public_key()), pruned)

    def prune(self, now: datetime, keep_retired: timedelta) -> tuple[str, ...]:
        """Deletes the keys retired `keep_retired` or longer ago; their kids."""
        return self._drop(retired for retired in self._retired() if retired.retired_at + keep_retired <= now)

    @staticmethod
    def _drop(retired_keys: Iterable[RetiredKey]) -> tuple[str, ...]:
        dropped = []
        for retired in retired_keys:
            retired.path.unlink(missing_ok=True)
            dropped.append(retired.kid)
        return tuple(dropped)


def _unreadable(error: OSError, folder: Path) -> SigningKeyError:
    return SigningKeyError(f"{error.filename or folder} cannot be read: {error.strerror or error}")


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


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
