"""What identity keeps per runtime: its keys, the password hasher, the limiters and the account locks."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import Depends, Request
from nacl.public import PublicKey

from libs.events.docstore import DocumentStore
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
from services.identity.limits import CounterKeys, FailureBackoff, Rate, RateLimiter, sweep_limits_forever
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings

log = structlog.get_logger(__name__)

PEPPER_FILE = "identity-code-pepper"


class Limits:
    def __init__(self, settings: IdentitySettings, backoff: Backoff, store: DocumentStore, secret: bytes) -> None:
        keys = CounterKeys(secret)

        def rate(name: str, limit: tuple[int, int]) -> RateLimiter:
            return RateLimiter(name, Rate(*limit), store, keys)

        self.start_email = rate("start-email", settings.activation_start_per_email)
        self.start_ip = rate("start-ip", settings.activation_start_per_ip)
        self.verify_email = rate("verify-email", settings.activation_verify_per_email)
        self.verify_ip = rate("verify-ip", settings.activation_verify_per_ip)
        self.complete_ip = rate("complete-ip", settings.activation_complete_per_ip)
        self.login_ip = rate("login-ip", settings.login_per_ip)
        self.refresh_ip = rate("refresh-ip", settings.refresh_per_ip)
        self.contact_ip = rate("contact-ip", settings.login_per_ip)
        email_memory = timedelta(seconds=settings.login_email_failure_memory_seconds)
        self.login_email = FailureBackoff("login-email-failures", backoff, store, keys, email_memory)
        ip_backoff = Backoff(settings.ip_free_failures, backoff.base_seconds, backoff.cap_seconds)
        ip_memory = timedelta(seconds=settings.ip_failure_memory_seconds)
        self.login_address = FailureBackoff("login-ip-failures", ip_backoff, store, keys, ip_memory)


class Identity:
    def __init__(self, settings: IdentitySettings, store: DocumentStore) -> None:
        self.settings = settings
        secrets_dir = settings.secrets_dir
        self.keyring = SigningKeyring(secrets_dir)
        self._keys: SigningKeys | None = None
        self._keys_stamp: object = None
        self._keys_problem: str | None = None
        self._reading = threading.Lock()
        self.codes = CodeHasher(load_or_create_pepper(secrets_dir / PEPPER_FILE))
        self.passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
        self.backoff = Backoff(
            settings.login_free_failures, settings.login_backoff_base_seconds, settings.login_backoff_max_seconds
        )
        self.limits = Limits(settings, self.backoff, store, self.codes.pepper)
        self.locks = KeyedLocks()
        self._notifications_key: PublicKey | None = None

    def signing_keys(self) -> SigningKeys:
        """The keyring as it is on disk: read again once a rotation or a prune changed its files (the
        operator's command, or an updated Secret), and the JWKS file written before a new key signs.

        Blocking file I/O: async code calls `current_keys`. The first call (identity's start) makes the
        keys a new keyring lacks and raises on a keyring it cannot use; later calls never make a key: a
        file gone missing, damaged or unreadable keeps the last good keys (an error naming the file is
        logged, once). While one call reads the files, the others go on with the last good keys, so a
        stalled mount holds up one request, not every token."""
        if not self._reading.acquire(blocking=self._keys is None):
            assert self._keys is not None
            return self._keys
        try:
            return self._read_keyring()
        finally:
            self._reading.release()

    def _read_keyring(self) -> SigningKeys:
        last, stamp = self._keys, None
        try:
            stamp = self.keyring.stamp()
            if last is not None and stamp == self._keys_stamp:
                return last
            keys = self.keyring.load(create=last is None)
        except SigningKeyError as error:
            if last is None:
                raise
            self._keys_stamp = stamp
            return self._keep(last, "signing_keys_unreadable", str(error))
        try:
            self._write_jwks(keys)
        except OSError as error:
            problem = f"{self.settings.jwks_location} cannot be written: {error.strerror or error}"
            if last is None:
                raise SigningKeyError(problem) from None
            return self._keep(last, "jwks_unwritable", problem)  # tried again at the next token
        self._keys_problem = None
        if last is None:
            stamp = self.keyring.stamp()  # the files the first load made
            if keys.upcoming is None:
                log.warning("signing_key_upcoming_missing", file=str(self.keyring.upcoming_path))
        self._keys, self._keys_stamp = keys, stamp
        published = [key_id(key) for key in keys.published()]
        log.info("signing_keys_loaded", signing_kid=keys.kid, published_kids=published)
        return keys

    def _keep(self, last: SigningKeys, event: str, problem: str) -> SigningKeys:
        """The last good keys go on signing; the problem is logged once, not at every token."""
        if problem != self._keys_problem:
            self._keys_problem = problem
            log.error(event, error=problem, signing_kid=last.kid)
        return last

    async def current_keys(self) -> SigningKeys:
        """`signing_keys` off the event loop: every token signed and every JWKS served looks at the
        keyring's files first, so a rotation takes effect at the very next token."""
        return await asyncio.to_thread(self.signing_keys)

    async def jwks(self) -> dict[str, object]:
        return jwks((await self.current_keys()).published())

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

    async def access_token(self, account_id: str, session_id: str, grant: Grant) -> str:
        claims = AccessClaims(
            sub=account_id, sid=session_id, cid=grant.client_id, scp=grant.scopes, ctr=grant.contract_ids
        )
        keys = await self.current_keys()
        return sign(claims, keys.current, self.settings.access_token_ttl_seconds)


_identities: weakref.WeakKeyDictionary[ServiceRuntime, Identity] = weakref.WeakKeyDictionary()


def identity_of(runtime: ServiceRuntime) -> Identity:
    identity = _identities.get(runtime)
    if identity is None:
        settings = runtime.settings
        if not isinstance(settings, IdentitySettings):
            settings = IdentitySettings.model_validate(settings.model_dump())
        # The counters are no projection: the store under the projections' version aliases holds them.
        identity = _identities[runtime] = Identity(settings, runtime.documents.inner)
    return identity


async def on_start(runtime: ServiceRuntime) -> None:
    """Makes (the keys a new keyring lacks) or loads the keys and publishes the JWKS before any token is
    signed; a keyring it cannot use stops the start."""
    identity = await asyncio.to_thread(identity_of, runtime)
    await asyncio.to_thread(identity.signing_keys)
    log.info("identity_keys_ready", jwks=identity.settings.jwks_location)


async def sweep_limits(runtime: ServiceRuntime) -> None:
    """Identity's background loop (the worker): deletes expired rate-limit counters now and then."""
    identity = identity_of(runtime)
    interval = identity.settings.rate_limit_sweep_seconds
    if interval > 0:
        await sweep_limits_forever(runtime.documents.inner, runtime.clock, interval)


async def get_identity(request: Request) -> Identity:
    return identity_of(get_runtime(request))


IdentityDep = Annotated[Identity, Depends(get_identity)]


def client_ip(request: Request, identity: Identity) -> str:
    """The caller's address; X-Forwarded-For is believed only from a configured proxy."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in identity.settings.trusted_proxies:
        return forwarded.split(",")[-1].strip() or peer
    return peer
