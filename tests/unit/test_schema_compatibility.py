"""The breaking-change guard of the event catalogue, on hypothetical schemas (not the real events).

Each test publishes one version of a made-up event, changes it, and asks what would break its consumers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Annotated, Literal

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, ConfigDict, EmailStr

from libs.events.catalogue import advice, compatibility_breaks, review, wire_schema
from libs.events.envelope import DomainEvent
from libs.events.pii import SEALED_PREFIX, Personal
from libs.events.schemas.common import Money


def breaks(published: type[BaseModel], current: type[BaseModel]) -> list[str]:
    return compatibility_breaks(wire_schema(published), wire_schema(current))


class Published(DomainEvent):
    event_type = "InvoiceDrafted"
    schema_version = 1

    invoice_id: str
    amount: Money
    kind: Literal["instalment", "fee", "other"]
    due_date: date
    note: str | None = None


def test_an_unchanged_schema_breaks_nothing() -> None:
    assert breaks(Published, Published) == []


def test_adding_an_optional_field_is_compatible() -> None:
    class WithOptionalField(Published):
        ksef_number: str | None = None
        """Added later: old events lack it, readers ignore it until they need it."""

    assert breaks(Published, WithOptionalField) == []


def test_a_removed_field_breaks() -> None:
    class WithoutNote(DomainEvent):
        invoice_id: str
        amount: Money
        kind: Literal["instalment", "fee", "other"]
        due_date: date

    assert breaks(Published, WithoutNote) == ["field 'note' removed"]


def test_a_retyped_field_breaks() -> None:
    class AmountAsFloat(DomainEvent):
        invoice_id: str
        amount: float
        kind: Literal["instalment", "fee", "other"]
        due_date: date
        note: str | None = None

    assert breaks(Published, AmountAsFloat) == ["field 'amount' changed type from string to number"]


def test_a_changed_format_breaks() -> None:
    class DueAsDatetime(DomainEvent):
        invoice_id: str
        amount: Decimal
        kind: Literal["instalment", "fee", "other"]
        due_date: datetime
        note: str | None = None

    class DueAsText(DomainEvent):
        invoice_id: str
        amount: Decimal
        kind: Literal["instalment", "fee", "other"]
        due_date: str
        note: str | None = None

    assert breaks(Published, DueAsDatetime) == ["field 'due_date' changed format from date to date-time"]
    assert breaks(Published, DueAsText) == ["field 'due_date' changed format from date to none"]


def test_an_optional_field_made_required_breaks() -> None:
    class NoteRequired(DomainEvent):
        invoice_id: str
        amount: Money
        kind: Literal["instalment", "fee", "other"]
        due_date: date
        note: str | None

    assert breaks(Published, NoteRequired) == ["optional field 'note' made required"]


def test_a_new_required_field_breaks() -> None:
    class WithRequiredField(Published):
        currency: str

    assert breaks(Published, WithRequiredField) == [
        "new field 'currency' is required (a new field must have a default)"
    ]


def test_a_removed_enum_value_breaks_and_a_new_one_does_not() -> None:
    class FewerKinds(DomainEvent):
        invoice_id: str
        amount: Money
        kind: Literal["instalment", "other"]
        due_date: date
        note: str | None = None

    class MoreKinds(DomainEvent):
        invoice_id: str
        amount: Money
        kind: Literal["instalment", "fee", "other", "insurance"]
        due_date: date
        note: str | None = None

    assert breaks(Published, FewerKinds) == ["field 'kind' lost the value(s) 'fee'"]
    assert breaks(Published, MoreKinds) == []


def test_a_single_value_may_grow_into_an_enum() -> None:
    class OneGateway(BaseModel):
        gateway: Literal["payu"]

    class TwoGateways(BaseModel):
        gateway: Literal["payu", "przelewy24"]

    assert breaks(OneGateway, TwoGateways) == []
    assert breaks(TwoGateways, OneGateway) == ["field 'gateway' lost the value(s) 'przelewy24'"]


def test_a_field_that_may_now_be_null_breaks_and_so_does_the_reverse() -> None:
    class Required(BaseModel):
        contract_id: str

    class Nullable(BaseModel):
        contract_id: str | None

    assert breaks(Required, Nullable) == ["field 'contract_id' may now be null"]
    assert breaks(Nullable, Required) == ["field 'contract_id' can no longer be null"]


def test_breaks_inside_nested_models_and_lists_name_the_path() -> None:
    class LineV1(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        net: Money
        vat_rate: Literal["23", "8", "zw"]

    class LineV2(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        vat_rate: Literal["23", "8"]

    class InvoiceV1(BaseModel):
        lines: tuple[LineV1, ...]

    class InvoiceV2(BaseModel):
        lines: tuple[LineV2, ...]

    assert breaks(InvoiceV1, InvoiceV2) == [
        "field 'lines[].net' removed",
        "field 'lines[].vat_rate' lost the value(s) 'zw'",
    ]


def test_a_narrower_range_breaks_and_a_wider_one_does_not() -> None:
    from pydantic import Field

    class Attempts(BaseModel):
        attempts: int = Field(ge=1)

    class AtLeastTwo(BaseModel):
        attempts: int = Field(ge=2)

    class AnyCount(BaseModel):
        attempts: int = Field(ge=0)

    assert breaks(Attempts, AtLeastTwo) == ["field 'attempts' narrowed: minimum 1 -> 2"]
    assert breaks(Attempts, AnyCount) == []


def test_documentation_may_change_freely() -> None:
    class Documented(DomainEvent):
        """Now with a docstring."""

        invoice_id: str
        """The invoice's id in the back office."""
        amount: Money
        kind: Literal["instalment", "fee", "other"]
        due_date: date
        note: str | None = None

    assert breaks(Published, Documented) == []


