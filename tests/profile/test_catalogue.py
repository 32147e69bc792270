"""The request catalogue: valid JSON Schemas, Polish titles with English beside them, errors naming fields."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.profile.domain.catalogue import CATALOGUE, REQUEST_TYPES, referenced_contracts, validate_form

REQUIRED_TYPES = {
    "duplicate_invoice",
    "balance_confirmation",
    "early_termination_quote",
    "vehicle_abroad_permission",
    "contract_cession",
    "schedule_change",
    "correspondence_address_change",
    "insurance_policy_upload",
    "registration_certificate_duplicate",
    "vehicle_return",
}


def errors(code: str, data: Any) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in validate_form(CATALOGUE[code], data)]


def test_the_catalogue_holds_every_required_type_with_a_valid_schema() -> None:
    assert set(CATALOGUE) >= REQUIRED_TYPES
    for request_type in REQUEST_TYPES:
        Draft202012Validator.check_schema(request_type.form)
        assert request_type.title_pl
        assert request_type.title_en
        assert request_type.form["additionalProperties"] is False
        for name in request_type.contract_fields:
            assert name in request_type.form["properties"], (request_type.code, name)


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=lambda t: t.code)
def test_every_form_field_has_a_polish_and_an_english_title(request_type: Any) -> None:
    for name, field in request_type.form["properties"].items():
        assert field.get("title"), name
        assert field.get("x-title-en"), name
        if "enum" in field:
            assert len(field["x-enum-titles"]["pl"]) == len(field["enum"]) == len(field["x-enum-titles"]["en"])


def test_a_valid_form_has_no_errors() -> None:
    form = {"invoice_number": "FV/2026/05/0012", "delivery": "email", "reason": "Zagubiona"}
    assert errors("duplicate_invoice", form) == []


def test_errors_name_the_field_and_the_rule() -> None:
    assert errors("duplicate_invoice", {"delivery": "fax", "extra": 1}) == [
        ("delivery", "enum"),
        ("extra", "unexpected_field"),
        ("invoice_number", "required"),
    ]
    assert errors("duplicate_invoice", []) == [("", "type")]


@pytest.mark.parametrize(
    ("code", "form", "expected"),
    [
        ("contract_cession", {"assignee_nip": "5260250275"}, ("assignee_nip", "format")),
        ("contract_cession", {"assignee_email": "nowak(at)firma.pl"}, ("assignee_email", "format")),
        ("contract_cession", {"assignee_phone": "12345"}, ("assignee_phone", "format")),
        ("vehicle_return", {"contact_phone": "+48 601 234 56"}, ("contact_phone", "format")),
        ("vehicle_return", {"mileage_km": -1}, ("mileage_km", "minimum")),
        ("schedule_change", {"change_kind": "payment_day"}, ("requested_payment_day", "required")),
        ("schedule_change", {"requested_payment_day": 31}, ("requested_payment_day", "maximum")),
        ("registration_certificate_duplicate", {"reason": "stolen"}, ("police_report_number", "required")),
        ("correspondence_address_change", {"postal_code": "00950"}, ("postal_code", "pattern")),
        ("correspondence_address_change", {"country": "PL", "postal_code": "10115"}, ("postal_code", "pattern")),
        ("insurance_policy_upload", {"valid_from": "2026-05-01", "valid_to": "2026-04-30"}, ("valid_to", "date_order")),
    ],
)
def test_library_checked_formats_and_conditional_rules(
    code: str, form: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in errors(code, form) or expected in errors(code, {**_valid(code), **form})


def test_a_foreign_address_takes_its_own_postal_code() -> None:
    form = {**_valid("correspondence_address_change"), "country": "DE", "postal_code": "10115"}
    assert errors("correspondence_address_change", form) == []


def test_the_contracts_a_form_names_are_found_with_their_fields() -> None:
    form = {"as_of_date": "2026-06-30", "delivery": "post", "contract_ids": ["c-1", "c-2"]}
    assert referenced_contracts(CATALOGUE["balance_confirmation"], form) == {
        "c-1": "contract_ids.0",
        "c-2": "contract_ids.1",
    }
    assert referenced_contracts(CATALOGUE["vehicle_return"], {"contract_id": "c-9"}) == {"c-9": "contract_id"}
    assert referenced_contracts(CATALOGUE["duplicate_invoice"], {"invoice_number": "FV/1"}) == {}


VALID: dict[str, dict[str, Any]] = {
    "contract_cession": {
        "contract_id": "c-1",
        "assignee_name": "Budmax S.A.",
        "assignee_nip": "7740001454",
        "assignee_email": "umowy@budmax.pl",
        "assignee_phone": "+48 22 333 44 55",
    },
    "vehicle_return": {
        "contract_id": "c-1",
        "return_date": "2029-01-15",
        "return_location": "Warszawa, ul. Połczyńska 1",
        "contact_phone": "601 234 567",
    },
    "schedule_change": {
        "contract_id": "c-1",
        "change_kind": "payment_day",
        "requested_payment_day": 15,
        "justification": "Wpływy klientów po 10. dniu",
    },
    "registration_certificate_duplicate": {
        "contract_id": "c-1",
        "reason": "stolen",
        "police_report_number": "KRP-1/2026",
    },
    "correspondence_address_change": {
        "street": "ul. Prosta",
        "building": "1",
        "postal_code": "00-838",
        "city": "Warszawa",
    },
    "insurance_policy_upload": {
        "contract_id": "c-1",
        "insurer": "PZU SA",
        "policy_number": "P-1",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    },
}


def _valid(code: str) -> dict[str, Any]:
    return dict(VALID[code])


@pytest.mark.parametrize("code", sorted(VALID))
def test_the_sample_forms_are_valid(code: str) -> None:
    assert errors(code, _valid(code)) == []
