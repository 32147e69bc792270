"""Codes and tokens: generated here from a CSPRNG, handed out once, stored only as hashes.

- SMS code: 6 digits. A million values are easy to try offline, so its hash is an HMAC keyed with
  identity's pepper (a secret file beside the signing key), never a bare digest.
- Link and refresh tokens: 256 random bits after a readable prefix naming the account (and the
  session), so the stream is found without a read model; SHA-256 is enough for such entropy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from libs.events.tokens import create_secret_file


def generate_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def sha256_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def load_or_create_pepper(path: Path) -> bytes:
    """Identity's HMAC key for codes, made on first start (mode 0600), never committed. Replicas
    starting together all hash with the one the first of them made."""
    create_secret_file(path, base64.b64encode(secrets.token_bytes(32)))
    return base64.b64decode(path.read_bytes())


@dataclass(frozen=True)
class CodeHasher:
    pepper: bytes

    def hash(self, account_id: str, code: str, purpose: str = "activation-code") -> str:
        message = f"{purpose}\0{account_id}\0{code}".encode()
        return "hmac-sha256:" + hmac.new(self.pepper, message, hashlib.sha256).hexdigest()


def _uuid(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None


def link_token(account_id: str) -> str:
    return f"{account_id}.{generate_secret()}"


def parse_link_token(token: str) -> str | None:
    """The account a link token names, or None for anything malformed."""
    account_id, _, secret = token.partition(".")
    return _uuid(account_id) if len(secret) >= 43 else None


def refresh_token(account_id: str, session_id: str) -> str:
    return f"{account_id}.{session_id}.{generate_secret()}"


def parse_refresh_token(token: str) -> tuple[str, str] | None:
    """(account id, session id) a refresh token names, or None for anything malformed."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[2]) < 43:
        return None
    account_id, session_id = _uuid(parts[0]), _uuid(parts[1])
    if account_id is None or session_id is None:
        return None
    return account_id, session_id
