"""What identity keeps per runtime: its keys, the password hasher, the limiters and the account locks."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import weakref
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import Depends, Request
from nacl.public import PublicKey

from libs.events.locks import KeyedLocks
from libs.events.sealed import (
    NOTIFICATIONS_SEALING_KEY,
    NotificationRequest,
    SealedMessage,
    load_public_key,
    seal_notification,
)
from libs.events.service.deps import get_runtime
from libs.events.service.runtime import ServiceRuntime
from libs.events.tokens import AccessClaims, SigningKeyError, SigningKeyring, SigningKeys, jwks, key_id, sign
from services.identity.credentials import CodeHasher, load_or_create_pepper
from services.identity.domain import Backoff, Grant
from services.identity.limits import FailureBackoff, Rate, RateLimiter
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings

log = structlog.get_logger(__name__)

PEPPER_FILE = "identity-code-pepper"


class Limits:
    def __init__(self, settings: IdentitySettings, backoff: Backoff) -> None:
        def rate(name: str, limit: tuple[int, int]) -> RateLimiter:
            return RateLimiter(name, Rate(*limit))

        self.start_email = rate("start-email", settings.activation_start_per_email)
        self.start_ip = rate("start-ip", settings.activation_start_per_ip)
        self.verify_email = rate("verify-email", settings.activation_verify_per_email)
        self.verify_ip = rate("verify-ip", settings.activation_verify_per_ip)
        self.complete_ip = rate("complete-ip", settings.activation_complete_per_ip)
        self.login_ip = rate("login-ip", settings.login_per_ip)
        self.refresh_ip = rate("refresh-ip", settings.refresh_per_ip)
        self.contact_ip = rate("contact-ip", settings.login_per_ip)
        self.login_email = FailureBackoff("login-email", backoff)
        ip_backoff = Backoff(settings.ip_free_failures, backoff.base_seconds, backoff.cap_seconds)
        self.login_address = FailureBackoff("login-ip", ip_backoff, forget_seconds=24 * 3600)


class Identity:
    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        secrets_dir = settings.secrets_dir
        self.keyring = SigningKeyring(secrets_dir)
        self._keys: SigningKeys | None = None
        self._keys_stamp: object = None
        self.codes = CodeHasher(load_or_create_pepper(secrets_dir / PEPPER_FILE))
        self.passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
        self.backoff = Backoff(
            settings.login_free_failures, settings.login_backoff_base_seconds, settings.login_backoff_max_seconds
        )
        self.limits = Limits(settings, self.backoff)
        self.locks = KeyedLocks()
        self._notifications_key: PublicKey | None = None

    def signing_keys(self) -> SigningKeys:
        """The keyring as it is on disk: read again once a rotation or a prune changed its files (the
        operator's command, or an updated Secret), and the JWKS file written before a new key signs.
        A keyring that turns unreadable keeps the last good keys (logged); at the first load it raises."""
        stamp = self.keyring.stamp()
        if self._keys is not None and stamp == self._keys_stamp:
            return self._keys
        try:
            keys = self.keyring.load()
        except SigningKeyError as error:
            if self._keys is None:
                raise
            self._keys_stamp = stamp
            log.error("signing_keys_unreadable", error=str(error), signing_kid=self._keys.kid)
            return self._keys
        self._write_jwks(keys)
        self._keys, self._keys_stamp = keys, stamp
        published = [key_id(key) for key in keys.published()]
        log.info("signing_keys_loaded", signing_kid=keys.kid, published_kids=published)
        return keys

    def jwks(self) -> dict[str, object]:
        return jwks(self.signing_keys().published())

    def _write_jwks(self, keys: SigningKeys) -> None:
        """Other services verify tokens with these keys: embedded, they read this file."""
        location = self.settings.jwks_location
        if location.startswith(("http://", "https://")):
            return
        path = Path(location.removeprefix("file:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(jwks(keys.published()), handle)
        os.replace(handle.name, path)

    def seal(self, request: NotificationRequest) -> SealedMessage:
        if self._notifications_key is None:
            path = self.settings.secrets_dir / f"{NOTIFICATIONS_SEALING_KEY}.pub"
            self._notifications_key = load_public_key(path)
        return seal_notification(request, self._notifications_key)

    def access_token(self, account_id: str, session_id: str, grant: Grant) -> str:
        claims = AccessClaims(
            sub=account_id, sid=session_id, cid=grant.client_id, scp=grant.scopes, ctr=grant.contract_ids
        )
        return sign(claims, self.signing_keys().current, self.settings.access_token_ttl_seconds)


_identities: weakref.WeakKeyDictionary[ServiceRuntime, Identity] = weakref.WeakKeyDictionary()


def identity_of(runtime: ServiceRuntime) -> Identity:
    identity = _identities.get(runtime)
    if identity is None:
        settings = runtime.settings
        if not isinstance(settings, IdentitySettings):
            settings = IdentitySettings.model_validate(settings.model_dump())
        identity = _identities[runtime] = Identity(settings)
    return identity


async def on_start(runtime: ServiceRuntime) -> None:
    """Makes (first start) or loads the keys and publishes the JWKS before any token is signed."""
    identity = await asyncio.to_thread(identity_of, runtime)
    await asyncio.to_thread(identity.signing_keys)
    log.info("identity_keys_ready", jwks=identity.settings.jwks_location)


def get_identity(request: Request) -> Identity:
    return identity_of(get_runtime(request))


IdentityDep = Annotated[Identity, Depends(get_identity)]


def client_ip(request: Request, identity: Identity) -> str:
    """The caller's address; X-Forwarded-For is believed only from a configured proxy."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in identity.settings.trusted_proxies:
        return forwarded.split(",")[-1].strip() or peer
    return peer
