"""Check digits computed by the seeder, against known values and the validating libraries."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from stdnum import iban
from stdnum.pl import nip as stdnum_nip
from vininfo import Vin

from services.seeder.identifiers import (
    MOBILE_PREFIXES,
    ascii_slug,
    crc8,
    format_nrb,
    iban_check_digits,
    ksef_number,
    mobile,
    nip,
    nip_check_digit,
    nrb,
    sort_code,
    vin,
    vin_check_digit,
)


def test_nip_check_digit_of_known_numbers() -> None:
    assert nip("526", 25027) == "5260250274"
    assert nip_check_digit("777000111") == 1
    assert stdnum_nip.is_valid(nip("527", 304512) or "")


def test_nine_digits_without_a_check_digit_give_no_nip() -> None:
    candidates = [f"{office}{serial:06d}" for office in ("526", "113") for serial in range(300)]
    without = [c for c in candidates if nip_check_digit(c) is None]
    assert without, "some prefixes sum to 10 and admit no check digit"
    for first_nine in without:
        assert not any(stdnum_nip.is_valid(f"{first_nine}{d}") for d in range(10))


def test_random_nips_are_valid() -> None:
    rng = random.Random(3)
    for _ in range(500):
        value = nip(rng.choice(("521", "677", "899", "113")), rng.randrange(1_000_000))
        if value is not None:
            assert stdnum_nip.is_valid(value), value


def test_nrb_check_digits_match_a_real_account_and_stdnum() -> None:
    assert iban_check_digits("PL", "109010140000071219812874") == "61"
    assert iban_check_digits("DE", "370400440532013000") == "89"  # the ECBS example DE89 3704 0044 0532 0130 00
    rng = random.Random(5)
    for _ in range(200):
        account = nrb(
            sort_code(f"{rng.randrange(100, 300)}", f"{rng.randrange(10_000):04d}"), f"{rng.randrange(10**16):016d}"
        )
        assert iban.is_valid(f"PL{account}"), account
    assert format_nrb("61109010140000071219812874") == "61 1090 1014 0000 0712 1981 2874"


def test_sort_code_check_digit() -> None:
    assert sort_code("109", "0101") == "10901014"  # Santander Bank Polska's sort code above


def test_vin_check_digit_of_the_textbook_example() -> None:
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_check_digit("11111111111111111") == "1"


def test_vins_are_valid_for_vininfo_in_europe_and_north_america() -> None:
    for wmi, vds in (("TMB", "JR7NX"), ("WF0", "YXXTT"), ("1L0", "6150R"), ("YV2", "RT40A")):
        number = vin(wmi, vds, 2025, "0", 123456)
        assert len(number) == 17
        parsed = Vin(number)
        assert parsed.verify_checksum(check_year=False), number
        assert not set(number) & set("IOQ")
    assert Vin(vin("TMB", "JR7NX", 2025, "0", 1)).country == "Czech Republic"
    with pytest.raises(ValueError, match="not a VIN"):
        vin("TMB", "JR7NO", 2025, "0", 1)


def test_mobile_numbers_are_valid_polish_mobiles() -> None:
    for prefix in MOBILE_PREFIXES:
        parsed = phonenumbers.parse(mobile(prefix, 123456))
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    with pytest.raises(ValueError, match="mobile prefix"):
        mobile(221, 123456)


def test_ksef_number_shape_and_crc() -> None:
    assert crc8(b"123456789") == 0xF4  # CRC-8 (poly 0x07, init 0) check value
    number = ksef_number("5272304518", "20260305", "0a1b2c3d4e5f")
    assert len(number) == 35
    assert number.startswith("5272304518-20260305-0A1B2C3D4E5F-")
    assert number[-2:] == f"{crc8(number[:-3].encode()):02X}"


def test_ascii_slug() -> None:
    assert ascii_slug("Żółta Łódź, ul. Świętokrzyska") == "zolta-lodz-ul-swietokrzyska"
