"""What the back office sends: pydantic models that check the format of every field.

Business rules (an end after the start, a schedule that adds up) are the domain's; see domain.py.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from vininfo import Vin as VinInfo
from vininfo.exceptions import ValidationError as VinError

from libs.events.schemas.common import Currency, Money
from libs.events.schemas.contracts import ContactPerson, ContractRegistered, Instalment, LeasedAsset, Party
from libs.events.validators import Nip, PhoneNumber
from services.contracts.domain import MAX_INSTALMENTS, TerminationReason

NORTH_AMERICA = frozenset("12345")
"""First VIN character of vehicles made for North America (USA, Canada, Mexico)."""


def _vin(value: str) -> str:
    """ISO 3779 charset and length always; the check digit (position 9) only where it is mandatory.

    The check digit is required by the US/Canadian rules (49 CFR 565) for North American VINs only;
    European makers fill position 9 freely, so checking it there would refuse real cars.
    """
    try:
        vin = VinInfo(value)
    except VinError as error:
        raise ValueError(f"invalid VIN: {error}") from None
    if vin.region_code in NORTH_AMERICA and not vin.verify_checksum(check_year=False):
        raise ValueError("invalid VIN: the check digit (position 9) does not match")
    return str(vin.num)


def _registration_number(value: str) -> str:
    return "".join(value.split()).upper()


def _grosze(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


Vin = Annotated[str, AfterValidator(_vin)]
"""A vehicle identification number, upper-cased; validated with vininfo."""
RegistrationNumber = Annotated[
    str, Field(min_length=2, max_length=12, pattern=r"^[A-Za-z0-9 ]+$"), AfterValidator(_registration_number)
]
"""A number plate, spaces removed and upper-cased (WX 1234A -> WX1234A)."""
Amount = Annotated[Money, AfterValidator(_grosze)]
"""Money with grosze precision, always written with two decimal places."""
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientIn(_Input):
    client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: Text
    nip: Nip


class ContactPersonIn(_Input):
    first_name: Text
    last_name: Text
    email: EmailStr
    phone: PhoneNumber


class AssetIn(_Input):
    kind: Text
    make: Text
    model: Text
    vin: Vin | None = None
    registration_number: RegistrationNumber | None = None
    year: Annotated[int, Field(ge=1950, le=2100)] | None = None


class RegisterContractIn(_Input):
    contract_number: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._-]+$")]
    client: ClientIn
    contract_type: Literal["operating", "financial"]
    start_date: date
    end_date: date
    net_value: Amount
    currency: Currency = "PLN"
    asset: AssetIn
    contact_persons: Annotated[list[ContactPersonIn], Field(max_length=20)] = []

    def event(self, contract_id: str) -> ContractRegistered:
        return ContractRegistered(
            contract_id=contract_id,
            contract_number=self.contract_number,
            client=Party(**self.client.model_dump()),
            contract_type=self.contract_type,
            start_date=self.start_date,
            end_date=self.end_date,
            net_value=self.net_value,
            currency=self.currency,
            asset=LeasedAsset(**self.asset.model_dump()),
            contact_persons=tuple(ContactPerson(**person.model_dump()) for person in self.contact_persons),
        )


class InstalmentIn(_Input):
    number: int
    due_date: date
    net: Amount
    vat: Amount
    gross: Amount
    capital: Amount
    interest: Amount


class ScheduleIn(_Input):
    instalments: Annotated[list[InstalmentIn], Field(min_length=1, max_length=MAX_INSTALMENTS)]

    def agreed(self) -> tuple[Instalment, ...]:
        return tuple(Instalment(**instalment.model_dump()) for instalment in self.instalments)


class ScheduleChangeIn(ScheduleIn):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TerminationIn(_Input):
    terminated_on: date
    reason: TerminationReason
