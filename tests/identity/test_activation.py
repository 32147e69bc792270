"""Activation through HTTP: e-mail -> SMS code -> e-mailed link -> own password, with a frozen clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import structlog

from services.identity.context import identity_of
from tests.identity.conftest import PASSWORD, Zone, new_email, warsaw

DAYS = ["2026-03-28", "2026-03-29", "2026-10-24", "2026-10-25", "2026-06-15"]
"""DST starts on 2026-03-29 (a 23-hour day) and ends on 2026-10-25 (25 hours)."""


def _next(day: str, days: int = 1) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


async def test_the_whole_activation_sends_a_sealed_sms_and_mail_and_stores_only_hashes(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email, phone="+48 601 234 567")
    zone.freeze(warsaw("2026-05-12 10:15:00"))

    started = await zone.start(email)
    assert (started.status_code, started.json()) == (202, {"status": "accepted"})
    (issued,) = await zone.account_events(email, "ActivationCodeIssued")
    sms = zone.unseal(issued)
    assert (sms.channel, sms.to, sms.template) == ("sms", "+48601234567", "activation_code")
    code = sms.params["code"]
    assert len(code) == 6
    assert code.isdigit()
    assert sms.params["valid_until"] == "2026-05-13T00:00:00+02:00"
    assert issued.data["code_hash"].startswith("hmac-sha256:")
    assert code not in issued.data["code_hash"]
    assert datetime.fromisoformat(issued.data["expires_at"]) == warsaw("2026-05-13 00:00:00")

    verified = await zone.verify(email, code)
    assert (verified.status_code, verified.json()) == (200, {"status": "link_sent"})
    mail = await zone.last_mail(email)
    assert (mail.channel, mail.to, mail.template) == ("email", email, "activation_link")
    assert mail.params["first_name"] == "Zofia"
    assert mail.params["link"].startswith("http://127.0.0.1:8000/aktywacja#token=")
    assert mail.params["valid_until"] == "2026-05-14T00:00:00+02:00"
    token = await zone.last_token(email)
    assert len(token.split(".", 1)[1]) >= 43  # 256 random bits, base64url
    (link,) = await zone.account_events(email, "ActivationLinkIssued")
    assert link.data["token_hash"].startswith("sha256:")
    assert token not in str(link.data)

    done = await zone.complete(token)
    assert (done.status_code, done.json()) == (200, {"status": "activated"})
    (activated,) = await zone.account_events(email, "AccountActivated")
    assert activated.data["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await zone.login(email)).status_code == 200


@contextmanager
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """structlog's entries at every level (the suite logs only warnings) and the standard library's from INFO."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    caplog.set_level(logging.INFO)
    try:
        with structlog.testing.capture_logs() as entries:
            yield lambda: [repr(entry) for entry in entries] + [f"{r.name} {r.getMessage()}" for r in caplog.records]
    finally:
        structlog.configure(**saved)


async def test_the_link_carries_its_token_only_in_the_fragment_and_no_log_line_holds_it(
    zone: Zone, caplog: pytest.LogCaptureFixture
) -> None:
    """A fragment never reaches a server: no access or proxy log, no Referer, no span's http.target."""
    email = new_email()
    await zone.provision(email)
    with every_log_line(caplog) as lines:
        await zone.start(email)
        assert (await zone.verify(email, (await zone.last_sms(email)).params["code"])).status_code == 200
        link = urlsplit((await zone.last_mail(email)).params["link"])
        token = parse_qs(link.fragment, strict_parsing=True)["token"][0]
        assert (await zone.complete(token)).status_code == 200
    assert (link.scheme, link.netloc, link.path, link.query) == ("http", "127.0.0.1:8000", "/aktywacja", "")
    assert link.fragment == f"token={quote(token, safe='')}"
    assert any("activation_link_issued" in line for line in lines())  # the logs were captured
    secret = token.split(".", 1)[1]
    assert [line for line in lines() if secret in line] == []


@pytest.mark.parametrize("day", DAYS)
async def test_a_code_issued_at_235959_dies_at_midnight(zone: Zone, day: str) -> None:
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw(f"{day} 23:59:59"))
    await zone.start(email)
    code = (await zone.last_sms(email)).params["code"]
    zone.freeze(warsaw(f"{_next(day)} 00:00:00"))
    refused = await zone.verify(email, code)
    assert refused.status_code == 400
    assert refused.json()["code"] == "activation_code_invalid"


@pytest.mark.parametrize("day", DAYS)
async def test_a_code_issued_at_235959_works_in_that_second(zone: Zone, day: str) -> None:
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw(f"{day} 23:59:59"))
    await zone.start(email)
    sms = await zone.last_sms(email)
    assert sms.params["valid_until"].startswith(f"{_next(day)}T00:00:00")
    assert (await zone.verify(email, sms.params["code"])).status_code == 200


