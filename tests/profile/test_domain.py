"""The pure parts: e-invoice decisions, request transitions and visibility, attachment checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.events import Conflict, Invalid, NotFound
from libs.events.access import Principal
from libs.events.schemas.profile import RequestStatus, RequestSubmitted
from libs.events.sealed import SealedMessage
from services.profile.domain import einvoice as e
from services.profile.domain import requests as r
from services.profile.domain.attachments import check_file, detect_type, safe_filename
from services.profile.domain.errors import Gone, PayloadTooLarge, UnsupportedMediaType
from services.profile.domain.postal import check_postal_code
from services.profile.links import client_of, new_token, token_hash
from tests.profile.conftest import GIF, JPEG, PDF, PNG

NOW = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
SEALED = SealedMessage(recipient="notifications", key_id="0" * 16, ciphertext="x")


def link(token: str) -> e.PreparedLink:
    return e.PreparedLink(f"conf-{token}", token_hash(token), SEALED)


def fold(*commands: e.Command) -> e.EInvoice:
    state = e.EInvoice()
    for command in commands:
        for event in e.decide(state, command):
            state = e.evolve(state, event)
    return state


def test_a_link_is_valid_until_warsaw_midnight_ending_the_next_day_across_the_autumn_change() -> None:
    # 24 October 2026, 23:00 in Warsaw (CEST); clocks go back on the 25th: 26 October 00:00 CET = 25th 23:00 UTC.
    assert e.confirmation_expiry(NOW) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


def test_consent_for_a_new_address_is_pending_until_confirmed() -> None:
    state = fold(e.GiveConsent("CL-1", "f@x.pl", "account:a", NOW, link("t1")))
    assert (state.consent, state.email) == (False, None)
    assert state.pending is not None
    (given,) = e.decide(state, e.Confirm("CL-1", token_hash("t1"), NOW + timedelta(hours=1)))
    assert given.model_dump()["given_by"] == "account:a"


def test_a_confirmation_at_the_expiry_instant_is_gone() -> None:
    state = fold(e.GiveConsent("CL-1", "f@x.pl", "account:a", NOW, link("t1")))
    with pytest.raises(Gone) as raised:
        e.decide(state, e.Confirm("CL-1", token_hash("t1"), e.confirmation_expiry(NOW)))
    assert raised.value.code == "confirmation_link_expired"


def test_refusals() -> None:
    given = fold(
        e.GiveConsent("CL-1", "f@x.pl", "account:a", NOW, link("t1")), e.Confirm("CL-1", token_hash("t1"), NOW)
    )
    with pytest.raises(Conflict):
        e.decide(given, e.GiveConsent("CL-1", "g@x.pl", "account:a", NOW, link("t2")))
    with pytest.raises(Invalid):
        e.decide(given, e.RequestEmailChange("CL-1", "F@x.pl", "account:a", NOW, link("t2")))
    with pytest.raises(Gone):
        e.decide(given, e.Confirm("CL-1", token_hash("t1"), NOW))
    with pytest.raises(NotFound):
        e.decide(given, e.Confirm("CL-1", token_hash("never"), NOW))
    with pytest.raises(Conflict):
        e.decide(e.EInvoice(), e.WithdrawConsent("CL-1", "account:a", NOW))


def submitted(contract_ids: tuple[str, ...] = ("c-1",), by: str = "acc-1") -> RequestSubmitted:
    return RequestSubmitted(
        request_id="r-1",
        client_id="CL-1",
        request_type="vehicle_return",
        form_version=1,
        contract_ids=contract_ids,
        form={},
        submitted_by=by,
        submitted_at=NOW,
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ((), {"in_progress", "rejected"}),
        (("in_progress",), {"completed", "rejected"}),
        (("in_progress", "completed"), set()),
        (("rejected",), set()),
    ],
)
def test_request_transitions(path: tuple[RequestStatus, ...], allowed: set[str]) -> None:
    state = r.evolve(r.Request(), submitted())
    for step in path:
        (event,) = r.decide(state, r.ChangeRequestStatus(step, "powód", None, "backoffice:x", NOW, None))
        state = r.evolve(state, event)
    targets: tuple[RequestStatus, ...] = ("submitted", "in_progress", "completed", "rejected")
    for target in targets:
        command = r.ChangeRequestStatus(target, "powód", None, "backoffice:x", NOW, None)
        if target in allowed:
            assert r.decide(state, command)
        else:
            with pytest.raises(Conflict):
                r.decide(state, command)


def principal(client_id: str = "CL-1", contracts: frozenset[str] | None = None, account: str = "acc-2") -> Principal:
    return Principal(account, "s", client_id, frozenset(), contracts)


def test_request_visibility() -> None:
    doc = {"client_id": "CL-1", "contract_ids": ["c-1"], "submitted_by": "acc-1"}
    client_wide = {"client_id": "CL-1", "contract_ids": [], "submitted_by": "acc-1"}
    assert r.may_see(principal(), doc)
    assert not r.may_see(principal("CL-2"), doc)
    assert r.may_see(principal(contracts=frozenset({"c-1"})), doc)
    assert not r.may_see(principal(contracts=frozenset({"c-2"})), doc)
    assert not r.may_see(principal(contracts=frozenset({"c-1"})), client_wide)
    assert r.may_see(principal(contracts=frozenset({"c-2"}), account="acc-1"), client_wide)
    with pytest.raises(NotFound):
        r.visible(principal("CL-2"), doc)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, None), (b"", None)],
)
def test_the_type_comes_from_the_bytes(content: bytes, expected: str | None) -> None:
    assert detect_type(content) == expected


def test_attachment_checks() -> None:
    assert check_file(0, "a.pdf", PDF, len(PDF)).content_type == "application/pdf"
    with pytest.raises(PayloadTooLarge):
        check_file(0, "a.pdf", PDF + b"x", len(PDF))
    with pytest.raises(UnsupportedMediaType):
        check_file(0, "a.png", GIF, 1000)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\zofia\\Polisa OC 2026.PDF", "Polisa OC 2026.pdf"),
        ("zdjęcie<script>.exe", "zdjęcie_script.pdf"),
        ("", "zalacznik-1.pdf"),
        (None, "zalacznik-1.pdf"),
        ("...", "zalacznik-1.pdf"),
    ],
)
def test_file_names_are_made_safe_with_the_real_extension(name: str | None, expected: str) -> None:
    assert safe_filename(name, "application/pdf", 0) == expected


@pytest.mark.parametrize(
    ("country", "code", "ok"),
    [
        ("PL", "00-950", True),
        ("PL", "00950", False),
        ("PL", "00-95", False),
        ("DE", "10115", True),
        ("CZ", "110 00", True),
        ("SE", "114 55", True),
        ("DE", "00-950", False),
    ],
)
def test_postal_codes_by_country(country: str, code: str, ok: bool) -> None:
    if ok:
        assert check_postal_code(country, code) == code
    else:
        with pytest.raises(ValueError, match="postal code"):
            check_postal_code(country, code)


def test_link_tokens_name_their_client_and_are_random() -> None:
    first, second = new_token("CL-1001"), new_token("CL-1001")
    assert first != second
    assert client_of(first) == "CL-1001"
    assert client_of("garbage") is None
    assert client_of("@@@." + "x" * 43) is None
