"""The catalogue of requests ("wnioski") a client may file: a JSON Schema form for each type. Pure.

Each form field has a Polish `title` (the portal's language) and its English title beside it in
`x-title-en`; enumerations label their values in `x-enum-titles` ({"pl": [...], "en": [...]}).
Validation uses jsonschema (Draft 2020-12) with formats checked by libraries: e-mail (email-validator),
phone (phonenumbers), NIP (python-stdnum), date and country.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import email_validator
import phonenumbers
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip as stdnum_nip

from services.profile.domain.postal import is_country

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

FORMATS = FormatChecker()


@FORMATS.checks("email", raises=email_validator.EmailNotValidError)
def _email(value: object) -> bool:
    if isinstance(value, str):
        email_validator.validate_email(value, check_deliverability=False)
    return True


@FORMATS.checks("phone", raises=phonenumbers.NumberParseException)
def _phone(value: object) -> bool:
    return not isinstance(value, str) or phonenumbers.is_valid_number(phonenumbers.parse(value, "PL"))


@FORMATS.checks("nip", raises=StdnumError)
def _nip(value: object) -> bool:
    if isinstance(value, str):
        stdnum_nip.validate(value)
    return True


@FORMATS.checks("country")
def _country(value: object) -> bool:
    return not isinstance(value, str) or is_country(value)


# --- field builders -------------------------------------------------------------------------------


def text(pl: str, en: str, max_length: int = 200, **more: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "title": pl, "x-title-en": en, **more}


def day(pl: str, en: str) -> dict[str, Any]:
    return {"type": "string", "format": "date", "title": pl, "x-title-en": en}


def choice(pl: str, en: str, values: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "string",
        "enum": list(values),
        "title": pl,
        "x-title-en": en,
        "x-enum-titles": {"pl": [v[0] for v in values.values()], "en": [v[1] for v in values.values()]},
    }


CONTRACT = text("Umowa", "Contract", 64)
CONTRACTS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 64},
    "uniqueItems": True,
    "maxItems": 50,
    "title": "Umowy (puste: wszystkie)",
    "x-title-en": "Contracts (empty: all)",
}
COMMENT = text("Uwagi", "Comments", 2000)
DELIVERY = choice("Sposób doręczenia", "Delivery", {"email": ("E-mail", "E-mail"), "post": ("Poczta", "Post")})
PHONE = text("Telefon kontaktowy", "Contact phone", 32, format="phone")


def form(properties: Mapping[str, Any], required: Sequence[str], **more: Any) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
        **more,
    }


# --- the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestType:
    code: str
    title_pl: str
    title_en: str
    description_pl: str
    description_en: str
    form: Mapping[str, Any]
    version: int = 1
    contract_fields: tuple[str, ...] = ("contract_id",)
    """Form fields naming contracts (a string or a list of strings): each must be the filer's to see."""
    date_order: tuple[tuple[str, str], ...] = ()
    """(earlier, later) pairs of date fields: the later may not be before the earlier."""
    min_attachments: int = 0

    def describe(self, max_attachments: int, max_bytes: int, types: Sequence[str]) -> dict[str, Any]:
        return {
            "type": self.code,
            "version": self.version,
            "title": {"pl": self.title_pl, "en": self.title_en},
            "description": {"pl": self.description_pl, "en": self.description_en},
            "form_schema": self.form,
            "attachments": {
                "min": self.min_attachments,
                "max": max_attachments,
                "max_bytes": max_bytes,
                "content_types": list(types),
            },
        }


