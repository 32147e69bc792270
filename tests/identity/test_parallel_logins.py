"""Wrong passwords sent all at once for one address: counted and throttled exactly as one by one
(test_sessions.py), and alike for a known and an unknown address."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.identity.context import identity_of
from tests.identity.conftest import Zone, new_email, warsaw

WRONG_PASSWORD = "Złe hasło do konta 123"
PARALLEL = 20


@pytest.mark.parametrize("known", [True, False])
async def test_parallel_wrong_logins_count_the_free_failures_and_the_rest_are_429(zone: Zone, known: bool) -> None:
    email = new_email()
    if known:
        await zone.provision(email)
        await zone.activate(email)
    free_failures = identity_of(zone.runtime).settings.login_free_failures
    assert free_failures < PARALLEL
    moment = warsaw("2026-05-12 10:00:00")
    zone.freeze(moment)

    answers = await asyncio.gather(*(zone.login(email, WRONG_PASSWORD) for _ in range(PARALLEL)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * free_failures + [429] * (PARALLEL - free_failures)
    assert {answer.headers["content-type"] for answer in answers} == {"application/problem+json"}
    assert len({answer.text for answer in answers if answer.status_code == 401}) == 1
    throttled = [answer for answer in answers if answer.status_code == 429]
    assert {(answer.json()["code"], answer.headers["retry-after"]) for answer in throttled} == {
        ("too_many_attempts", "1")
    }
    if known:
        failed = await zone.account_events(email, "LoginFailed")
        assert sorted(event.data["failed_attempts"] for event in failed) == list(range(1, free_failures + 1))

    right = await zone.login(email)
    assert (right.status_code, right.json()["code"], right.headers["retry-after"]) == (429, "too_many_attempts", "1")
    zone.freeze(moment + timedelta(seconds=1))
    assert (await zone.login(email)).status_code == (200 if known else 401)
    if known:
        assert len(await zone.account_events(email, "LoginFailed")) == free_failures
        assert len(await zone.account_events(email, "SessionStarted")) == 1