def test_the_review_of_a_published_file_tells_the_developer_what_to_do() -> None:
    path = PurePosixPath("schemas/billing/InvoiceDrafted.v1.json")

    class WithoutNote(DomainEvent):
        invoice_id: str
        amount: Money
        kind: Literal["instalment", "fee", "other"]
        due_date: date

    committed = {path: json.dumps(wire_schema(Published))}
    result = review({path: json.dumps(wire_schema(WithoutNote))}, committed)

    assert result.breaks == {path: ["field 'note' removed"]}
    assert result.stale == [path]
    assert not result.up_to_date
    message = advice(path, result.breaks[path])
    assert "InvoiceDrafted v1" in message
    assert "schema_version = 2" in message
    assert "@registry.upcaster('InvoiceDrafted', from_version=1)" in message
    assert "make events-catalogue" in message


def test_a_published_version_without_a_model_breaks() -> None:
    path = PurePosixPath("schemas/billing/InvoiceDrafted.v1.json")
    result = review({}, {path: json.dumps(wire_schema(Published))})
    assert list(result.breaks) == [path]
    assert "no model" in result.breaks[path][0]


def test_a_compatible_change_is_only_stale() -> None:
    path = PurePosixPath("schemas/billing/InvoiceDrafted.v1.json")

    class WithOptionalField(Published):
        ksef_number: str | None = None

    result = review({path: json.dumps(wire_schema(WithOptionalField))}, {path: json.dumps(wire_schema(Published))})
    assert result.breaks == {}
    assert result.stale == [path]


class Plain(BaseModel):
    account_id: str
    email: EmailStr
    work_email: EmailStr | None = None


class Sealed(BaseModel):
    account_id: str
    email: Annotated[EmailStr, Personal]
    work_email: Annotated[EmailStr | None, Personal] = None


def test_personal_values_are_published_as_they_travel_sealed_or_plain() -> None:
    validator = Draft202012Validator(wire_schema(Sealed), format_checker=FormatChecker())
    sealed = f"{SEALED_PREFIX}0123456789abcdef0123456789abcdef:c2VhbGVk"
    for email in (sealed, "jan.kowalski@example.com"):
        assert validator.is_valid({"account_id": "a-1", "email": email, "work_email": email})
    assert validator.is_valid({"account_id": "a-1", "email": sealed, "work_email": None})
    assert not validator.is_valid({"account_id": "a-1", "email": "not an address"})
    assert not validator.is_valid({"account_id": "a-1", "email": "pii:v1:not-hex:???"})


def test_sealing_a_published_plain_field_breaks() -> None:
    sealed_too = f"may now be string matching '^{SEALED_PREFIX}[0-9a-f]+:[A-Za-z0-9_-]+=*$'"
    assert breaks(Plain, Sealed) == [f"field 'email' {sealed_too}", f"field 'work_email' {sealed_too}"]
    assert breaks(Sealed, Sealed) == []


class FreeText(BaseModel):
    ciphertext: str


class SealedFreeText(BaseModel):
    ciphertext: Annotated[str, Personal]


def test_sealing_a_published_free_text_field_is_compatible_and_unsealing_it_is_not() -> None:
    """A sealed value is text too, and the plain form stays beside it: neither a consumer of the published
    schema nor an event published before trips over it. Unsealed again, the sealed events would."""
    assert breaks(FreeText, SealedFreeText) == []
    assert breaks(SealedFreeText, FreeText) != []
