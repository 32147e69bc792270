"""Wnioski over HTTP: filing with attachments, the client's view and history, the back office's statuses."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from services.profile.settings import MIB
from tests.helpers import eventually
from tests.profile.conftest import GIF, JPEG, PDF, PIOTR_ID, PNG, ZOFIA_ID, World

REQUESTS = "/api/profile/requests"
Files = list[tuple[str, tuple[str, bytes, str]]]


def abroad(world: World, **changes: Any) -> dict[str, Any]:
    form = {
        "contract_id": world.contract_ids["UL/2026/0001"],
        "countries": ["DE", "CZ"],
        "date_from": "2026-07-01",
        "date_to": "2026-07-14",
        "driver_name": "Zofia Żółkiewska",
    }
    return {**form, **changes}


def policy(world: World) -> dict[str, Any]:
    return {
        "contract_id": world.contract_ids["UL/2026/0002"],
        "insurer": "PZU SA",
        "policy_number": "POL/2026/778899",
        "valid_from": "2026-01-15",
        "valid_to": "2027-01-14",
    }


async def file(world: World, kind: str, form: dict[str, Any], files: Files | None = None, **token: Any) -> Any:
    return await world.http.post(
        REQUESTS,
        data={"type": kind, "data": json.dumps(form)},
        files=files or None,
        headers=world.headers(**token),
    )


async def filed(world: World, kind: str = "vehicle_abroad_permission", files: Files | None = None, **token: Any) -> str:
    form = abroad(world) if kind == "vehicle_abroad_permission" else policy(world)
    response = await file(world, kind, form, files, **token)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["request_id"]
    await world.settled()
    return request_id


async def move(world: World, request_id: str, status: str, **more: Any) -> Any:
    return await world.http.post(
        f"/api/profile/backoffice/requests/{request_id}/status",
        json={"status": status, **more},
        headers=world.portal.backoffice,
    )


async def nothing_stored(world: World) -> None:
    assert world.blob_files() == []
    assert await world.events("RequestSubmitted") == []


# --- filing ---------------------------------------------------------------------------------------


async def test_the_catalogue_lists_every_request_type_with_its_form(world: World) -> None:
    response = await world.http.get(f"{REQUESTS}/catalogue", headers=world.headers(scopes=["requests:create"]))
    assert response.status_code == 200
    types = {item["type"]: item for item in response.json()}
    assert len(types) >= 10
    abroad_type = types["vehicle_abroad_permission"]
    assert abroad_type["title"] == {
        "pl": "Zgoda na wyjazd pojazdem za granicę",
        "en": "Permission to take the vehicle abroad",
    }
    assert abroad_type["form_schema"]["properties"]["countries"]["x-title-en"] == "Countries (ISO codes)"
    assert abroad_type["attachments"] == {
        "min": 0,
        "max": 5,
        "max_bytes": 10 * MIB,
        "content_types": ["application/pdf", "image/jpeg", "image/png"],
    }
    assert (await world.http.get(f"{REQUESTS}/catalogue")).status_code == 401


async def test_a_request_is_filed_with_its_attachments_in_the_blob_store(world: World) -> None:
    files: Files = [
        ("attachments", ("polisa PZU 2026.pdf", PDF, "application/pdf")),
        ("attachments", ("../../zdjęcie.jpg", PNG, "image/jpeg")),
    ]
    response = await file(world, "insurance_policy_upload", policy(world), files)
    assert response.status_code == 201, response.text
    request_id = response.json()["request_id"]
    assert response.headers["location"] == f"/api/profile/requests/{request_id}"

    (event,) = await world.events("RequestSubmitted")
    assert event.stream_id == f"profile-request-{request_id}"
    assert event.client_id == "CL-1001"
    assert event.data["submitted_by"] == ZOFIA_ID
    assert event.data["request_type"] == "insurance_policy_upload"
    assert event.data["contract_ids"] == [world.contract_ids["UL/2026/0002"]]
    assert event.data["form"]["policy_number"] == "POL/2026/778899"
    first, second = event.data["attachments"]
    assert first["filename"] == "polisa PZU 2026.pdf"
    assert first["file"]["content_type"] == "application/pdf"
    assert first["file"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert first["file"]["size"] == len(PDF)
    assert second["filename"] == "zdjęcie.png"  # a PNG, whatever its name and declared type said
    assert second["file"]["content_type"] == "image/png"
    stored = world.blob_files()
    assert len(stored) == 2
    assert {path.read_bytes() for path in stored} == {PDF, PNG}


async def test_the_client_sees_its_request_and_downloads_its_attachment(world: World) -> None:
    files: Files = [("attachments", ("polisa.pdf", PDF, "application/pdf"))]
    request_id = await filed(world, "insurance_policy_upload", files)
    mine = await world.http.get(REQUESTS, headers=world.headers(account_id=PIOTR_ID))
    (listed,) = mine.json()
    assert listed["request_id"] == request_id
    assert listed["status"] == "submitted"
    assert listed["title"]["pl"] == "Przesłanie polisy ubezpieczeniowej"
    assert listed["status_label"] == {"pl": "Złożony", "en": "Submitted"}
    assert "key" not in listed["attachments"][0]
    download = await world.http.get(f"{REQUESTS}/{request_id}/attachments/0", headers=world.headers())
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "polisa.pdf" in download.headers["content-disposition"]
    missing = await world.http.get(f"{REQUESTS}/{request_id}/attachments/1", headers=world.headers())
    assert missing.status_code == 404


async def test_another_clients_request_ids_answer_404(world: World) -> None:
    files: Files = [("attachments", ("polisa.pdf", PDF, "application/pdf"))]
    request_id = await filed(world, "insurance_policy_upload", files)
    other = world.headers(client_id="CL-2002")
    for path in (f"{REQUESTS}/{request_id}", f"{REQUESTS}/{request_id}/attachments/0"):
        response = await world.http.get(path, headers=other)
        assert (response.status_code, response.json()["code"]) == (404, "request_not_found")
    assert (await world.http.get(REQUESTS, headers=other)).json() == []
    unknown = await world.http.get(f"{REQUESTS}/{'0' * 32}", headers=world.headers())
    assert unknown.status_code == 404


async def test_a_sub_account_limited_to_contracts_sees_only_theirs(world: World) -> None:
    own = world.contract_ids["UL/2026/0001"]
    request_id = await filed(world)  # on UL/2026/0001, filed by Zofia
    limited = world.headers(account_id=PIOTR_ID, contract_ids=(world.contract_ids["UL/2026/0002"],))
    assert (await world.http.get(f"{REQUESTS}/{request_id}", headers=limited)).status_code == 404
    assert (await world.http.get(REQUESTS, headers=limited)).json() == []
    allowed = world.headers(account_id=PIOTR_ID, contract_ids=(own,))
    assert (await world.http.get(f"{REQUESTS}/{request_id}", headers=allowed)).status_code == 200
    response = await file(
        world, "vehicle_abroad_permission", abroad(world), contract_ids=(world.contract_ids["UL/2026/0002"],)
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "data.contract_id"


async def test_a_sub_account_without_requests_create_gets_403(world: World) -> None:
    response = await file(world, "vehicle_abroad_permission", abroad(world), scopes=["requests:read", "profile:read"])
    assert (response.status_code, response.json()["code"]) == (403, "scope_required")
    reading = await world.http.get(REQUESTS, headers=world.headers(scopes=["requests:create"]))
    assert reading.status_code == 403
    await nothing_stored(world)


@pytest.mark.parametrize(
    ("kind", "changes", "fields"),
    [
        ("vehicle_abroad_permission", {"driver_name": ""}, ["data.driver_name"]),
        ("vehicle_abroad_permission", {"countries": []}, ["data.countries"]),
        ("vehicle_abroad_permission", {"countries": ["DE", "Niemcy"]}, ["data.countries.1"]),
        ("vehicle_abroad_permission", {"countries": ["XX"]}, ["data.countries.0"]),
        ("vehicle_abroad_permission", {"date_from": "2026-02-30"}, ["data.date_from"]),
        ("vehicle_abroad_permission", {"date_to": "2026-06-01"}, ["data.date_to"]),
        ("vehicle_abroad_permission", {"colour": "red"}, ["data.colour"]),
        ("vehicle_abroad_permission", {"driver_name": None, "date_to": 5}, ["data.date_to", "data.driver_name"]),
    ],
)
async def test_json_schema_errors_name_the_form_field_and_nothing_is_stored(
    world: World, kind: str, changes: dict[str, Any], fields: list[str]
) -> None:
    files: Files = [("attachments", ("skan.pdf", PDF, "application/pdf"))]
    response = await file(world, kind, abroad(world, **changes), files)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert sorted({error["field"] for error in response.json()["errors"]}) == fields
    await nothing_stored(world)


async def test_a_missing_required_form_field_is_named(world: World) -> None:
    form = {k: v for k, v in abroad(world).items() if k not in ("driver_name", "countries")}
    response = await file(world, "vehicle_abroad_permission", form)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("data.countries", "required"),
        ("data.driver_name", "required"),
    ]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"type": "leasing_holiday", "data": "{}"}, "unknown_request_type", "type"),
        ({"type": "duplicate_invoice", "data": "{not json"}, "form_not_json", "data"),
        ({"type": "duplicate_invoice", "data": "[1, 2]"}, "form_not_object", "data"),
        ({"data": "{}"}, "missing", "type"),
    ],
)
async def test_bad_multipart_fields_are_named(world: World, fields: dict[str, str], code: str, field: str) -> None:
    response = await world.http.post(REQUESTS, data=fields, headers=world.headers())
    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (field, code)
    await nothing_stored(world)


async def test_a_contract_of_another_client_is_404_naming_the_field(world: World) -> None:
    form = abroad(world, contract_id=world.contract_ids["UL/2026/0100"])
    files: Files = [("attachments", ("skan.pdf", PDF, "application/pdf"))]
    response = await file(world, "vehicle_abroad_permission", form, files)
    assert response.status_code == 404
    assert response.json()["code"] == "contract_not_found"
    assert response.json()["errors"][0]["field"] == "data.contract_id"
    listed = {
        "as_of_date": "2026-06-30",
        "delivery": "email",
        "contract_ids": [world.contract_ids["UL/2026/0001"], "nope"],
    }
    response = await file(world, "balance_confirmation", listed)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (404, "data.contract_ids.1")
    await nothing_stored(world)


# --- attachments ----------------------------------------------------------------------------------


async def test_an_attachment_over_the_default_10_mib_is_413_and_nothing_is_stored(world: World) -> None:
    big = PDF + b"0" * (10 * MIB + 1 - len(PDF))
    files: Files = [
        ("attachments", ("ok.pdf", PDF, "application/pdf")),
        ("attachments", ("big.pdf", big, "application/pdf")),
    ]
    response = await file(world, "insurance_policy_upload", policy(world), files)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("attachment_too_large", "attachments.1")
    await nothing_stored(world)


async def test_the_size_limit_is_a_setting(world: World) -> None:
    world.runtime.settings = world.runtime.settings.model_copy(update={"attachment_max_bytes": 1024})
    exactly = PDF + b"0" * (1024 - len(PDF))
    ok = await file(
        world, "insurance_policy_upload", policy(world), [("attachments", ("a.pdf", exactly, "application/pdf"))]
    )
    assert ok.status_code == 201
    over = await file(
        world, "insurance_policy_upload", policy(world), [("attachments", ("a.pdf", exactly + b"0", "application/pdf"))]
    )
    assert over.status_code == 413


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("faktura.pdf", GIF, "application/pdf"),
        ("skan.pdf", b"to nie jest PDF, tylko tekst", "application/pdf"),
        ("obraz.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),
        ("program.pdf", b"MZ\x90\x00" + b"\x00" * 64, "application/pdf"),
    ],
)
async def test_a_type_other_than_pdf_jpeg_png_in_the_bytes_is_415_and_nothing_is_stored(
    world: World, name: str, content: bytes, declared: str
) -> None:
    files: Files = [("attachments", ("ok.jpg", JPEG, "image/jpeg")), ("attachments", (name, content, declared))]
    response = await file(world, "insurance_policy_upload", policy(world), files)
    assert response.status_code == 415
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == (
        "attachment_type_not_allowed",
        "attachments.1",
    )
    await nothing_stored(world)


async def test_attachment_count_limits(world: World) -> None:
    six: Files = [("attachments", (f"{i}.pdf", PDF, "application/pdf")) for i in range(6)]
    too_many = await file(world, "insurance_policy_upload", policy(world), six)
    assert (too_many.status_code, too_many.json()["code"]) == (422, "too_many_attachments")
    none = await file(world, "insurance_policy_upload", policy(world))
    assert (none.status_code, none.json()["errors"][0]["field"]) == (422, "attachments")
    empty = await file(
        world, "insurance_policy_upload", policy(world), [("attachments", ("a.pdf", b"", "application/pdf"))]
    )
    assert (empty.status_code, empty.json()["code"]) == (422, "attachment_empty")
    await nothing_stored(world)


# --- the back office and the history --------------------------------------------------------------


async def test_the_back_office_moves_a_request_and_the_client_sees_the_history(world: World) -> None:
    request_id = await filed(world)
    started = await move(world, request_id, "in_progress", comment="Przekazano do działu flot")
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "in_progress"
    done = await move(world, request_id, "completed")
    assert done.json()["status"] == "completed"

    async def completed() -> bool:
        response = await world.http.get(f"{REQUESTS}/{request_id}", headers=world.headers())
        return bool(response.json()["status"] == "completed")

    await eventually(completed, what="the completed status in the client's view")
    detail = (await world.http.get(f"{REQUESTS}/{request_id}", headers=world.headers())).json()
    assert [entry["status"] for entry in detail["history"]] == ["submitted", "in_progress", "completed"]
    assert detail["history"][0]["by"] == f"account:{ZOFIA_ID}"
    assert detail["history"][1]["by"] == "backoffice"
    assert detail["history"][1]["comment"] == "Przekazano do działu flot"
    assert detail["status_label"]["pl"] == "Zrealizowany"


async def test_each_status_change_carries_a_sealed_notification_to_the_filer(world: World) -> None:
    request_id = await filed(world, account_id=PIOTR_ID)
    await move(world, request_id, "rejected", reason="Brak zgody ubezpieczyciela na wyjazd do tych krajów")
    (event,) = await world.events("RequestStatusChanged")
    assert (event.data["from_status"], event.data["to_status"]) == ("submitted", "rejected")
    assert event.data["reason"] == "Brak zgody ubezpieczyciela na wyjazd do tych krajów"
    assert event.data["changed_by"].startswith("backoffice:")
    assert event.client_id == "CL-1001"
    assert "piotr@nowak.pl" not in event.to_json().decode()
    message = world.unseal(event.data["notification"])
    assert (message.channel, message.to, message.template) == ("email", "piotr@nowak.pl", "request_status_changed")
    assert message.params["status"] == "rejected"
    assert message.params["status_label"] == "Odrzucony"
    assert message.params["reason"] == "Brak zgody ubezpieczyciela na wyjazd do tych krajów"
    assert message.params["request_title"] == "Zgoda na wyjazd pojazdem za granicę"
    assert message.params["first_name"] == "Piotr"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ([], "completed", "invalid_status_transition"),
        (["in_progress"], "in_progress", "invalid_status_transition"),
        (["in_progress", "completed"], "rejected", "invalid_status_transition"),
        (["rejected"], "in_progress", "invalid_status_transition"),
    ],
)
async def test_invalid_transitions_are_409(world: World, path: list[str], status: str, code: str) -> None:
    request_id = await filed(world)
    for step in path:
        assert (await move(world, request_id, step, reason="powód")).status_code == 200
    response = await move(world, request_id, status, reason="powód")
    assert (response.status_code, response.json()["code"]) == (409, code)
    assert len(await world.events("RequestStatusChanged")) == len(path)


async def test_a_rejection_needs_a_reason(world: World) -> None:
    request_id = await filed(world)
    response = await move(world, request_id, "rejected")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"
    bad = await move(world, request_id, "archived")
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "status")


async def test_a_repeated_status_change_with_the_same_idempotency_key_changes_nothing(world: World) -> None:
    request_id = await filed(world)
    headers = {**world.portal.backoffice, "Idempotency-Key": "crm-4411"}
    path = f"/api/profile/backoffice/requests/{request_id}/status"
    first = await world.http.post(path, json={"status": "in_progress"}, headers=headers)
    again = await world.http.post(path, json={"status": "in_progress"}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert len(await world.events("RequestStatusChanged")) == 1


async def test_the_back_office_api_needs_its_credential_and_finds_requests(world: World) -> None:
    request_id = await filed(world, "insurance_policy_upload", [("attachments", ("p.pdf", PDF, "application/pdf"))])
    client = world.headers()
    for method, path in (
        ("GET", "/api/profile/backoffice/requests"),
        ("POST", f"/api/profile/backoffice/requests/{request_id}/status"),
    ):
        response = await world.http.request(method, path, json={"status": "in_progress"}, headers=client)
        assert response.status_code == 401
    queue = await world.http.get(
        "/api/profile/backoffice/requests",
        params={"status": "submitted", "client_id": "CL-1001"},
        headers=world.portal.backoffice,
    )
    assert [item["request_id"] for item in queue.json()] == [request_id]
    download = await world.http.get(
        f"/api/profile/backoffice/requests/{request_id}/attachments/0", headers=world.portal.backoffice
    )
    assert download.content == PDF
    unknown = await move(world, "0" * 32, "in_progress")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "request_not_found")


async def test_files_are_removed_when_the_event_cannot_be_appended(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*_: Any, **__: Any) -> None:
        raise RuntimeError("the event store is gone")

    monkeypatch.setattr(world.runtime.commands, "handle", failing)
    files: Files = [("attachments", ("p.pdf", PDF, "application/pdf")), ("attachments", ("z.png", PNG, "image/png"))]
    with pytest.raises(RuntimeError, match="the event store is gone"):  # the test transport re-raises after the 500
        await file(world, "insurance_policy_upload", policy(world), files)
    await nothing_stored(world)
