"""The pure domain: no I/O, so it is tested by calling decide/evolve directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.events.access import ALL_SCOPES
from libs.events.errors import Unauthenticated
from services.identity.domain import (
    Account,
    Backoff,
    Person,
    Provision,
    Refresh,
    RefreshTokenReused,
    Session,
    SessionOrigin,
    account_id_for,
    code_expiry,
    decide,
    decide_session,
    evolve,
    evolve_session,
    link_expiry,
)
from tests.identity.conftest import warsaw


def test_the_account_id_ignores_the_case_of_the_address() -> None:
    assert account_id_for("Zofia@Firma.PL ") == account_id_for("zofia@firma.pl")
    assert account_id_for("zofia@firma.pl") != account_id_for("zofia2@firma.pl")


@pytest.mark.parametrize(
    ("issued", "hours_left"),
    [("2026-03-29 00:00:00", 23), ("2026-10-25 00:00:00", 25), ("2026-06-15 00:00:00", 24)],
)
def test_a_code_lives_until_warsaw_midnight_across_dst(issued: str, hours_left: int) -> None:
    now = warsaw(issued)
    assert code_expiry(now, None) - now == timedelta(hours=hours_left)
    assert code_expiry(now, 10) - now == timedelta(minutes=10)
    assert code_expiry(warsaw(issued.replace("00:00:00", "23:55:00")), 10) == code_expiry(now, None)


def test_a_link_lives_until_midnight_after_the_next_day() -> None:
    assert link_expiry(warsaw("2026-03-28 23:59:59")) == warsaw("2026-03-30 00:00:00")
    assert link_expiry(warsaw("2026-10-25 00:00:00")) == warsaw("2026-10-27 00:00:00")


def test_the_backoff_doubles_after_the_free_tries_up_to_the_cap() -> None:
    backoff = Backoff(free=5, base_seconds=1, cap_seconds=900)
    assert [backoff.delay(n) for n in range(1, 8)] == [0, 0, 0, 0, 1, 2, 4]
    assert backoff.delay(100) == 900


def _provision(client_id: str = "CL-1") -> Provision:
    person = Person("Jan", "Kowalski", "jan@firma.pl", "+48601234567")
    return Provision(account_id_for("jan@firma.pl"), person, client_id, "Firma", ALL_SCOPES, None, "contract:1")


def test_provisioning_twice_for_one_client_decides_nothing_the_second_time() -> None:
    state = Account()
    for event in decide(state, _provision()):
        state = evolve(state, event)
    assert decide(state, _provision()) == []
    assert [type(e).__name__ for e in decide(state, _provision("CL-2"))] == ["ClientAccessGranted"]


def test_a_spent_refresh_token_is_recognized_as_reuse() -> None:
    now = datetime(2026, 5, 12, 8, tzinfo=UTC)
    origin = SessionOrigin("s1", "CL-1", "h0", now + timedelta(minutes=30), now + timedelta(hours=12))
    state = Session()
    command = Refresh(now, "a1", origin, "h0", "h1", now + timedelta(minutes=30))
    for event in decide_session(state, command):
        state = evolve_session(state, event)
    with pytest.raises(RefreshTokenReused):
        decide_session(state, Refresh(now, "a1", origin, "h0", "h2", now + timedelta(minutes=30)))
    with pytest.raises(Unauthenticated):
        decide_session(state, Refresh(now, "a1", origin, "unknown", "h2", now + timedelta(minutes=30)))
    assert len(decide_session(state, Refresh(now, "a1", origin, "h1", "h2", now + timedelta(minutes=30)))) == 1
