"""Login, refresh-token rotation, logout, password change, throttling and the JWKS."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import jwt
import pytest

from libs.events.tokens import public_keys_from_jwks, verify
from tests.helpers import eventually
from tests.identity.conftest import CLIENT, PASSWORD, Zone, bearer, new_email, other_service, warsaw

NEW_PASSWORD = "Nowe hasło po zmianie 2026"


async def _me_status(zone: Zone, token: str) -> int:
    return (await zone.http.get("/api/identity/me", headers=bearer(token))).status_code


async def test_login_gives_a_short_lived_signed_access_token_and_a_refresh_cookie(zone: Zone) -> None:
    email = new_email()
    account_id = await zone.provision(email)
    await zone.activate(email)
    response = await zone.login(email)
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["client_id"]) == ("Bearer", 300, CLIENT[0])
    assert body["refresh_token"] is None  # a browser: the refresh token only in the HttpOnly cookie
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Secure-sk_refresh=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/identity", "Max-Age=1800"):
        assert attribute in cookie
    jwks = (await zone.http.get("/api/identity/.well-known/jwks.json")).json()
    claims = verify(body["access_token"], public_keys_from_jwks(jwks))
    assert (claims.sub, claims.cid, claims.typ, claims.ctr) == (account_id, CLIENT[0], "access", None)
    assert claims.exp - claims.iat == 300
    assert "subaccounts:manage" in claims.scp
    (started,) = await zone.account_events(email, "SessionStarted")
    assert started.data["session_id"] == claims.sid
    assert started.data["refresh_token_hash"].startswith("sha256:")


async def test_the_jwks_is_served_and_written_where_other_services_read_it(zone: Zone) -> None:
    served = (await zone.http.get("/api/identity/.well-known/jwks.json")).json()
    written = json.loads((zone.data_dir / "secrets" / "jwks.json").read_text())
    assert served == written
    current, published_ahead = served["keys"]  # the key that signs, then the one the next rotation signs with
    for key in (current, published_ahead):
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
        assert "d" not in key
    assert current["kid"] != published_ahead["kid"]


async def test_unknown_address_wrong_password_and_inactive_account_get_the_same_401(zone: Zone) -> None:
    active, provisioned = new_email("aktywny"), new_email("nowy")
    await zone.provision(active)
    await zone.activate(active)
    await zone.provision(provisioned)
    answers = [
        await zone.login(new_email("nieznany")),
        await zone.login(active, "Złe hasło do konta 123"),
        await zone.login(provisioned),
    ]
    assert {answer.status_code for answer in answers} == {401}
    assert len({answer.text for answer in answers}) == 1
    assert answers[0].json()["code"] == "invalid_credentials"
    assert answers[0].headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("known", [True, False])
async def test_failed_logins_are_throttled_per_account_with_exponential_backoff(zone: Zone, known: bool) -> None:
    email = new_email()
    if known:
        await zone.provision(email)
        await zone.activate(email)
    zone.freeze(warsaw("2026-05-12 10:00:00"))
    answers = [await zone.login(email, "Złe hasło do konta 123") for _ in range(5)]
    assert [answer.status_code for answer in answers] == [401] * 5
    throttled = await zone.login(email)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert throttled.json()["code"] == "too_many_attempts"
    if known:
        failed = await zone.account_events(email, "LoginFailed")
        assert [event.data["failed_attempts"] for event in failed] == [1, 2, 3, 4, 5]
        assert failed[-1].data["locked_until"] is not None
    zone.freeze(warsaw("2026-05-12 10:00:01"))
    assert (await zone.login(email, "Złe hasło do konta 123")).status_code == 401
    again = await zone.login(email)
    assert (again.status_code, again.headers["retry-after"]) == (429, "2")  # 1 s, then 2 s, 4 s...
    zone.freeze(warsaw("2026-05-12 10:00:03"))
    assert (await zone.login(email)).status_code == (200 if known else 401)


async def test_failed_logins_are_throttled_per_client_address(zone: Zone) -> None:
    zone.freeze(warsaw("2026-05-12 10:00:00"))
    for n in range(50):
        assert (await zone.login(new_email(f"n{n}"))).status_code == 401
    throttled = await zone.login(new_email("kolejny"))
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers


async def test_refresh_rotates_the_token_and_a_reused_one_ends_the_session(zone: Zone) -> None:
    email = new_email()
    first = await zone.active_user(email)
    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] not in (None, first["refresh_token"])
    assert await _me_status(zone, second["access_token"]) == 200

    reused = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert (reused.status_code, reused.json()["code"]) == (401, "invalid_refresh_token")
    (revoked,) = await zone.account_events(email, "SessionRevoked")
    assert revoked.data["reason"] == "refresh_token_reused"
    await eventually(lambda: _is(zone, second["access_token"], 401), what="the session's access token refused")
    latest = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401


async def _is(zone: Zone, token: str, status: int) -> bool:
    return await _me_status(zone, token) == status


async def test_a_browser_refreshes_with_the_cookie_alone(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.activate(email)
    login = await zone.login(email)
    old_cookie = zone.http.cookies.get("__Secure-sk_refresh")
    assert old_cookie
    refreshed = await zone.http.post("/api/identity/token/refresh")
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] is None
    assert zone.http.cookies.get("__Secure-sk_refresh") not in (None, old_cookie)
    assert refreshed.json()["access_token"] != login.json()["access_token"]


async def test_a_refresh_token_dies_after_the_inactivity_timeout_and_the_session_after_twelve_hours(
    zone: Zone,
) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.activate(email)
    start = warsaw("2026-05-12 08:00:00")
    zone.freeze(start)
    token = (await zone.session(email))["refresh_token"]
    for minutes in range(29, 12 * 60, 29):  # refreshed every 29 minutes: alive until the 12th hour
        zone.freeze(start + timedelta(minutes=minutes))
        answer = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": token})
        assert answer.status_code == 200, minutes
        token = answer.json()["refresh_token"]
    zone.freeze(start + timedelta(hours=12))
    assert (await zone.http.post("/api/identity/token/refresh", json={"refresh_token": token})).status_code == 401

    zone.freeze(start)
    idle = (await zone.session(email))["refresh_token"]
    zone.freeze(start + timedelta(minutes=30))
    assert (await zone.http.post("/api/identity/token/refresh", json={"refresh_token": idle})).status_code == 401


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "garbage",
        "3f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e11.3f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e12." + "A" * 43,
    ],
)
async def test_a_forged_refresh_token_is_a_401(zone: Zone, token: str) -> None:
    answer = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": token})
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_refresh_token"


async def test_logout_ends_the_session_for_the_access_and_the_refresh_token(zone: Zone) -> None:
    email = new_email()
    session = await zone.active_user(email)
    out = await zone.http.post("/api/identity/logout", headers=bearer(session["access_token"]))
    assert out.status_code == 204
    assert "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"].lower()
    (revoked,) = await zone.account_events(email, "SessionRevoked")
    assert revoked.data["reason"] == "logout"
    async with other_service(zone) as service:
        await eventually(lambda: _refused_by(service, session["access_token"]), what="refused by another service")
    await eventually(lambda: _is(zone, session["access_token"], 401), what="the access token refused")
    me = await zone.http.get("/api/identity/me", headers=bearer(session["access_token"]))
    assert me.json()["code"] == "session_ended"
    refresh = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refresh.status_code == 401


async def test_logout_with_the_refresh_token_alone(zone: Zone) -> None:
    email = new_email()
    session = await zone.active_user(email)
    out = await zone.http.post("/api/identity/logout", json={"refresh_token": session["refresh_token"]})
    assert out.status_code == 204
    await eventually(lambda: _is(zone, session["access_token"], 401), what="the access token refused")
    assert (await zone.http.post("/api/identity/logout")).status_code in (204, 401)


async def test_a_password_change_needs_the_current_one_and_ends_every_other_session(zone: Zone) -> None:
    email = new_email()
    this = await zone.active_user(email)
    other = await zone.session(email)
    wrong = await zone.http.post(
        "/api/identity/password",
        json={"current_password": "Nie to hasło wcale 1", "new_password": NEW_PASSWORD},
        headers=bearer(this["access_token"]),
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    assert len(await zone.account_events(email, "LoginFailed")) == 1

    weak = await zone.http.post(
        "/api/identity/password",
        json={"current_password": PASSWORD, "new_password": "qwerty123456"},
        headers=bearer(this["access_token"]),
    )
    assert (weak.status_code, weak.json()["errors"][0]["field"]) == (422, "new_password")

    changed = await zone.http.post(
        "/api/identity/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(this["access_token"]),
    )
    assert changed.status_code == 204
    (revoked,) = await zone.account_events(email, "SessionRevoked")
    other_sid = jwt.decode(other["access_token"], options={"verify_signature": False})["sid"]
    assert (revoked.data["session_id"], revoked.data["reason"]) == (other_sid, "password_changed")
    await eventually(lambda: _is(zone, other["access_token"], 401), what="the other session refused")
    async with other_service(zone) as service:
        await eventually(lambda: _refused_by(service, other["access_token"]), what="refused by another service")
        assert (await service.get("/invoices", headers=bearer(this["access_token"]))).status_code == 200
    assert await _me_status(zone, this["access_token"]) == 200
    assert (await zone.login(email)).status_code == 401
    assert (await zone.login(email, NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"email": "no-at-sign", "password": PASSWORD}, None),
        ({"email": "a@b.pl", "password": "x" * 1025}, None),
        ({"email": ("a" * 250) + "@b.pl", "password": PASSWORD}, None),
        ({"email": "a@b.pl", "password": PASSWORD, "admin": True}, None),
        ({"email": "a@b.pl"}, None),
        (None, "text/plain"),
    ],
)
async def test_bad_login_input_is_a_4xx_problem(
    zone: Zone, body: dict[str, object] | None, content_type: str | None
) -> None:
    if content_type:
        answer = await zone.http.post(
            "/api/identity/login", content=b"email=a@b.pl&password=x", headers={"Content-Type": content_type}
        )
    else:
        answer = await zone.http.post("/api/identity/login", json=body)
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert await zone.events("LoginFailed", "SessionStarted") == []


async def test_a_person_lists_its_sessions_and_ends_another_one(zone: Zone) -> None:
    email = new_email()
    this = await zone.active_user(email)
    other = await zone.session(email)
    stranger = await zone.active_user(new_email("obcy"))
    other_sid = jwt.decode(other["access_token"], options={"verify_signature": False})["sid"]

    async def both_listed() -> bool:
        answer = await zone.http.get("/api/identity/sessions", headers=bearer(this["access_token"]))
        return len(answer.json()) == 2

    await eventually(both_listed, what="both sessions listed")
    listed = (await zone.http.get("/api/identity/sessions", headers=bearer(this["access_token"]))).json()
    assert sorted(item["current"] for item in listed) == [False, True]
    foreign = await zone.http.post(
        f"/api/identity/sessions/{other_sid}/revoke", headers=bearer(stranger["access_token"])
    )
    assert foreign.status_code == 404
    ended = await zone.http.post(f"/api/identity/sessions/{other_sid}/revoke", headers=bearer(this["access_token"]))
    assert ended.status_code == 204
    async with other_service(zone) as service:
        await eventually(
            lambda: _refused_by(service, other["access_token"]), what="the ended session refused by another service"
        )
        assert (await service.get("/invoices", headers=bearer(this["access_token"]))).status_code == 200


async def _refused_by(service: httpx.AsyncClient, token: str) -> bool:
    return (await service.get("/invoices", headers=bearer(token))).status_code == 401
