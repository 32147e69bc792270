"""Changing the login e-mail or the phone: current password, confirmation to the new address or number."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from tests.helpers import eventually
from tests.identity.conftest import PASSWORD, Zone, bearer, new_email, warsaw

WRONG = "Złe hasło do konta 123"


async def _request_email(zone: Zone, token: str, new: str, password: str = PASSWORD) -> int:
    body = {"new_email": new, "current_password": password}
    response = await zone.http.post("/api/identity/contact/email", json=body, headers=bearer(token))
    return response.status_code


async def _link_token(zone: Zone, email: str) -> str:
    """The token of the link e-mailed to the new address: in its fragment, which browsers never send to a
    server, so no access or proxy log and no span's http.target holds it."""
    (*_, requested) = await zone.account_events(email, "LoginEmailChangeRequested")
    link = urlparse(zone.unseal(requested).params["link"])
    assert (link.scheme, link.netloc, link.path, link.query) == ("http", "127.0.0.1:8000", "/potwierdz-email", "")
    return parse_qs(link.fragment)["token"][0]


async def _confirm_email(zone: Zone, token: str) -> int:
    response = await zone.http.post("/api/identity/contact/email/confirm", json={"token": token})
    return response.status_code


async def test_wrong_password_is_refused_and_nothing_changes(zone: Zone) -> None:
    email = new_email()
    me = await zone.active_user(email)
    body = {"new_email": new_email("nowy"), "current_password": WRONG}
    response = await zone.http.post("/api/identity/contact/email", json=body, headers=bearer(me["access_token"]))
    assert response.status_code == 403
    assert response.json()["code"] == "current_password_wrong"
    phone = {"new_phone": "602 345 678", "current_password": WRONG}
    response = await zone.http.post("/api/identity/contact/phone", json=phone, headers=bearer(me["access_token"]))
    assert response.status_code == 403
    assert not await zone.account_events(email, "LoginEmailChangeRequested", "PhoneChangeRequested")
    assert len(await zone.account_events(email, "LoginFailed")) == 2  # throttled like login
    assert (await zone.login(email)).status_code == 200


async def test_validation_names_the_field(zone: Zone) -> None:
    me = await zone.active_user(new_email())
    headers = bearer(me["access_token"])
    bad_mail = await zone.http.post(
        "/api/identity/contact/email", json={"new_email": "nie-adres", "current_password": PASSWORD}, headers=headers
    )
    bad_phone = await zone.http.post(
        "/api/identity/contact/phone", json={"new_phone": "12", "current_password": PASSWORD}, headers=headers
    )
    assert (bad_mail.status_code, bad_phone.status_code) == (422, 422)
    assert "new_email" in bad_mail.text
    assert "new_phone" in bad_phone.text
    anonymous = await zone.http.post(
        "/api/identity/contact/email", json={"new_email": "a@b.pl", "current_password": "x"}
    )
    assert anonymous.status_code == 401


async def test_login_email_changes_only_when_confirmed_once_and_the_old_address_stops_working(zone: Zone) -> None:
    old, new = new_email("stary"), new_email("nowy")
    me = await zone.active_user(old)
    other = await zone.session(old)
    assert await _request_email(zone, me["access_token"], new) == 202
    (notice,) = await zone.account_events(old, "ContactChangeNoticeIssued")
    assert zone.unseal(notice).to == old
    (requested,) = await zone.account_events(old, "LoginEmailChangeRequested")
    mail = zone.unseal(requested)
    assert (mail.to, mail.template, mail.channel) == (new, "login_email_confirmation", "email")
    token = await _link_token(zone, old)
    assert len(token.split(".", 1)[1]) >= 43  # 256 bits
    # nothing changes until confirmed
    assert (await zone.login(old)).status_code == 200
    assert (await zone.login(new)).status_code == 401
    assert await _confirm_email(zone, token) == 200
    assert await _confirm_email(zone, token) == 400  # once
    assert (await zone.login(new)).status_code == 200
    assert (await zone.login(old)).status_code == 401
    (changed,) = await zone.account_events(old, "LoginEmailChanged")  # the same account stream
    assert (changed.data["old_email"], changed.data["new_email"]) == (old, new)
    revoked = {e.data["session_id"]: e.data["reason"] for e in await zone.account_events(old, "SessionRevoked")}
    assert revoked  # every other session ended, the requesting one kept
    assert set(revoked.values()) == {"login_email_changed"}
    from jwt import decode

    sid = decode(other["access_token"], options={"verify_signature": False})["sid"]
    mine = decode(me["access_token"], options={"verify_signature": False})["sid"]
    assert sid in revoked
    assert mine not in revoked
    found = await zone.http.get("/api/identity/backoffice/accounts", params={"email": new}, headers=zone.backoffice)
    assert found.status_code == 200
    # a newer provisioning naming the new address lands on the same account
    await zone.provision(new, ("CL-3003", "Inny Klient Sp. z o.o."))
    assert len(await zone.account_events(old, "ClientAccessGranted")) == 2
    everything = json.dumps([e.data for e in await zone.events()])
    assert token not in everything
    assert token.split(".", 1)[1] not in everything