@pytest.mark.parametrize("day", DAYS)
async def test_a_link_generated_on_day_d_works_until_235959_of_the_next_day(zone: Zone, day: str) -> None:
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw(f"{day} 00:00:00"))
    await zone.start(email)
    assert (await zone.verify(email, (await zone.last_sms(email)).params["code"])).status_code == 200
    token = await zone.last_token(email)
    (link,) = await zone.account_events(email, "ActivationLinkIssued")
    assert datetime.fromisoformat(link.data["expires_at"]) == warsaw(f"{_next(day, 2)} 00:00:00")

    zone.freeze(warsaw(f"{_next(day, 2)} 00:00:00"))
    late = await zone.complete(token)
    assert late.status_code == 400
    assert late.json()["code"] == "activation_link_invalid"
    zone.freeze(warsaw(f"{_next(day)} 23:59:59"))
    assert (await zone.complete(token)).status_code == 200


@pytest.mark.parametrize("day", DAYS)
async def test_a_link_generated_at_235959_lives_one_more_whole_day(zone: Zone, day: str) -> None:
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw(f"{day} 23:59:59"))
    await zone.start(email)
    assert (await zone.verify(email, (await zone.last_sms(email)).params["code"])).status_code == 200
    mail = await zone.last_mail(email)
    assert mail.params["valid_until"].startswith(f"{_next(day, 2)}T00:00:00")
    zone.freeze(warsaw(f"{_next(day)} 23:59:59"))
    assert (await zone.complete(await zone.last_token(email))).status_code == 200


async def test_a_shorter_code_lifetime_is_one_setting_away(zone: Zone) -> None:
    identity_of(zone.runtime).settings.activation_code_minutes = 10
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw("2026-05-12 10:00:00"))
    await zone.start(email)
    code = (await zone.last_sms(email)).params["code"]
    zone.freeze(warsaw("2026-05-12 10:10:00"))
    assert (await zone.verify(email, code)).status_code == 400
    zone.freeze(warsaw("2026-05-12 10:09:59"))
    assert (await zone.verify(email, code)).status_code == 200


