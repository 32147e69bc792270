"""The e-invoice service: consent with who and when, withdrawal, and the address confirmed by a link
that works once and expires at midnight (Warsaw) ending the next day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import structlog.testing

from libs.events import RecordedEvent
from services.profile.links import token_hash
from tests.helpers import eventually
from tests.profile.conftest import PIOTR_ID, ZOFIA_ID, World

CONSENT = "/api/profile/einvoice/consent"
CONFIRM = "/api/profile/einvoice/confirmations"


def link_token(world: World, event: RecordedEvent) -> str:
    """The token from the link in the sealed e-mail, as the recipient would read it."""
    message = world.unseal(event.data["notification"])
    return unquote(message.params["link"].split("#token=", 1)[1])


async def request_link(world: World, path: str, email: str, method: str = "POST", **token: Any) -> str:
    response = await world.http.request(method, path, json={"email": email}, headers=world.headers(**token))
    assert response.status_code == 202, response.text
    assert response.json()["pending"]["email"] == email
    sent = (await world.events("EInvoiceConfirmationRequested"))[-1]
    return link_token(world, sent)


async def confirm(world: World, token: str) -> Any:
    return await world.http.post(CONFIRM, json={"token": token})


async def einvoice(world: World) -> dict[str, Any]:
    response = await world.http.get("/api/profile/einvoice", headers=world.headers())
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def consent_given(world: World, email: str = "faktury@nowak.pl") -> None:
    token = await request_link(world, CONSENT, email)
    assert (await confirm(world, token)).status_code == 200


async def test_consent_to_a_new_address_waits_for_its_confirmation(world: World) -> None:
    moment = datetime(2026, 5, 12, 9, 30, tzinfo=UTC)
    world.freeze(moment)
    token = await request_link(world, CONSENT, "faktury@nowak.pl")

    (sent,) = await world.events()
    assert sent.type == "EInvoiceConfirmationRequested"
    assert sent.stream_id == "profile-einvoice-CL-1001"
    assert sent.data["purpose"] == "consent"
    assert sent.data["requested_by"] == f"account:{ZOFIA_ID}"
    assert sent.data["token_hash"] == token_hash(token)
    message = world.unseal(sent.data["notification"])
    assert (message.channel, message.to, message.template) == (
        "email",
        "faktury@nowak.pl",
        "einvoice_email_confirmation",
    )
    assert message.params["client_name"] == "Transport Nowak Sp. z o.o."
    assert message.params["valid_until"] == "14.05.2026 00:00"
    await world.settled()
    assert (await einvoice(world))["consent"] is False

    world.freeze(moment + timedelta(hours=3))
    confirmed = await confirm(world, token)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"consent": True, "email": "faktury@nowak.pl"}
    (given,) = await world.events("EInvoiceConsentGiven")
    assert given.data["email"] == "faktury@nowak.pl"
    assert given.data["given_by"] == f"account:{ZOFIA_ID}"
    assert given.data["given_at"] == "2026-05-12T12:30:00Z"
    assert given.data["confirmation_id"] == sent.data["confirmation_id"]

    await world.settled()
    view = await einvoice(world)
    assert (view["consent"], view["email"], view["pending"]) == (True, "faktury@nowak.pl", None)
    assert view["consent_given"] == {"by": f"account:{ZOFIA_ID}", "at": "2026-05-12T12:30:00+00:00"}
    assert [entry["event"] for entry in view["history"]] == ["confirmation_sent", "consent_given"]


async def test_no_event_read_model_or_log_holds_the_token(world: World) -> None:
    with structlog.testing.capture_logs() as logs:
        token = await request_link(world, CONSENT, "faktury@nowak.pl")
        await confirm(world, token)
        await world.settled()
    secret = token.split(".", 1)[1]
    for event in await world.events():
        assert secret not in event.to_json().decode()
    for projection in world.runtime.projections:
        assert secret not in str(await world.runtime.documents.find(projection.collection))
    assert secret not in str(logs)
    assert secret not in str(await einvoice(world))


async def test_a_confirmation_link_works_once(world: World) -> None:
    token = await request_link(world, CONSENT, "faktury@nowak.pl")
    assert (await confirm(world, token)).status_code == 200
    again = await confirm(world, token)
    assert again.status_code == 410
    assert again.json()["code"] == "confirmation_link_used"
    assert len(await world.events("EInvoiceConsentGiven")) == 1


async def test_a_link_expires_at_warsaw_midnight_ending_the_next_day_across_a_dst_change(world: World) -> None:
    # 28 March 2026, 23:30 in Warsaw (CET); clocks go forward on the 29th: the link is valid until
    # 30 March 00:00 CEST, which is 29 March 22:00 UTC.
    world.freeze(datetime(2026, 3, 28, 22, 30, tzinfo=UTC))
    first = await request_link(world, CONSENT, "faktury@nowak.pl")
    (sent,) = await world.events("EInvoiceConfirmationRequested")
    assert sent.data["expires_at"] == "2026-03-29T22:00:00Z"

    world.freeze(datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
    expired = await confirm(world, first)
    assert expired.status_code == 410
    assert expired.json()["code"] == "confirmation_link_expired"
    assert await world.events("EInvoiceConsentGiven") == []

    world.freeze(datetime(2026, 3, 28, 22, 30, tzinfo=UTC))
    second = await request_link(world, CONSENT, "faktury@nowak.pl")
    world.freeze(datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC))
    assert (await confirm(world, second)).status_code == 200


async def test_changing_the_address_changes_nothing_until_the_new_one_is_confirmed(world: World) -> None:
    await consent_given(world)
    token = await request_link(world, "/api/profile/einvoice/email", "ksiegowosc@nowak.pl", "PUT", account_id=PIOTR_ID)
    sent = (await world.events("EInvoiceConfirmationRequested"))[-1]
    assert sent.data["purpose"] == "email_change"
    assert world.unseal(sent.data["notification"]).to == "ksiegowosc@nowak.pl"
    await world.settled()
    before = await einvoice(world)
    assert before["email"] == "faktury@nowak.pl"
    assert before["pending"]["email"] == "ksiegowosc@nowak.pl"
    assert await world.events("EInvoiceEmailChanged") == []

    assert (await confirm(world, token)).status_code == 200
    (changed,) = await world.events("EInvoiceEmailChanged")
    assert changed.data["email"] == "ksiegowosc@nowak.pl"
    assert changed.data["previous_email"] == "faktury@nowak.pl"
    assert changed.data["requested_by"] == f"account:{PIOTR_ID}"

    async def shown() -> bool:
        return bool((await einvoice(world))["email"] == "ksiegowosc@nowak.pl")

    await eventually(shown, what="the new e-invoice address")


async def test_a_newer_link_voids_the_older_one(world: World) -> None:
    await consent_given(world)
    older = await request_link(world, "/api/profile/einvoice/email", "a@nowak.pl", "PUT")
    newer = await request_link(world, "/api/profile/einvoice/email", "b@nowak.pl", "PUT")
    superseded = await confirm(world, older)
    assert (superseded.status_code, superseded.json()["code"]) == (410, "confirmation_link_superseded")
    assert (await confirm(world, newer)).json()["email"] == "b@nowak.pl"


async def test_consent_is_withdrawn_with_who_and_when_and_given_again_to_the_confirmed_address(world: World) -> None:
    await consent_given(world)
    world.freeze(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    body = {"reason": "Wracamy do faktur papierowych"}
    withdrawn = await world.http.post(f"{CONSENT}/withdrawal", json=body, headers=world.headers(account_id=PIOTR_ID))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consent"] is False
    (event,) = await world.events("EInvoiceConsentWithdrawn")
    assert event.data["withdrawn_by"] == f"account:{PIOTR_ID}"
    assert event.data["withdrawn_at"] == "2026-06-01T08:00:00Z"
    assert event.data["email"] == "faktury@nowak.pl"
    assert event.data["reason"] == "Wracamy do faktur papierowych"

    again = await world.http.post(CONSENT, json={"email": "Faktury@nowak.pl"}, headers=world.headers())
    assert again.status_code == 200, again.text
    assert again.json()["consent"] is True
    assert len(await world.events("EInvoiceConfirmationRequested")) == 1
    assert len(await world.events("EInvoiceConsentGiven")) == 2
    await world.settled()
    history = (await einvoice(world))["history"]
    assert [entry["event"] for entry in history] == [
        "confirmation_sent",
        "consent_given",
        "consent_withdrawn",
        "consent_given",
    ]
    assert history[2]["by"] == f"account:{PIOTR_ID}"


async def test_a_withdrawal_voids_a_pending_link(world: World) -> None:
    await consent_given(world)
    token = await request_link(world, "/api/profile/einvoice/email", "nowy@nowak.pl", "PUT")
    await world.http.post(f"{CONSENT}/withdrawal", json={}, headers=world.headers())
    response = await confirm(world, token)
    assert (response.status_code, response.json()["code"]) == (410, "confirmation_link_withdrawn")


async def test_refusals_are_problems(world: World) -> None:
    headers = world.headers()
    no_consent = await world.http.put("/api/profile/einvoice/email", json={"email": "x@nowak.pl"}, headers=headers)
    assert (no_consent.status_code, no_consent.json()["code"]) == (409, "einvoice_consent_required")
    not_given = await world.http.post(f"{CONSENT}/withdrawal", json={}, headers=headers)
    assert (not_given.status_code, not_given.json()["code"]) == (409, "einvoice_consent_not_given")
    await consent_given(world)
    twice = await world.http.post(CONSENT, json={"email": "inny@nowak.pl"}, headers=headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "einvoice_consent_already_given")
    same = await world.http.put("/api/profile/einvoice/email", json={"email": "faktury@nowak.pl"}, headers=headers)
    assert same.status_code == 422
    assert same.json()["errors"][0]["field"] == "email"
    bad = await world.http.put("/api/profile/einvoice/email", json={"email": "faktury(at)nowak.pl"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "email"


async def test_an_unknown_or_forged_token_is_404(world: World) -> None:
    await request_link(world, CONSENT, "faktury@nowak.pl")
    real = link_token(world, (await world.events("EInvoiceConfirmationRequested"))[0])
    forged = real.split(".", 1)[0] + "." + "A" * 43
    for token in (forged, "not-a-token-" + "x" * 40):
        response = await confirm(world, token)
        assert (response.status_code, response.json()["code"]) == (404, "confirmation_link_invalid")
    assert await world.events("EInvoiceConsentGiven") == []


async def test_another_clients_link_cannot_be_forged_from_the_client_prefix(world: World) -> None:
    token = await request_link(world, CONSENT, "faktury@nowak.pl")
    _, secret = token.split(".", 1)
    other = await request_link(world, CONSENT, "faktury@budmax.pl", client_id="CL-2002", account_id=None)
    other_prefix = other.split(".", 1)[0]
    response = await confirm(world, f"{other_prefix}.{secret}")
    assert response.status_code == 404
    assert await world.events("EInvoiceConsentGiven") == []


async def test_editing_needs_profile_edit_and_viewing_profile_read(world: World) -> None:
    reader = world.headers(scopes=["profile:read"])
    for method, path in (("POST", CONSENT), ("PUT", "/api/profile/einvoice/email"), ("POST", f"{CONSENT}/withdrawal")):
        response = await world.http.request(method, path, json={"email": "x@nowak.pl"}, headers=reader)
        assert (response.status_code, response.json()["code"]) == (403, "scope_required")
    assert (await world.http.get("/api/profile/einvoice", headers=reader)).status_code == 200
    blind = world.headers(scopes=["requests:read"])
    assert (await world.http.get("/api/profile/einvoice", headers=blind)).status_code == 403
    assert await world.events() == []


async def test_each_client_sees_its_own_einvoice_service(world: World) -> None:
    await consent_given(world)
    await world.settled()
    other = await world.http.get("/api/profile/einvoice", headers=world.headers(client_id="CL-2002"))
    assert other.json()["consent"] is False
    assert other.json()["email"] is None
