"""Bad input to the three activation steps: a 4xx problem+json naming the field, and nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.identity.conftest import PASSWORD, Zone, new_email

START, VERIFY, COMPLETE = (
    "/api/identity/activation/start",
    "/api/identity/activation/verify",
    "/api/identity/activation/complete",
)
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".pl"
"""A well-formed address over the 254 characters an address may have."""


@dataclass
class Pending:
    """A person between the second and third step: a live code and a live link."""

    email: str
    code: str
    token: str


@pytest.fixture
async def pending(zone: Zone) -> Pending:
    email = new_email("krok")
    await zone.provision(email)
    assert (await zone.start(email)).status_code == 202
    code = (await zone.last_sms(email)).params["code"]
    assert (await zone.verify(email, code)).status_code == 200
    await zone.start(email)  # a newer code, still unused: `code` below is live for /verify
    return Pending(email, (await zone.last_sms(email)).params["code"], await zone.last_token(email))


def _body(pending: Pending, path: str, **changes: Any) -> dict[str, Any]:
    valid = {
        START: {"email": pending.email},
        VERIFY: {"email": pending.email, "code": pending.code},
        COMPLETE: {"token": pending.token, "password": PASSWORD},
    }[path]
    return {key: value for key, value in {**valid, **changes}.items() if value is not None}


DROP = None
"""A field left out of the body."""

BAD_FIELDS = [
    pytest.param(START, {"email": "bez-malpy.pl"}, "email", id="start-malformed-email"),
    pytest.param(START, {"email": "jan@"}, "email", id="start-email-without-domain"),
    pytest.param(START, {"email": LONG_EMAIL}, "email", id="start-over-long-email"),
    pytest.param(START, {"email": DROP}, "email", id="start-missing-email"),
    pytest.param(START, {"email": 12345}, "email", id="start-email-not-a-string"),
    pytest.param(START, {"phone": "601234567"}, "phone", id="start-unknown-field"),
    pytest.param(VERIFY, {"email": "bez-malpy.pl"}, "email", id="verify-malformed-email"),
    pytest.param(VERIFY, {"email": LONG_EMAIL}, "email", id="verify-over-long-email"),
    pytest.param(VERIFY, {"code": "12345"}, "code", id="verify-5-digit-code"),
    pytest.param(VERIFY, {"code": "1234567"}, "code", id="verify-7-digit-code"),
    pytest.param(VERIFY, {"code": "12a456"}, "code", id="verify-letters-in-code"),
    pytest.param(VERIFY, {"code": "١٢٣٤٥٦"}, "code", id="verify-non-ascii-digits"),
    pytest.param(VERIFY, {"code": DROP}, "code", id="verify-missing-code"),
    pytest.param(VERIFY, {"email": DROP}, "email", id="verify-missing-email"),
    pytest.param(COMPLETE, {"password": "krótkie11zn"}, "password", id="complete-too-short-password"),
    pytest.param(COMPLETE, {"password": ""}, "password", id="complete-empty-password"),
    pytest.param(COMPLETE, {"password": "x" * 1025}, "password", id="complete-over-long-password"),
    pytest.param(COMPLETE, {"password": DROP}, "password", id="complete-missing-password"),
    pytest.param(COMPLETE, {"token": DROP}, "token", id="complete-missing-token"),
    pytest.param(COMPLETE, {"token": "x" * 301}, "token", id="complete-over-long-token"),
]


@pytest.mark.parametrize(("path", "changes", "field"), BAD_FIELDS)
async def test_a_bad_field_is_a_4xx_problem_naming_it_and_nothing_is_written(
    zone: Zone, pending: Pending, path: str, changes: dict[str, Any], field: str
) -> None:
    before = await zone.events()
    answer = await zone.http.post(path, json=_body(pending, path, **changes))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json()["errors"]]
    assert [event.event_id for event in await zone.events()] == [event.event_id for event in before]


BAD_BODIES = [
    pytest.param(b'{"email": "jan@firma.pl"', "application/json", id="truncated-json"),
    pytest.param(b"email=jan%40firma.pl", "application/x-www-form-urlencoded", id="form-encoded"),
    pytest.param(b"jan@firma.pl", "text/plain", id="plain-text"),
    pytest.param(b"[]", "application/json", id="json-array"),
    pytest.param(b"", "application/json", id="empty-body"),
]


@pytest.mark.parametrize("path", [START, VERIFY, COMPLETE])
@pytest.mark.parametrize(("content", "content_type"), BAD_BODIES)
async def test_a_body_that_is_not_the_json_object_asked_for_is_a_4xx_problem_and_nothing_is_written(
    zone: Zone, pending: Pending, path: str, content: bytes, content_type: str
) -> None:
    before = await zone.events()
    answer = await zone.http.post(path, content=content, headers={"Content-Type": content_type})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == answer.status_code
    assert [event.event_id for event in await zone.events()] == [event.event_id for event in before]


async def test_after_the_bad_input_the_same_code_and_link_still_work(zone: Zone, pending: Pending) -> None:
    for path, change in ((VERIFY, {"code": "12a456"}), (COMPLETE, {"password": "krótkie11zn"})):
        assert (await zone.http.post(path, json=_body(pending, path, **change))).status_code == 422
    assert (await zone.complete(pending.token)).status_code == 200
    assert len(await zone.account_events(pending.email, "AccountActivated")) == 1
