"""PDF documents of the portal: fpdf2 with the Open Sans TTF font (shipped by the ttf-opensans package
on PyPI), so Polish letters are embedded and extractable; Polish formats for money and dates.

    pdf = PortalPdf("Faktura VAT FV/2026/01/0001", issuer="Alior Leasing sp. z o.o.")
    pdf.heading("Faktura VAT")
    pdf.key_values([("Data wystawienia", format_date(day))])
    pdf.data_table([Column("Opis", 80), Column("Brutto", 30, "R")], [["Rata 1", format_amount(amount)]])
    content = pdf.render()
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.fonts import FontFace

FONT = "OpenSans"
_PL = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


@cache
def font_files() -> dict[str, Path]:
    """The regular and bold Open Sans TTF files inside the installed ttf-opensans package."""
    folder = resources.files("ttf_opensans") / "ttf"
    return {style: Path(str(folder / f"OpenSans-{name}.ttf")) for style, name in (("", "Regular"), ("B", "Bold"))}


def format_amount(amount: Decimal, currency: str = "PLN") -> str:
    """Polish money: 1 234,56 zł (a space between thousands, a decimal comma, grosze always)."""
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, fraction = f"{abs(rounded):.2f}".split(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    unit = "zł" if currency == "PLN" else currency
    return f"{sign}{' '.join(groups)},{fraction} {unit}"


def format_date(day: date | str) -> str:
    """Polish date: DD.MM.RRRR."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return value.strftime("%d.%m.%Y")


def safe_filename(text: str, extension: str = "pdf") -> str:
    """An ASCII file name from any title: Polish letters transliterated, nothing but [A-Za-z0-9.-]."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_PL)).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", lambda run: "." if run.group() == "." else "-", ascii_text)
    stem = stem.strip("-.")[:100].strip("-.") or "dokument"
    return f"{stem}.{extension}"


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    """Relative width."""
    align: Literal["L", "R", "C"] = "L"


class PortalPdf(FPDF):
    """An A4 page with the issuer in the header and "Strona n z m" in the footer."""

    def __init__(self, title: str, issuer: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.document_title = title
        self.issuer = issuer
        for style, path in font_files().items():
            self.add_font(FONT, style, str(path))
        self.set_title(title)
        self.set_author(issuer)
        self.set_lang("pl")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.alias_nb_pages()
        self.add_page()

    def header(self) -> None:
        self.set_font(FONT, "B", 9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.issuer, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.cell(0, 5, self.document_title, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"Strona {self.page_no()} z {{nb}}", align="C")

    def heading(self, text: str, size: int = 15) -> None:
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def paragraph(self, text: str, bold: bool = False, size: int = 10) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")

    def key_values(self, pairs: Sequence[tuple[str, str]], label_width: float = 55) -> None:
        for label, value in pairs:
            self.set_font(FONT, "", 10)
            self.cell(label_width, 6, f"{label}:")
            self.set_font(FONT, "B", 10)
            self.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def data_table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], size: int = 8) -> None:
        self.set_font(FONT, "", size)
        headings = FontFace(emphasis="BOLD", fill_color=(230, 233, 240))
        with super().table(
            col_widths=tuple(column.width for column in columns),
            text_align=tuple(column.align for column in columns),
            headings_style=headings,
            line_height=size * 0.55,
            padding=1,
        ) as table:
            heading = table.row()
            for column in columns:
                heading.cell(column.title)
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(value)
        self.ln(3)

    def render(self) -> bytes:
        return bytes(self.output())
