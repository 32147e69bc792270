"""What the back office sends to billing: validated input models (422 naming the field otherwise)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from stdnum import iban
from stdnum.exceptions import ValidationError as StdnumError

from libs.events.schemas.billing import InvoiceLine, VatRate
from libs.events.schemas.common import Money
from services.billing.settlement import GROSZ


def _nrb(value: str) -> str:
    """A Polish bank account: NRB (26 digits) or IBAN (PL + 26 digits), checked with python-stdnum."""
    compact = iban.compact(value)
    if compact.isdigit():
        compact = f"PL{compact}"
    try:
        checked = iban.validate(compact)
    except StdnumError as error:
        raise ValueError(f"invalid account number: {error}") from None
    if not checked.startswith("PL"):
        raise ValueError("not a Polish account number (NRB)")
    return str(checked[2:])


def _grosze(value: Decimal) -> Decimal:
    return value.quantize(GROSZ)


Nrb = Annotated[str, Field(min_length=26, max_length=40), AfterValidator(_nrb)]
"""A Polish account number, checksum verified, normalized to its 26 NRB digits."""
Amount = Annotated[Money, AfterValidator(_grosze)]
PositiveAmount = Annotated[Money, Field(gt=0), AfterValidator(_grosze)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Number = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._ -]+$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class InvoiceLineIn(_Input):
    description: Text
    net: Amount
    vat_rate: VatRate
    vat: Amount
    gross: Amount

    def line(self) -> InvoiceLine:
        return InvoiceLine(**self.model_dump())


class InvoiceIn(_Input):
    number: Number
    contract_id: Identifier
    client_id: Identifier | None = None
    """Optional: the contract's client; when given it must be that client."""
    kind: Literal["instalment", "initial_fee", "fee", "insurance", "other", "correction"]
    instalment_number: Annotated[int, Field(ge=1, le=1000)] | None = None
    issue_date: date
    due_date: date
    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=200)]
    net_total: Amount
    vat_total: Amount
    gross_total: Amount
    currency: Literal["PLN"] = "PLN"
    ksef_number: Annotated[str, Field(min_length=10, max_length=64, pattern=r"^[0-9A-Za-z-]+$")] | None = None
    corrects_invoice_number: Number | None = None


class PaymentIn(_Input):
    client_id: Identifier
    amount: PositiveAmount
    received_on: date
    title: Annotated[str, Field(max_length=500)]
    account: Nrb
    """The repayment account the transfer came to."""
    reference: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """The bank statement line's own id: a payment is recorded once per reference."""
    currency: Literal["PLN"] = "PLN"


class InterestNoteIn(_Input):
    number: Number
    invoice_number: Number
    days_late: Annotated[int, Field(ge=1, le=10000)]
    amount: PositiveAmount
    issue_date: date
    due_date: date
    currency: Literal["PLN"] = "PLN"


class RepaymentAccountIn(_Input):
    account_number: Nrb
    bank_name: Text
    purpose: Text = "raty leasingowe"