async def test_a_newer_request_kills_the_older_link(zone: Zone) -> None:
    old = new_email("stary")
    me = await zone.active_user(old)
    assert await _request_email(zone, me["access_token"], new_email("pierwszy")) == 202
    first = await _link_token(zone, old)
    assert await _request_email(zone, me["access_token"], new_email("drugi")) == 202
    assert await _confirm_email(zone, first) == 400
    assert await _confirm_email(zone, await _link_token(zone, old)) == 200


async def test_the_link_expires_at_warsaw_midnight_ending_the_next_day(zone: Zone) -> None:
    old, new = new_email("stary"), new_email("nowy")
    me = await zone.active_user(old)
    zone.freeze(warsaw("2026-03-28 08:00:00"))
    assert await _request_email(zone, me["access_token"], new) == 202
    token = await _link_token(zone, old)
    zone.freeze(warsaw("2026-03-30 00:00:00"))  # DST night between
    assert await _confirm_email(zone, token) == 400
    zone.freeze(warsaw("2026-03-29 23:59:59"))
    assert await _confirm_email(zone, token) == 200


async def test_a_taken_address_gets_the_same_answer_and_can_never_be_confirmed(zone: Zone) -> None:
    mine, theirs = new_email("moj"), new_email("cudzy")
    me = await zone.active_user(mine)
    await zone.provision(theirs)
    free = new_email("wolny")
    assert await _request_email(zone, me["access_token"], theirs) == 202
    assert not await zone.account_events(mine, "LoginEmailChangeRequested")
    # taken after the request: the confirmation reserves the address and loses
    assert await _request_email(zone, me["access_token"], free) == 202
    token = await _link_token(zone, mine)
    await zone.provision(free)
    assert await _confirm_email(zone, token) == 400
    assert not await zone.account_events(mine, "LoginEmailChanged")
    assert (await zone.login(mine)).status_code == 200


async def test_phone_change_by_sms_code_once_dead_after_five_wrong_tries(zone: Zone) -> None:
    email = new_email()
    me = await zone.active_user(email)
    other = await zone.session(email)
    headers = bearer(me["access_token"])
    body = {"new_phone": "+48 602 345 678", "current_password": PASSWORD}
    assert (await zone.http.post("/api/identity/contact/phone", json=body, headers=headers)).status_code == 202
    (requested,) = await zone.account_events(email, "PhoneChangeRequested")
    sms = zone.unseal(requested)
    assert (sms.channel, sms.to, sms.template) == ("sms", "+48602345678", "phone_change_code")
    code = sms.params["code"]
    assert requested.data["code_hash"].startswith("hmac-sha256:")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        answer = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": wrong}, headers=headers)
        assert answer.status_code == 400
    dead = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": code}, headers=headers)
    assert dead.status_code == 400
    assert not await zone.account_events(email, "PhoneChanged")
    # a new request, the right code: changed once
    assert (await zone.http.post("/api/identity/contact/phone", json=body, headers=headers)).status_code == 202
    code = zone.unseal((await zone.account_events(email, "PhoneChangeRequested"))[-1]).params["code"]
    ok = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": code}, headers=headers)
    assert ok.status_code == 200
    again = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": code}, headers=headers)
    assert again.status_code == 400
    (changed,) = await zone.account_events(email, "PhoneChanged")
    assert changed.data["new_phone"] == "+48602345678"
    (revoked,) = await zone.account_events(email, "SessionRevoked")
    assert revoked.data["reason"] == "phone_changed"

    async def other_session_ended() -> bool:  # the revocation reaches the `_access` read model asynchronously
        return (await zone.http.get("/api/identity/me", headers=bearer(other["access_token"]))).status_code == 401

    await eventually(other_session_ended, what="the other session ending")
    everything = json.dumps([e.data for e in await zone.events()])
    assert f'"{code}"' not in everything


async def test_the_phone_code_expires_at_warsaw_midnight_of_the_day_of_issue(zone: Zone) -> None:
    email = new_email()
    me = await zone.active_user(email)
    headers = bearer(me["access_token"])
    zone.freeze(warsaw("2026-05-12 23:59:00"))
    body = {"new_phone": "602 345 678", "current_password": PASSWORD}
    assert (await zone.http.post("/api/identity/contact/phone", json=body, headers=headers)).status_code == 202
    code = zone.unseal((await zone.account_events(email, "PhoneChangeRequested"))[-1]).params["code"]
    zone.freeze(warsaw("2026-05-13 00:00:00"))
    late = await zone.http.post("/api/identity/contact/phone/confirm", json={"code": code}, headers=headers)
    assert late.status_code == 400
    assert late.json()["code"] == "contact_change_code_invalid"
    assert not await zone.account_events(email, "PhoneChanged")


def test_after_a_phone_change_sms_codes_go_to_the_new_number() -> None:
    """What `issue_code` seals the SMS to is the folded person's phone: the new one after PhoneChanged."""
    from libs.events.schemas.identity import AccountProvisioned, PhoneChanged
    from services.identity.domain import Account, evolve

    state = evolve(
        Account(),
        AccountProvisioned(
            account_id="a", email="a@firma.pl", phone="+48601234567", first_name="A", last_name="B", source="x"
        ),
    )
    state = evolve(state, PhoneChanged(account_id="a", old_phone="+48601234567", new_phone="+48602345678"))
    assert state.person is not None
    assert state.person.phone == "+48602345678"
