"""Mój profil shows the person's login e-mail and phone as identity last confirmed them: a change shows once
it is confirmed through identity's API, not when it is only asked for."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.helpers import eventually
from tests.identity.conftest import PASSWORD, Zone, bearer, new_email
from tests.identity.conftest import zone as zone  # the fixture: the whole portal, identity's API included


async def _person(zone: Zone, headers: dict[str, str]) -> dict[str, Any]:
    response = await zone.http.get("/api/profile/me", headers=headers)
    assert response.status_code == 200, response.text
    person: dict[str, Any] = response.json()["person"]
    return person


async def _profile_caught_up(zone: Zone) -> None:
    async def caught_up() -> bool:
        for runner in zone.portal.runtimes["profile"].runners:
            if any((await runner.consumer.lag()).values()):
                return False
        return True

    await eventually(caught_up, what="profile's read models catching up with identity")


async def _shows(zone: Zone, headers: dict[str, str], email: str, phone: str) -> None:
    async def shown() -> bool:
        person = await _person(zone, headers)
        return (person.get("email"), person.get("phone")) == (email, phone)

    await eventually(shown, what=f"the profile showing {email} and {phone}")


async def test_my_profile_shows_the_new_login_email_and_phone_once_confirmed(zone: Zone) -> None:
    old, new = new_email("stary"), new_email("nowy")
    me = await zone.active_user(old)
    headers = bearer(me["access_token"])
    await _shows(zone, headers, old, "+48601234567")

    body = {"new_email": new, "current_password": PASSWORD}
    assert (await zone.http.post("/api/identity/contact/email", json=body, headers=headers)).status_code == 202
    phone = {"new_phone": "602 345 789", "current_password": PASSWORD}
    assert (await zone.http.post("/api/identity/contact/phone", json=phone, headers=headers)).status_code == 202
    await _profile_caught_up(zone)
    person = await _person(zone, headers)
    assert (person["email"], person["phone"]) == (old, "+48601234567")  # asked for, not confirmed: unchanged

    (requested,) = await zone.account_events(old, "LoginEmailChangeRequested")
    token = parse_qs(urlparse(zone.unseal(requested).params["link"]).fragment)["token"][0]
    confirmed = await zone.http.post("/api/identity/contact/email/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    await _shows(zone, headers, new, "+48601234567")

    (sms,) = await zone.account_events(old, "PhoneChangeRequested")
    code = {"code": zone.unseal(sms).params["code"]}
    confirmed = await zone.http.post("/api/identity/contact/phone/confirm", json=code, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    await _shows(zone, headers, new, "+48602345789")

    person = await _person(zone, headers)
    assert (person["first_name"], person["last_name"]) == ("Zofia", "Żółkiewska")  # the rest stays as provisioned
    assert person["login_contact"]["managed_by"] == "identity"