async def test_a_newer_code_kills_the_older_one(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.start(email)
    first = (await zone.last_sms(email)).params["code"]
    await zone.start(email)
    second = (await zone.last_sms(email)).params["code"]
    if first != second:  # one chance in a million they are equal
        assert (await zone.verify(email, first)).status_code == 400
    assert (await zone.verify(email, second)).status_code == 200


async def test_at_most_five_codes_per_account_per_warsaw_day(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    for hour in range(17, 24):  # one start an hour: under the per-address rate limit
        zone.freeze(warsaw(f"2026-03-29 {hour}:30:00"))
        assert (await zone.start(email)).status_code == 202
    assert len(await zone.account_events(email, "ActivationCodeIssued")) == 5
    zone.freeze(warsaw("2026-03-30 00:00:00"))
    await zone.start(email)
    assert len(await zone.account_events(email, "ActivationCodeIssued")) == 6


async def test_a_code_is_dead_after_five_wrong_tries(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.start(email)
    code = (await zone.last_sms(email)).params["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await zone.verify(email, wrong)).status_code == 400
    rejected = await zone.account_events(email, "ActivationCodeRejected")
    assert [event.data["failed_attempts"] for event in rejected] == [1, 2, 3, 4, 5]
    assert (await zone.verify(email, code)).status_code == 400
    assert len(await zone.account_events(email, "ActivationCodeRejected")) == 5
    assert await zone.account_events(email, "ActivationLinkIssued") == []


async def test_parallel_wrong_codes_count_at_most_five_then_the_code_is_dead(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    zone.freeze(warsaw("2026-05-12 10:00:00"))
    await zone.start(email)
    code = (await zone.last_sms(email)).params["code"]
    wrongs = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 11)]
    answers = await asyncio.gather(*(zone.verify(email, wrong) for wrong in wrongs))
    assert {answer.status_code for answer in answers} == {400}
    assert len({answer.text for answer in answers}) == 1
    rejected = await zone.account_events(email, "ActivationCodeRejected")
    assert sorted(event.data["failed_attempts"] for event in rejected) == [1, 2, 3, 4, 5]
    zone.freeze(warsaw("2026-05-12 10:20:00"))  # past the per-address rate limit's window
    assert (await zone.verify(email, code)).status_code == 400


async def test_a_used_code_and_a_used_link_cannot_be_replayed(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.start(email)
    code = (await zone.last_sms(email)).params["code"]
    assert (await zone.verify(email, code)).status_code == 200
    replayed_code = await zone.verify(email, code)
    assert (replayed_code.status_code, replayed_code.json()["code"]) == (400, "activation_code_invalid")
    token = await zone.last_token(email)
    assert (await zone.complete(token)).status_code == 200
    replayed_link = await zone.complete(token, "Inne hasło do strefy 99")
    assert (replayed_link.status_code, replayed_link.json()["code"]) == (400, "activation_link_invalid")
    assert len(await zone.account_events(email, "AccountActivated")) == 1
    assert (await zone.login(email, "Inne hasło do strefy 99")).status_code == 401


async def test_a_newer_link_kills_the_older_one(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    for _ in range(2):
        await zone.start(email)
        assert (await zone.verify(email, (await zone.last_sms(email)).params["code"])).status_code == 200
    older, newer = [
        zone.unseal(event).params["link"].split("token=")[1]
        for event in await zone.account_events(email, "ActivationLinkIssued")
    ]
    assert (await zone.complete(older)).status_code == 400
    assert (await zone.complete(newer)).status_code == 200


async def test_an_active_account_gets_no_code(zone: Zone) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.activate(email)
    answer = await zone.start(email)
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    assert len(await zone.account_events(email, "ActivationCodeIssued")) == 1


async def test_start_and_verify_answer_the_same_for_known_and_unknown_addresses(zone: Zone) -> None:
    known, active, unknown = new_email("znany"), new_email("aktywny"), new_email("nieznany")
    await zone.provision(known)
    await zone.provision(active)
    await zone.activate(active)
    starts = [await zone.start(email) for email in (known, active, unknown)]
    assert {(answer.status_code, answer.text) for answer in starts} == {(202, '{"status":"accepted"}')}
    assert {answer.headers.get("content-length") for answer in starts} == {starts[0].headers["content-length"]}

    code = (await zone.last_sms(known)).params["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    verifies = [await zone.verify(email, wrong) for email in (known, active, unknown)]
    assert {answer.status_code for answer in verifies} == {400}
    assert len({answer.text for answer in verifies}) == 1
    assert verifies[0].headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("krótkie11zn", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("qwerty123456", "password_too_common"),
        ("1qaz2wsx3edc", "password_too_common"),
        ("AlamaKota123", "password_too_common"),
        ("moje strefaklienta hasło", "password_contains_context"),
    ],
)
async def test_a_weak_password_is_a_422_naming_the_field_and_the_link_still_works(
    zone: Zone, password: str, code: str
) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.start(email)
    await zone.verify(email, (await zone.last_sms(email)).params["code"])
    token = await zone.last_token(email)
    refused = await zone.complete(token, password)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == code
    assert refused.json()["errors"][0]["field"] == "password"
    assert await zone.account_events(email, "AccountActivated") == []
    assert (await zone.complete(token)).status_code == 200


@pytest.mark.parametrize(
    "password",
    ["dwanaście zn", "ż" * 12, "x" * 64 + "y" * 64, "   spacje są dozwolone   ", "Zielony🐸kot na płocie"],
)
async def test_long_unicode_and_spaced_passwords_are_allowed_without_composition_rules(
    zone: Zone, password: str
) -> None:
    email = new_email()
    await zone.provision(email)
    await zone.activate(email, password)
    assert (await zone.login(email, password)).status_code == 200


async def test_the_address_own_local_part_is_refused_in_the_password(zone: Zone) -> None:
    email = "jan.kowalski.1@firma.pl"
    await zone.provision(email)
    await zone.start(email)
    await zone.verify(email, (await zone.last_sms(email)).params["code"])
    refused = await zone.complete(await zone.last_token(email), "hasło jan.kowalski.1 !!")
    assert refused.json()["code"] == "password_contains_context"


@pytest.mark.parametrize(
    "token", ["", "not-a-token", "x" * 301, "3f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e11." + "A" * 43, "a.b.c"]
)
async def test_a_forged_link_token_is_refused(zone: Zone, token: str) -> None:
    answer = await zone.complete(token, PASSWORD)
    assert answer.status_code in (400, 422)
    assert answer.headers["content-type"] == "application/problem+json"
    assert await zone.events("AccountActivated") == []


async def test_activation_start_is_rate_limited_per_address(zone: Zone) -> None:
    email = new_email()
    zone.freeze(warsaw("2026-05-12 10:00:00"))
    answers = [await zone.start(email) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [202] * 5 + [429]
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert int(answers[-1].headers["retry-after"]) == 3600


async def test_verify_is_rate_limited_per_address(zone: Zone) -> None:
    email = new_email()
    answers = [await zone.verify(email, "000000") for _ in range(11)]
    assert [answer.status_code for answer in answers] == [400] * 10 + [429]
    assert "retry-after" in answers[-1].headers
