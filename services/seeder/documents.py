"""The PDFs the seeder publishes: small, real documents made with the portal's own PDF helper
(fpdf2 with the embedded Open Sans font, so Polish letters are right and extractable).

Rendering is deterministic (the creation date is the publication date), so a re-run uploads the
same bytes. The general fee table is the same for every client and is rendered once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from libs.pdf import Column, PortalPdf, format_amount, format_date
from services.seeder import catalogue as cat
from services.seeder.finance import ZERO
from services.seeder.identifiers import format_nip, format_nrb
from services.seeder.world import LESSOR_NIP, Company, Contract, DocumentSpec

TYPES = {"operating": "operacyjnego", "financial": "finansowego"}
"""The kind of lease, as in "umowa leasingu operacyjnego"."""


def render(spec: DocumentSpec) -> bytes:
    """The PDF of a document the plan publishes."""
    if spec.template == "fee_table":
        return fee_table()
    pdf = _pdf(spec.title, spec.published_on)
    match spec.template:
        case "contract":
            assert spec.contract is not None
            _contract(pdf, spec.company, spec.contract)
        case "schedule":
            assert spec.contract is not None
            _schedule(pdf, spec.company, spec.contract)
        case "interest_note":
            assert spec.note is not None
            note = spec.note
            _addressee(pdf, spec.company)
            pdf.heading(f"Nota odsetkowa nr {note.number}")
            pdf.key_values(
                [
                    ("Data wystawienia", format_date(note.issue_date)),
                    ("Termin płatności", format_date(note.due_date)),
                    ("Dotyczy faktury", note.invoice.number),
                    ("Termin płatności faktury", format_date(note.invoice.due_date)),
                    ("Kwota faktury", format_amount(note.invoice.gross)),
                    ("Dni opóźnienia", str(note.days_late)),
                    ("Stopa odsetek", f"{note_rate()} % w skali roku"),
                    ("Kwota odsetek", format_amount(note.amount)),
                ]
            )
            pdf.paragraph(
                "Na podstawie art. 7 ustawy z dnia 8 marca 2013 r. o przeciwdziałaniu nadmiernym opóźnieniom "
                "w transakcjach handlowych naliczyliśmy odsetki ustawowe za opóźnienie w zapłacie powyższej faktury. "
                "Prosimy o wpłatę kwoty odsetek na indywidualny rachunek do spłat."
            )
        case "account_letter":
            assert spec.account is not None
            _addressee(pdf, spec.company)
            pdf.heading("Informacja o indywidualnym rachunku do spłat")
            pdf.paragraph(
                "Szanowni Państwo, uprzejmie informujemy, że raty leasingowe i pozostałe należności wynikające "
                "z zawartych umów leasingu prosimy wpłacać na indywidualny rachunek bankowy przypisany do Państwa "
                "firmy. Wpłaty zaksięgujemy automatycznie, w pierwszej kolejności na fakturę wskazaną w tytule "
                "przelewu."
            )
            pdf.ln(2)
            pdf.key_values(
                [
                    ("Numer rachunku", format_nrb(spec.account.number)),
                    ("Bank", spec.account.bank_name),
                    ("Odbiorca", cat.LESSOR_NAME),
                    ("Przeznaczenie", spec.account.purpose),
                ]
            )
            pdf.paragraph("W tytule przelewu prosimy podawać numer opłacanej faktury.")
        case "reminder":
            assert spec.account is not None
            _addressee(pdf, spec.company)
            pdf.heading("Wezwanie do zapłaty")
            pdf.paragraph(
                "Uprzejmie informujemy, że na dzień sporządzenia niniejszego pisma nie odnotowaliśmy wpłat "
                "za niżej wymienione faktury. Prosimy o uregulowanie zaległości w terminie 7 dni."
            )
            pdf.ln(2)
            rows = [
                [invoice.number, format_date(invoice.due_date), format_amount(invoice.gross), format_amount(owed)]
                for invoice, owed in spec.overdue
            ]
            total = sum((owed for _, owed in spec.overdue), ZERO)
            rows.append(["Razem", "", "", format_amount(total)])
            pdf.data_table(
                [Column("Faktura", 45), Column("Termin", 20), Column("Kwota", 25, "R"), Column("Pozostało", 25, "R")],
                rows,
                size=9,
            )
            pdf.key_values([("Rachunek do spłat", format_nrb(spec.account.number))])
        case _:
            raise ValueError(f"no template {spec.template}")
    _signature(pdf)
    return pdf.render()


def note_rate() -> str:
    return f"{cat.LATE_INTEREST_RATE * 100:.2f}".replace(".", ",")


@cache
def fee_table() -> bytes:
    pdf = _pdf("Tabela opłat i prowizji", date(2024, 1, 1))
    pdf.heading("Tabela opłat i prowizji")
    pdf.paragraph("Obowiązuje od 1 stycznia 2024 r. dla umów leasingu operacyjnego i finansowego.")
    pdf.ln(2)
    fees = [
        ("Sporządzenie aneksu do umowy leasingu", Decimal(300)),
        ("Zgoda na wyjazd przedmiotu leasingu poza granice Unii Europejskiej", Decimal(200)),
        ("Wydanie duplikatu faktury lub dokumentu", Decimal(50)),
        ("Wezwanie do zapłaty (list polecony)", Decimal(40)),
        ("Zmiana harmonogramu spłat na wniosek Korzystającego", Decimal(250)),
        ("Cesja umowy leasingu na inny podmiot", Decimal(1500)),
        ("Obsługa mandatu lub wezwania organu (za każde pismo)", Decimal(100)),
    ]
    pdf.data_table(
        [Column("Czynność", 80), Column("Opłata netto", 20, "R")],
        [[what, format_amount(amount)] for what, amount in fees],
        size=9,
    )
    pdf.paragraph("Do opłat dolicza się podatek VAT według stawki obowiązującej w dniu wystawienia faktury.", size=9)
    return pdf.render()


def _pdf(title: str, day: date) -> PortalPdf:
    pdf = PortalPdf(title, cat.LESSOR_NAME)
    pdf.set_creation_date(datetime.combine(day, time(9), tzinfo=UTC))
    return pdf


def _addressee(pdf: PortalPdf, company: Company) -> None:
    pdf.paragraph(company.name, bold=True)
    pdf.paragraph(f"{company.address.street} {company.address.number}")
    pdf.paragraph(f"{company.address.postcode} {company.address.city}")
    pdf.paragraph(f"NIP {format_nip(company.nip)}")
    pdf.ln(4)


def _contract(pdf: PortalPdf, company: Company, contract: Contract) -> None:
    asset = contract.asset
    pdf.heading(f"Umowa leasingu {TYPES[contract.contract_type]} nr {contract.number}")
    pdf.paragraph(f"zawarta w dniu {format_date(contract.start - timedelta(days=2))} pomiędzy:")
    pdf.ln(1)
    pdf.paragraph(
        f"{cat.LESSOR_NAME}, {cat.LESSOR_ADDRESS}, NIP {format_nip(LESSOR_NIP)}, zwaną dalej Finansującym, a", size=9
    )
    pdf.paragraph(
        f"{company.name}, {company.address}, NIP {format_nip(company.nip)}, zwanym dalej Korzystającym.", size=9
    )
    pdf.ln(3)
    pdf.paragraph("§ 1. Przedmiot leasingu", bold=True)
    pdf.key_values(
        [
            ("Rodzaj", asset.kind),
            ("Marka i model", f"{asset.make} {asset.model}"),
            ("Numer VIN", asset.vin),
            ("Numer rejestracyjny", asset.registration_number or "nie dotyczy"),
            ("Rok produkcji", str(asset.year)),
        ]
    )
    pdf.paragraph("§ 2. Warunki finansowe", bold=True)
    pdf.key_values(
        [
            ("Wartość netto przedmiotu", format_amount(contract.net_price)),
            ("Opłata wstępna netto", format_amount(contract.initial_fee)),
            ("Liczba rat", str(contract.months)),
            ("Wartość wykupu netto", format_amount(contract.residual)),
            ("Okres umowy", f"{format_date(contract.start)} – {format_date(contract.end)}"),
        ]
    )
    pdf.paragraph(
        "Korzystający zobowiązuje się płacić raty leasingowe w terminach określonych w harmonogramie spłat, "
        "stanowiącym załącznik nr 1 do umowy, na wskazany przez Finansującego rachunek bankowy. Do rat "
        "dolicza się podatek VAT (23%).",
        size=9,
    )


def _schedule(pdf: PortalPdf, company: Company, contract: Contract) -> None:
    pdf.heading(f"Harmonogram spłat — umowa {contract.number}")
    pdf.key_values(
        [
            ("Korzystający", company.name),
            ("Przedmiot", f"{contract.asset.make} {contract.asset.model}, VIN {contract.asset.vin}"),
        ],
        label_width=35,
    )
    rows = [
        [
            str(row.number),
            format_date(row.due_date),
            format_amount(row.capital),
            format_amount(row.interest),
            format_amount(row.net),
            format_amount(row.vat),
            format_amount(row.gross),
        ]
        for row in contract.instalments
    ]
    total = [sum((getattr(row, part) for row in contract.instalments), ZERO) for part in ("capital", "interest")]
    net = total[0] + total[1]
    gross = sum((row.gross for row in contract.instalments), ZERO)
    rows.append(["", "Razem", *(format_amount(v) for v in (total[0], total[1], net, gross - net, gross))])
    pdf.data_table(
        [
            Column("Nr", 8, "R"),
            Column("Termin", 18),
            Column("Kapitał", 22, "R"),
            Column("Odsetki", 20, "R"),
            Column("Netto", 22, "R"),
            Column("VAT", 20, "R"),
            Column("Brutto", 22, "R"),
        ],
        rows,
        size=7,
    )


def _signature(pdf: PortalPdf) -> None:
    pdf.ln(6)
    pdf.paragraph(f"{cat.LESSOR_NAME}, Dział Obsługi Klienta", size=9)
    pdf.paragraph("Dokument wygenerowany elektronicznie, nie wymaga podpisu.", size=8)
