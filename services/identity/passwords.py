"""Passwords: the policy (length, common-password lists, context words; no composition rules) and argon2id.

ASVS 5.0 V6.2: at least 12 characters, up to 128 allowed (at least 64 must be), any Unicode, no
composition rules, refused when on a list of common passwords or when built from the person's own
address or the portal's name. Passwords are NFKC-normalized before hashing and checking, so the same
text typed on another keyboard verifies. Hashes: argon2id at or above OWASP's parameters.
"""

from __future__ import annotations

import asyncio
import gzip
import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from libs.events import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 128
CONTEXT_WORDS = ("strefaklienta", "strefa klienta", "aliorleasing", "alior leasing")


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("services.identity") / "data"
    words = set(gzip.decompress((data / "common-passwords.txt.gz").read_bytes()).decode().split())
    words.update((data / "common-passwords-pl.txt").read_text(encoding="utf-8").split())
    return frozenset(word.strip().lower() for word in words if word.strip())


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, email: str | None = None, field: str = "password") -> str:
    """The normalized password, or Invalid (422) naming the field and the rule it breaks."""
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        raise Invalid("password_too_short", f"at least {MIN_LENGTH} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise Invalid("password_too_long", f"at most {MAX_LENGTH} characters", field=field)
    lowered = password.lower()
    if lowered in common_passwords():
        raise Invalid("password_too_common", "this password is on a list of common passwords", field=field)
    context = [*CONTEXT_WORDS]
    if email:
        local = email.split("@", 1)[0].lower()
        context.extend([local, email.lower()] if len(local) >= 4 else [email.lower()])
    if any(word in lowered for word in context):
        raise Invalid(
            "password_contains_context", "do not build the password from your address or the portal's name", field=field
        )
    return password


class Passwords:
    """argon2id hashing off the event loop; verifying an unknown account costs the same as a known one."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
        )
        self._dummy = self._hasher.hash("an unknown account still costs one argon2id verification")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, normalize(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password and, after the same work, for no account at all."""
        return await asyncio.to_thread(self._verify, password_hash, normalize(password))

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