REQUEST_TYPES: Final[tuple[RequestType, ...]] = (
    RequestType(
        "duplicate_invoice",
        "Duplikat faktury",
        "Duplicate invoice",
        "Prośba o wystawienie duplikatu faktury.",
        "A request for a duplicate of an invoice.",
        form(
            {
                "invoice_number": text("Numer faktury", "Invoice number", 64),
                "contract_id": CONTRACT,
                "reason": text("Powód", "Reason", 500),
                "delivery": DELIVERY,
            },
            ["invoice_number", "delivery"],
        ),
    ),
    RequestType(
        "balance_confirmation",
        "Potwierdzenie salda",
        "Balance confirmation",
        "Potwierdzenie salda rozrachunków na wskazany dzień.",
        "A confirmation of the account balance as of a given day.",
        form(
            {"as_of_date": day("Saldo na dzień", "Balance as of"), "contract_ids": CONTRACTS, "delivery": DELIVERY},
            ["as_of_date", "delivery"],
        ),
        contract_fields=("contract_ids",),
    ),
    RequestType(
        "early_termination_quote",
        "Kalkulacja przedterminowego zakończenia umowy",
        "Early termination quote",
        "Wyliczenie kwoty do zapłaty przy zakończeniu umowy przed terminem.",
        "A quote of what is due to end a contract before its term.",
        form(
            {
                "contract_id": CONTRACT,
                "planned_termination_date": day("Planowana data zakończenia", "Planned termination date"),
                "asset_purchase": {
                    "type": "boolean",
                    "title": "Wykup przedmiotu leasingu",
                    "x-title-en": "Purchase of the leased asset",
                },
                "comment": COMMENT,
            },
            ["contract_id", "planned_termination_date"],
        ),
    ),
    RequestType(
        "vehicle_abroad_permission",
        "Zgoda na wyjazd pojazdem za granicę",
        "Permission to take the vehicle abroad",
        "Upoważnienie do wyjazdu leasingowanym pojazdem poza granice Polski.",
        "An authorisation to take the leased vehicle out of Poland.",
        form(
            {
                "contract_id": CONTRACT,
                "countries": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[A-Z]{2}$", "format": "country"},
                    "minItems": 1,
                    "maxItems": 30,
                    "uniqueItems": True,
                    "title": "Kraje (kody ISO)",
                    "x-title-en": "Countries (ISO codes)",
                },
                "date_from": day("Od dnia", "From"),
                "date_to": day("Do dnia", "Until"),
                "driver_name": text("Imię i nazwisko kierowcy", "Driver's full name"),
                "purpose": text("Cel wyjazdu", "Purpose of the journey", 500),
            },
            ["contract_id", "countries", "date_from", "date_to", "driver_name"],
        ),
        date_order=(("date_from", "date_to"),),
    ),
    RequestType(
        "contract_cession",
        "Cesja umowy",
        "Contract cession",
        "Przeniesienie praw i obowiązków z umowy na inny podmiot.",
        "A transfer of the contract's rights and obligations to another party.",
        form(
            {
                "contract_id": CONTRACT,
                "assignee_name": text("Nazwa przejmującego", "Assignee's name"),
                "assignee_nip": text("NIP przejmującego", "Assignee's NIP", 13, format="nip"),
                "assignee_email": text("E-mail przejmującego", "Assignee's e-mail", 254, format="email"),
                "assignee_phone": PHONE,
                "planned_date": day("Planowana data cesji", "Planned date of the cession"),
                "comment": COMMENT,
            },
            ["contract_id", "assignee_name", "assignee_nip", "assignee_email"],
        ),
    ),
    RequestType(
        "schedule_change",
        "Zmiana harmonogramu spłat",
        "Repayment schedule change",
        "Zmiana terminu płatności, wysokości rat lub okresu umowy.",
        "A change of the payment day, of the instalments or of the term.",
        form(
            {
                "contract_id": CONTRACT,
                "change_kind": choice(
                    "Rodzaj zmiany",
                    "Kind of change",
                    {
                        "payment_day": ("Zmiana dnia płatności", "Payment day"),
                        "instalment_amount": ("Zmiana wysokości rat", "Instalment amount"),
                        "deferral": ("Odroczenie płatności", "Deferral"),
                        "term_extension": ("Wydłużenie okresu umowy", "Term extension"),
                    },
                ),
                "requested_payment_day": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 28,
                    "title": "Nowy dzień płatności",
                    "x-title-en": "New payment day",
                },
                "justification": text("Uzasadnienie", "Justification", 2000),
            },
            ["contract_id", "change_kind", "justification"],
            **{
                "if": {"properties": {"change_kind": {"const": "payment_day"}}, "required": ["change_kind"]},
                "then": {"required": ["requested_payment_day"]},
            },
        ),
    ),
    RequestType(
        "correspondence_address_change",
        "Zmiana adresu korespondencyjnego",
        "Change of correspondence address",
        "Nowy adres do korespondencji w sprawie wskazanych umów.",
        "A new address for the correspondence about the given contracts.",
        form(
            {
                "street": text("Ulica", "Street", 120),
                "building": text("Numer budynku", "Building number", 16),
                "apartment": text("Numer lokalu", "Apartment", 16),
                "postal_code": text("Kod pocztowy", "Postal code", 10, pattern="^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$"),
                "city": text("Miejscowość", "City", 80),
                "country": {
                    "type": "string",
                    "pattern": "^[A-Z]{2}$",
                    "format": "country",
                    "default": "PL",
                    "title": "Kraj",
                    "x-title-en": "Country",
                },
                "contract_ids": CONTRACTS,
            },
            ["street", "building", "postal_code", "city"],
            **{
                "if": {"properties": {"country": {"const": "PL"}}},
                "then": {"properties": {"postal_code": {"pattern": r"^\d{2}-\d{3}$"}}},
            },
        ),
        contract_fields=("contract_ids",),
    ),
    RequestType(
        "insurance_policy_upload",
        "Przesłanie polisy ubezpieczeniowej",
        "Insurance policy upload",
        "Polisa ubezpieczenia przedmiotu leasingu zawarta we własnym zakresie (w załączniku).",
        "An insurance policy of the leased asset bought by the client (attached).",
        form(
            {
                "contract_id": CONTRACT,
                "insurer": text("Ubezpieczyciel", "Insurer"),
                "policy_number": text("Numer polisy", "Policy number", 64),
                "valid_from": day("Ważna od", "Valid from"),
                "valid_to": day("Ważna do", "Valid until"),
            },
            ["contract_id", "insurer", "policy_number", "valid_from", "valid_to"],
        ),
        date_order=(("valid_from", "valid_to"),),
        min_attachments=1,
    ),
    RequestType(
        "registration_certificate_duplicate",
        "Wtórnik dowodu rejestracyjnego",
        "Duplicate registration certificate",
        "Upoważnienie do uzyskania wtórnika dowodu rejestracyjnego pojazdu.",
        "An authorisation to obtain a duplicate of the vehicle's registration certificate.",
        form(
            {
                "contract_id": CONTRACT,
                "reason": choice(
                    "Powód",
                    "Reason",
                    {
                        "lost": ("Zgubienie", "Lost"),
                        "stolen": ("Kradzież", "Stolen"),
                        "damaged": ("Zniszczenie", "Damaged"),
                    },
                ),
                "police_report_number": text("Numer zgłoszenia na policji", "Police report number", 64),
                "comment": COMMENT,
            },
            ["contract_id", "reason"],
            **{
                "if": {"properties": {"reason": {"const": "stolen"}}, "required": ["reason"]},
                "then": {"required": ["police_report_number"]},
            },
        ),
    ),
    RequestType(
        "vehicle_return",
        "Zwrot pojazdu",
        "Vehicle return",
        "Zgłoszenie zwrotu pojazdu po zakończeniu umowy.",
        "Notice of returning the vehicle at the end of the contract.",
        form(
            {
                "contract_id": CONTRACT,
                "return_date": day("Data zwrotu", "Return date"),
                "return_location": text("Miejsce zwrotu", "Return location", 300),
                "contact_phone": PHONE,
                "mileage_km": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 5_000_000,
                    "title": "Przebieg (km)",
                    "x-title-en": "Mileage (km)",
                },
                "comment": COMMENT,
            },
            ["contract_id", "return_date", "return_location", "contact_phone"],
        ),
    ),
)

