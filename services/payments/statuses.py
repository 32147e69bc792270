"""The client zone's payment statuses ("Bramka płatnicza - Statusy transakcji"), as the API reports them.

Every status goes out as a machine code with its title and message in Polish (the portal's
language) and English. `paid` is for invoices only: billing settled them.
"""

from __future__ import annotations

from typing import Any, Final, Literal

InvoiceStatusCode = Literal["not_started", "in_progress", "accepted", "failed", "unavailable", "paid"]

TEXTS: Final[dict[str, tuple[tuple[str, str], tuple[str, str]]]] = {
    "not_started": (
        ("Płatność nierozpoczęta", "Payment not started"),
        ("Oczekiwanie na rozpoczęcie płatności.", "Waiting for the payment to start."),
    ),
    "in_progress": (
        ("Płatność w trakcie realizacji", "Payment in progress"),
        (
            "Płatność została rozpoczęta. Na czas realizacji przycisk ZAPŁAĆ został zablokowany.",
            "The payment has started. The PAY button is locked while it is processed.",
        ),
    ),
    "accepted": (
        ("Płatność została przyjęta", "Payment accepted"),
        ("Płatność została przyjęta, trwa rozliczenie.", "The payment was accepted; settlement is in progress."),
    ),
    "failed": (
        ("Płatność nie została zrealizowana poprawnie", "Payment not completed"),
        ("Płatność nie powiodła się. Spróbuj ponownie.", "The payment failed. Please try again."),
    ),
    "unavailable": (
        ("Brak możliwości wykonania płatności", "Payment not possible"),
        ("Funkcja płatności jest chwilowo niedostępna.", "Online payment is temporarily unavailable."),
    ),
    "paid": (
        ("Faktura opłacona", "Invoice paid"),
        ("Faktura została rozliczona.", "The invoice has been settled."),
    ),
}


def status_view(code: str) -> dict[str, Any]:
    """`{code, title: {pl, en}, message: {pl, en}, pay_locked}` for a status code."""
    (title_pl, title_en), (message_pl, message_en) = TEXTS[code]
    return {
        "code": code,
        "title": {"pl": title_pl, "en": title_en},
        "message": {"pl": message_pl, "en": message_en},
        "pay_locked": code in ("in_progress", "accepted", "unavailable", "paid"),
    }
