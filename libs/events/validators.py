"""Annotated input types validated by well-kept libraries: NIP (python-stdnum), phone (phonenumbers)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import AfterValidator
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip as stdnum_nip


def _nip(value: str) -> str:
    try:
        return str(stdnum_nip.validate(value))
    except StdnumError as error:
        raise ValueError(f"invalid NIP: {error}") from None


def _phone(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "PL")
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"invalid phone number: {error}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("invalid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


Nip = Annotated[str, AfterValidator(_nip)]
"""A Polish tax id, checksum verified, normalized to 10 digits."""

PhoneNumber = Annotated[str, AfterValidator(_phone)]
"""A phone number (Polish by default), normalized to E.164."""
