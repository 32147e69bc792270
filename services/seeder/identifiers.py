"""Polish and vehicle identifiers with their check digits computed, not looked up.

Each function takes the random part from the caller (so the seeder stays deterministic) and adds
the check digits the way the issuing scheme defines them. The tests validate every result with
python-stdnum (NIP, IBAN), vininfo (VIN) and phonenumbers (mobile numbers).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
SORT_CODE_WEIGHTS = (3, 9, 7, 1, 3, 9, 7)
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
"""ISO 3779 transliteration (I, O and Q are never used in a VIN)."""
VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
"""Model-year codes (position 10) from 2010 on, repeating every 30 years."""
MOBILE_PREFIXES = (
    *range(450, 460),
    *range(500, 520),
    *range(530, 540),
    *range(570, 580),
    *range(600, 610),
    *range(660, 670),
    *range(690, 700),
    *range(720, 740),
    *range(780, 800),
    *range(880, 890),
)
"""First three digits of Polish mobile numbers (the plan of numbering of UKE)."""
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def nip_check_digit(first_nine: str) -> int | None:
    """The tenth digit of a NIP, or None when the nine digits admit none (the sum gives 10)."""
    check = sum(int(digit) * weight for digit, weight in zip(first_nine, NIP_WEIGHTS, strict=True)) % 11
    return None if check == 10 else check


def nip(tax_office: str, serial: int) -> str | None:
    """A NIP: the issuing tax office's 3-digit code, 6 digits of serial, the check digit (or None)."""
    first_nine = f"{tax_office}{serial:06d}"
    check = nip_check_digit(first_nine)
    return None if check is None else f"{first_nine}{check}"


def format_nip(value: str) -> str:
    """As printed on Polish documents: 526-025-02-74."""
    return f"{value[:3]}-{value[3:6]}-{value[6:8]}-{value[8:]}"


def sort_code(bank: str, branch: str) -> str:
    """A bank's 8-digit sort code (numer rozliczeniowy): bank (3), branch (4), check digit."""
    digits = f"{bank}{branch}"
    check = (10 - sum(int(d) * w for d, w in zip(digits, SORT_CODE_WEIGHTS, strict=True)) % 10) % 10
    return f"{digits}{check}"


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616 check digits: 98 minus the remainder mod 97 of BBAN + country + 00, letters as 10..35."""
    rearranged = f"{bban}{country}00"
    number = int("".join(str(int(char, 36)) for char in rearranged))
    return f"{98 - number % 97:02d}"


def nrb(bank_sort_code: str, account: str) -> str:
    """A Polish account number (NRB): 2 check digits, the 8-digit sort code and 16 digits of account."""
    bban = f"{bank_sort_code}{account}"
    if len(bban) != 24 or not bban.isdigit():
        raise ValueError("an NRB has a sort code of 8 digits and an account of 16")
    return f"{iban_check_digits('PL', bban)}{bban}"


def format_nrb(value: str) -> str:
    """As printed: 61 1090 1014 0000 0712 1981 2874."""
    return " ".join([value[:2], *(value[i : i + 4] for i in range(2, 26, 4))])


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 check digit (position 9) of a 17-character VIN; X stands for 10."""
    total = sum(VIN_VALUES[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin(wmi: str, vds: str, model_year: int, plant: str, serial: int) -> str:
    """A 17-character VIN: maker (3), model descriptor (5), check digit, model year, plant, serial (6).

    The check digit is computed for every VIN, as North American rules require for WMIs starting
    with 1 to 5; European makers may use position 9 freely, so a computed one is valid there too.
    """
    year_code = VIN_YEAR_CODES[(model_year - 2010) % len(VIN_YEAR_CODES)]
    draft = f"{wmi}{vds}0{year_code}{plant}{serial:06d}"
    if len(draft) != 17 or any(char not in VIN_VALUES for char in draft):
        raise ValueError(f"not a VIN: {draft}")
    return f"{draft[:8]}{vin_check_digit(draft)}{draft[9:]}"


PLATE_LETTERS = "ACEFGHJKLMNPRSTUVWXY"
"""Letters used in the individual part of a Polish plate (B, D, I, O and Z are avoided)."""


def registration_number(district: str, pattern: str, digits: Sequence[int], letters: Sequence[int]) -> str:
    """A Polish plate from the district code and a pattern of the individual part: 9 for a digit,
    A for a letter (e.g. 9999A, 999AA, 99999); digits and letters are indexes from the caller."""
    out: list[str] = []
    digit_iter, letter_iter = iter(digits), iter(letters)
    for symbol in pattern:
        if symbol == "9":
            out.append(str(next(digit_iter) % 10))
        else:
            out.append(PLATE_LETTERS[next(letter_iter) % len(PLATE_LETTERS)])
    return f"{district} {''.join(out)}"


def mobile(prefix: int, rest: int) -> str:
    """A Polish mobile number in E.164: +48, a mobile prefix and six digits."""
    if prefix not in MOBILE_PREFIXES:
        raise ValueError(f"{prefix} is not a Polish mobile prefix")
    return f"+48{prefix}{rest:06d}"


def crc8(data: bytes, polynomial: int = 0x07) -> int:
    """CRC-8 (polynomial x^8 + x^2 + x + 1, initial value 0), as used in KSeF numbers."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ polynomial) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def ksef_number(seller_nip: str, issued: str, technical: str) -> str:
    """A KSeF invoice number: seller's NIP, the date (YYYYMMDD), 12 hex characters, a CRC-8 (hex)."""
    body = f"{seller_nip}-{issued}-{technical.upper()}"
    return f"{body}-{crc8(body.encode()):02X}"


def ascii_slug(text: str, separator: str = "-") -> str:
    """Lower-case ASCII with Polish letters transliterated: 'Żółta Łódź' -> 'zolta-lodz'."""
    plain = unicodedata.normalize("NFKD", text.translate(_ASCII)).encode("ascii", "ignore").decode().lower()
    words = "".join(char if char.isalnum() else " " for char in plain).split()
    return separator.join(words)
