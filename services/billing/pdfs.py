"""The PDFs billing makes from its read models: an invoice, a repayment schedule with its paid state,
and the client's settlement statement. Pure: documents in, bytes out (run them in a thread)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.events.docstore import Document
from libs.pdf import Column, PortalPdf, format_amount, format_date

VAT_LABELS = {"zw": "zw.", "np": "np."}
INVOICE_KINDS = {
    "instalment": "Faktura VAT (rata leasingowa)",
    "initial_fee": "Faktura VAT (opłata wstępna)",
    "fee": "Faktura VAT (opłata)",
    "insurance": "Faktura VAT (ubezpieczenie)",
    "other": "Faktura VAT",
    "correction": "Faktura korygująca",
}
STATUSES = {
    "open": "do zapłaty",
    "partially_paid": "zapłacona częściowo",
    "paid": "zapłacona",
    "overdue": "zaległa",
    "credit": "korekta in minus",
    "not_invoiced": "niezafakturowana",
}
SOURCES = {"payment": "wpłata", "overpayment": "nadpłata", "correction": "korekta"}


def _pln(value: Any, currency: str = "PLN") -> str:
    return format_amount(Decimal(str(value)), currency)


def _status(value: str) -> str:
    return STATUSES.get(value, value)


def _date(value: str | None) -> str:
    return format_date(value) if value else "—"


def invoice_pdf(invoice: Document, client_name: str, issuer: str, accounts: list[Document]) -> bytes:
    currency = invoice["currency"]
    kind = INVOICE_KINDS.get(invoice["kind"], "Faktura VAT")
    pdf = PortalPdf(f"{kind} nr {invoice['number']}", issuer)
    pdf.heading(f"{kind} nr {invoice['number']}")
    pairs = [
        ("Sprzedawca", issuer),
        ("Nabywca", client_name),
        ("Umowa leasingu", invoice.get("contract_number") or "—"),
        ("Data wystawienia", _date(invoice["issue_date"])),
        ("Termin płatności", _date(invoice["due_date"])),
    ]
    if invoice.get("ksef_number"):
        pairs.append(("Numer KSeF", invoice["ksef_number"]))
    if invoice.get("corrects_invoice_number"):
        pairs.append(("Korygowana faktura", invoice["corrects_invoice_number"]))
    pdf.key_values(pairs)
    columns = [
        Column("Lp.", 8, "R"),
        Column("Opis", 62),
        Column("Wartość netto", 25, "R"),
        Column("Stawka VAT", 15, "R"),
        Column("Kwota VAT", 22, "R"),
        Column("Wartość brutto", 25, "R"),
    ]
    rows = [
        [
            str(number),
            line["description"],
            _pln(line["net"], currency),
            VAT_LABELS.get(line["vat_rate"], f"{line['vat_rate']}%"),
            _pln(line["vat"], currency),
            _pln(line["gross"], currency),
        ]
        for number, line in enumerate(invoice["lines"], start=1)
    ]
    rows.append(
        [
            "",
            "Łącznie",
            _pln(invoice["net_total"], currency),
            "",
            _pln(invoice["vat_total"], currency),
            _pln(invoice["gross_total"], currency),
        ]
    )
    pdf.data_table(columns, rows)
    pdf.key_values(
        [
            ("Należność ogółem", _pln(invoice["gross_total"], currency)),
            ("Zapłacono", _pln(invoice["paid"], currency)),
            ("Pozostało do zapłaty", _pln(invoice["outstanding"], currency)),
            ("Status", _status(invoice["status"])),
        ]
    )
    if invoice["settlements"]:
        pdf.paragraph("Rozliczenie płatności", bold=True)
        pdf.data_table(
            [
                Column("Data rozliczenia", 25),
                Column("Źródło", 25),
                Column("Tytuł wpłaty", 70),
                Column("Kwota", 30, "R"),
            ],
            [
                [
                    _date(s["settled_on"]),
                    SOURCES.get(s["source"], s["source"]),
                    s.get("payment_title") or s.get("correction_number") or "",
                    _pln(s["amount"], currency),
                ]
                for s in invoice["settlements"]
            ],
        )
    if accounts:
        pdf.paragraph("Płatność przelewem na rachunek:", bold=True)
        for account in accounts:
            pdf.paragraph(f"{_nrb(account['account_number'])} ({account['bank_name']}, {account['purpose']})")
    return pdf.render()


def _nrb(number: str) -> str:
    """26 digits grouped as on a Polish transfer form: 61 1090 1014 0000 0712 1981 2874."""
    return " ".join([number[:2], *(number[i : i + 4] for i in range(2, len(number), 4))])


def schedule_pdf(schedule: Document, issuer: str) -> bytes:
    currency = schedule["currency"]
    title = f"Harmonogram spłat umowy nr {schedule['contract_number']}"
    pdf = PortalPdf(title, issuer)
    pdf.heading(title)
    pdf.key_values(
        [
            ("Klient", schedule.get("client_name") or ""),
            ("Stan umowy", "zakończona" if schedule["status"] == "terminated" else "aktywna"),
            ("Stan na dzień", _date(schedule["today"])),
        ]
    )
    columns = [
        Column("Nr", 8, "R"),
        Column("Termin płatności", 22),
        Column("Kapitał", 22, "R"),
        Column("Odsetki", 22, "R"),
        Column("Netto", 22, "R"),
        Column("VAT", 20, "R"),
        Column("Brutto", 24, "R"),
        Column("Stan", 24),
    ]
    rows = [
        [
            str(row["number"]),
            _date(row["due_date"]),
            _pln(row["capital"], currency),
            _pln(row["interest"], currency),
            _pln(row["net"], currency),
            _pln(row["vat"], currency),
            _pln(row["gross"], currency),
            _status(row["state"]),
        ]
        for row in schedule["instalments"]
    ]
    totals = schedule["totals"]
    rows.append(
        [
            "",
            "Łącznie",
            "",
            "",
            _pln(totals["net"], currency),
            _pln(totals["vat"], currency),
            _pln(totals["gross"], currency),
            "",
        ]
    )
    pdf.data_table(columns, rows)
    pdf.key_values(
        [
            ("Zapłacono", _pln(totals["paid"], currency)),
            ("Należność pozostała do zapłaty z wystawionych faktur", _pln(totals["outstanding"], currency)),
        ],
        label_width=95,
    )
    pdf.paragraph(f"Stan płatności według wpłat zaksięgowanych do dnia {_date(schedule['today'])}.", size=8)
    return pdf.render()


def statement_pdf(data: Document, client_name: str, issuer: str) -> bytes:
    title = "Zestawienie rozliczeń"
    pdf = PortalPdf(f"{title} — {client_name}", issuer)
    pdf.heading(title)
    pdf.key_values([("Klient", client_name), ("Stan na dzień", _date(data["today"]))])
    pdf.paragraph("Faktury", bold=True)
    pdf.data_table(
        [
            Column("Numer", 30),
            Column("Data wystawienia", 20),
            Column("Termin płatności", 20),
            Column("Kwota brutto", 25, "R"),
            Column("Zapłacono", 25, "R"),
            Column("Pozostało", 25, "R"),
            Column("Status", 25),
        ],
        [
            [
                doc["number"],
                _date(doc["issue_date"]),
                _date(doc["due_date"]),
                _pln(doc["gross_total"], doc["currency"]),
                _pln(doc["paid"], doc["currency"]),
                _pln(doc["outstanding"], doc["currency"]),
                _status(doc["status"]),
            ]
            for doc in data["invoices"]
        ]
        or [["brak faktur", "", "", "", "", "", ""]],
    )
    pdf.paragraph("Wpłaty zaksięgowane", bold=True)
    pdf.data_table(
        [Column("Data wpłaty", 20), Column("Tytuł", 60), Column("Kwota", 25, "R"), Column("Rozliczono na faktury", 55)],
        [
            [
                _date(payment["received_on"]),
                payment["title"],
                _pln(payment["amount"], payment["currency"]),
                ", ".join(f"{a['number']}: {_pln(a['amount'])}" for a in payment["allocations"]) or "—",
            ]
            for payment in data["payments"]
        ]
        or [["", "brak wpłat", "", ""]],
    )
    totals = data["totals"]
    pdf.key_values(
        [
            ("Łączna kwota faktur", _pln(totals["invoiced"])),
            ("Zapłacono", _pln(totals["paid"])),
            ("Pozostało do zapłaty", _pln(totals["outstanding"])),
            ("w tym zaległe", _pln(totals["overdue"])),
            ("Nadpłata do rozliczenia", _pln(totals["overpayment"])),
            ("Saldo (należność − nadpłata)", _pln(totals["balance"])),
        ],
        label_width=70,
    )
    return pdf.render()
