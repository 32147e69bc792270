"""The PDFs billing makes: an invoice, a repayment schedule, the settlement statement. Real PDFs
(fpdf2, Open Sans embedded) whose extracted text has the Polish letters and Polish formats."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from libs.pdf import format_amount, format_date, safe_filename
from tests.billing.conftest import ACCOUNT, Billing
from tests.billing.test_client_api import World, build


def text_of(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
async def world(billing: Billing) -> World:
    made = await build(billing)
    await billing.post("clients/CL-A/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "Alior Bank"})
    await billing.caught_up()
    return made


async def fetch(billing: Billing, path: str, filename: str) -> str:
    response = await billing.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert response.content.startswith(b"%PDF-")
    text = text_of(response.content)
    for letters in ("zł", "ą", "ę", "ż"):
        assert letters in text, letters
    return text


async def test_the_invoice_pdf(billing: Billing, world: World) -> None:
    text = await fetch(billing, f"invoices/{world.partly}/pdf", "faktura-FV-2026-02-0001.pdf")
    assert "Faktura VAT (rata leasingowa) nr FV/2026/02/0001" in text
    assert "Transport Żółkiewski Sp. z o.o." in text
    assert "Termin płatności: 14.02.2026" in text
    assert "1 230,00 zł" in text
    assert "Pozostało do zapłaty: 1 000,00 zł" in text
    assert "zaległa" in text
    assert "20.02.2026" in text
    assert "rata luty" in text
    assert f"{ACCOUNT[:2]} 1020 1026 0000 0422 7020 1111" in text


async def test_the_schedule_pdf_shows_the_paid_state(billing: Billing, world: World) -> None:
    text = await fetch(billing, f"contracts/{world.contract}/schedule.pdf", "harmonogram-UL-1-2026.pdf")
    assert "Harmonogram spłat umowy nr UL/1/2026" in text
    assert "15.01.2026" in text
    assert "zapłacona" in text
    assert "zaległa" in text
    assert "niezafakturowana" in text
    assert "7 380,00 zł" in text


async def test_the_settlement_statement(billing: Billing, world: World) -> None:
    text = await fetch(billing, "settlement-statement.pdf", "zestawienie-rozliczen-2026-03-10.pdf")
    assert "Zestawienie rozliczeń" in text
    assert "Stan na dzień: 10.03.2026" in text
    for number in ("FV/2026/01/0001", "FV/2026/02/0001", "FV/2026/03/0001"):
        assert number in text
    assert "FV/2026/01/0900" not in text, "another client's invoice"
    assert "Zapłata za FV/2026/01/0001" in text
    assert "Pozostało do zapłaty: 2 230,00 zł" in text
    assert "w tym zaległe: 1 000,00 zł" in text


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "0,00 zł"),
        ("0.5", "0,50 zł"),
        ("1234.56", "1 234,56 zł"),
        ("1234567.005", "1 234 567,01 zł"),
        ("-999.99", "-999,99 zł"),
        ("-1000", "-1 000,00 zł"),
        ("100000", "100 000,00 zł"),
    ],
)
def test_polish_amounts(amount: str, text: str) -> None:
    assert format_amount(Decimal(amount)) == text


def test_polish_dates_and_safe_file_names() -> None:
    assert format_date(date(2026, 3, 1)) == "01.03.2026"
    assert format_date("2026-12-31") == "31.12.2026"
    assert safe_filename('Faktura "FV/1"; rm -rf / ..\\żółć') == "Faktura-FV-1-rm-rf-zolc.pdf"
    assert safe_filename("\r\n") == "dokument.pdf"
