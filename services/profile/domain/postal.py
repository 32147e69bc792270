"""Postal codes by country: Polish ones must be NN-NNN; a few neighbours by their own pattern."""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "PL": re.compile(r"^\d{2}-\d{3}$"),
    "DE": re.compile(r"^\d{5}$"),
    "CZ": re.compile(r"^\d{3} ?\d{2}$"),
    "SK": re.compile(r"^\d{3} ?\d{2}$"),
    "LT": re.compile(r"^(LT-)?\d{5}$"),
    "UA": re.compile(r"^\d{5}$"),
    "AT": re.compile(r"^\d{4}$"),
    "FR": re.compile(r"^\d{5}$"),
    "IT": re.compile(r"^\d{5}$"),
    "ES": re.compile(r"^\d{5}$"),
    "NL": re.compile(r"^\d{4} ?[A-Z]{2}$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
}
GENERIC: Final = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}$")
"""Other countries: 2 to 10 letters, digits, spaces or hyphens."""


def is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code of a country with a telephone numbering plan (phonenumbers' list)."""
    return code in phonenumbers.SUPPORTED_REGIONS


def check_postal_code(country: str, postal_code: str) -> str:
    """The code, upper-cased, if it matches the country's pattern; ValueError naming the expected form otherwise."""
    code = postal_code.strip().upper()
    pattern = PATTERNS.get(country, GENERIC)
    if not pattern.match(code):
        expected = "NN-NNN" if country == "PL" else f"the postal code format of {country}"
        raise ValueError(f"invalid postal code: expected {expected}")
    return code