CATALOGUE: Final[Mapping[str, RequestType]] = {request_type.code: request_type for request_type in REQUEST_TYPES}

for _request_type in REQUEST_TYPES:
    Draft202012Validator.check_schema(_request_type.form)


# --- validation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    field: str
    """Dotted path inside the form, e.g. "invoice_number" or "countries.0"; "" for the form itself."""
    message: str
    code: str


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(part) for part in path)


def _field_errors(error: ValidationError) -> Iterator[FieldError]:
    path = list(error.absolute_path)
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    if error.validator == "required":
        required: list[str] = list(error.validator_value) if isinstance(error.validator_value, list) else []
        for name in required:
            if name not in instance:
                yield FieldError(_dotted([*path, name]), f"{name!r} is required", "required")
    elif error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else set()
        for name in sorted(set(instance) - known):
            yield FieldError(_dotted([*path, name]), f"{name!r} is not a field of this form", "unexpected_field")
    else:
        yield FieldError(_dotted(path), error.message, str(error.validator))


def _date_order_errors(request_type: RequestType, data: Mapping[str, Any]) -> Iterator[FieldError]:
    for earlier, later in request_type.date_order:
        if earlier in data and later in data and date.fromisoformat(data[later]) < date.fromisoformat(data[earlier]):
            yield FieldError(later, f"{later!r} may not be before {earlier!r}", "date_order")


def validate_form(request_type: RequestType, data: object) -> list[FieldError]:
    """Every problem of the form data, each naming its field; empty when the data is valid."""
    validator = Draft202012Validator(request_type.form, format_checker=FORMATS)
    found = [item for error in validator.iter_errors(data) for item in _field_errors(error)]
    if not found and isinstance(data, Mapping):
        found.extend(_date_order_errors(request_type, data))
    unique = {(item.field, item.code): item for item in found}
    return sorted(unique.values(), key=lambda item: (item.field, item.code))


def referenced_contracts(request_type: RequestType, data: Mapping[str, Any]) -> dict[str, str]:
    """The contract ids the form names, each with the field naming it (validated data only)."""
    found: dict[str, str] = {}
    for name in request_type.contract_fields:
        value = data.get(name)
        if isinstance(value, str):
            found.setdefault(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found.setdefault(str(item), f"{name}.{index}")
    return found
