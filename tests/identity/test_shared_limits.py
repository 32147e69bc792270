"""Several identity processes count rate limits and failed logins together: the counters live in the
shared document store, so N replicas never allow N times the attempts."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from libs.events.docstore import DocumentStore
from libs.events.errors import TooManyRequests
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.sqlite_docstore import SqliteDocumentStore
from services.identity.context import Limits, identity_of
from services.identity.credentials import sha256_hash
from services.identity.domain import Backoff
from services.identity.limits import LIMITS, sweep_expired_limits
from services.identity.settings import IdentitySettings
from tests.identity.conftest import Zone, new_email
from tests.servers import MONGO_SKIP, server_setting

T0 = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
SETTINGS = IdentitySettings()
BACKOFF = Backoff(SETTINGS.login_free_failures, SETTINGS.login_backoff_base_seconds, SETTINGS.login_backoff_max_seconds)


@pytest.fixture(params=["sqlite", "mongo"])
async def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Limits, Limits]]:
    """The limits of two identity processes, each with its own connection to one store."""
    stores: list[DocumentStore]
    if request.param == "mongo":
        uri = server_setting("MONGO_URI")
        if uri is None:
            pytest.skip(MONGO_SKIP)
        database = f"limits_{uuid4().hex[:12]}"
        mongo = [await MongoDocumentStore(uri, database).open() for _ in range(2)]
        stores = list(mongo)
    else:
        stores = [await SqliteDocumentStore(tmp_path / "identity-readmodels.db").open() for _ in range(2)]
    secret = b"identity's pepper, the same in every process"
    yield Limits(SETTINGS, BACKOFF, stores[0], secret), Limits(SETTINGS, BACKOFF, stores[1], secret)
    if request.param == "mongo":
        await mongo[0].drop_database()
    for store in stores:
        await store.close()


async def test_requests_to_either_process_count_against_one_limit(two_processes: tuple[Limits, Limits]) -> None:
    first, second = two_processes
    email = new_email()
    limit, per_seconds = SETTINGS.activation_start_per_email
    for n in range(limit):
        await (first if n % 2 else second).start_email.hit(email, T0)
    for process in (first, second):
        with pytest.raises(TooManyRequests) as refused:
            await process.start_email.hit(email, T0 + timedelta(minutes=10))
        assert refused.value.retry_after == per_seconds - 600
    await first.start_email.hit(email, T0 + timedelta(seconds=per_seconds))


async def test_failed_logins_in_one_process_throttle_the_other(two_processes: tuple[Limits, Limits]) -> None:
    first, second = two_processes
    email = new_email()
    for _ in range(SETTINGS.login_free_failures):
        await second.login_email.check(email, T0)
        await first.login_email.failed(email, T0)
    with pytest.raises(TooManyRequests) as refused:
        await second.login_email.check(email, T0)
    assert (refused.value.code, refused.value.retry_after) == ("too_many_attempts", 1)
    await second.login_email.check(email, T0 + timedelta(seconds=1))
    await second.login_email.failed(email, T0 + timedelta(seconds=1))
    with pytest.raises(TooManyRequests):
        await first.login_email.check(email, T0 + timedelta(seconds=2))
    await first.login_email.succeeded(email)
    await second.login_email.check(email, T0 + timedelta(seconds=2))


async def test_the_sweep_deletes_only_counters_whose_window_passed(two_processes: tuple[Limits, Limits]) -> None:
    first, _ = two_processes
    await first.login_ip.hit("10.0.0.1", T0)
    await first.login_email.failed(new_email(), T0)
    store = first.login_ip.store
    assert await store.count(LIMITS) == 2
    assert await sweep_expired_limits(store, T0 + timedelta(seconds=SETTINGS.login_per_ip[1])) == 1
    assert await store.count(LIMITS) == 1
    await first.login_ip.hit("10.0.0.1", T0 + timedelta(seconds=61))


async def test_a_login_queued_too_long_behind_others_to_the_same_address_is_429(zone: Zone) -> None:
    email = new_email()
    identity = identity_of(zone.runtime)
    identity.settings.login_queue_seconds = 0.05
    async with identity.locks.hold(f"login:{sha256_hash(email)}"):
        answer = await asyncio.wait_for(zone.login(email), timeout=30)
    assert answer.status_code == 429
    assert (answer.json()["code"], answer.headers["retry-after"]) == ("too_many_attempts", "1")
    assert (await zone.login(email)).status_code == 401


async def test_failed_logins_are_forgotten_only_after_a_quiet_spell(two_processes: tuple[Limits, Limits]) -> None:
    """An attacker trying now and then never gets fresh free tries: each failure restarts the memory."""
    first, second = two_processes
    email = new_email()
    memory = timedelta(seconds=SETTINGS.login_email_failure_memory_seconds)
    every = memory * 2 / 3
    moment = T0
    for n in range(SETTINGS.login_free_failures + 1):
        moment = T0 + every * n
        await (first if n % 2 else second).login_email.check(email, moment)
        await (second if n % 2 else first).login_email.failed(email, moment)
    with pytest.raises(TooManyRequests) as refused:
        await first.login_email.check(email, moment)
    assert refused.value.retry_after == 2  # the sixth failure in a row: 1 s, then 2 s
    quiet = moment + memory
    await first.login_email.check(email, quiet)
    await first.login_email.failed(email, quiet)
    await second.login_email.check(email, quiet)


async def test_counter_ids_cannot_be_matched_against_a_list_of_addresses(tmp_path: Path) -> None:
    store = await SqliteDocumentStore(tmp_path / "identity-readmodels.db").open()
    email = new_email()
    try:
        for secret in (b"one deployment's pepper", b"another deployment's pepper"):
            await Limits(SETTINGS, BACKOFF, store, secret).login_email.failed(email, T0)
        ids = [counter["_id"] for counter in await store.find(LIMITS)]
    finally:
        await store.close()
    assert len(set(ids)) == 2
    plain = hashlib.sha256(f"login-email-failures\0{email}".encode()).hexdigest()
    assert plain not in ids
    assert all(email not in counter_id for counter_id in ids)
