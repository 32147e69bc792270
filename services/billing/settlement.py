"""Settlement rules, pure: which open invoices a sum of money pays off, and in what order.

Order of settlement for money coming in (a payment, or the credit of a correction):
1. the invoices the payer named: chosen in an online payment (in the payer's order), then those
   whose number appears in the transfer title (oldest due first among them);
2. then every other open invoice, oldest due date first (ties: issue date, then number);
3. what is left is an overpayment.

Order-independence (tested in tests/billing/test_settlement_properties.py): for invoices issued
before the payments, the final outstanding amount of every invoice and the overpayment total do not
depend on the order in which payments arrive, as long as each payment names at most one invoice
(by its title or its choice). Which payment settled which invoice does depend on the order. A
payment naming two or more invoices can make the final state order-dependent; a test shows such a
case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0.00")
GROSZ = Decimal("0.01")


def grosze(amount: Decimal) -> Decimal:
    """The amount rounded half-up to whole grosze (half away from zero, as on Polish invoices)."""
    return amount.quantize(GROSZ, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice as the client ledger sees it: what it was for and what is still owed."""

    invoice_id: str
    number: str
    issue_date: date
    due_date: date
    outstanding: Decimal
    contract_id: str | None = None

    def order_key(self) -> tuple[date, date, str, str]:
        return (self.due_date, self.issue_date, self.number, self.invoice_id)


@dataclass(frozen=True, slots=True)
class Allocation:
    invoice_id: str
    amount: Decimal
    outstanding: Decimal
    """What is still owed on the invoice after this allocation."""


def _tokens(text: str) -> list[str]:
    """Runs of letters and digits, upper-cased, accents kept (separators, spaces and case ignored)."""
    normalized = unicodedata.normalize("NFKC", text).upper()
    return re.findall(r"[^\W_]+", normalized)


def number_key(number: str) -> str:
    """An invoice number with every separator and space removed, upper-cased: FV/2026/01 -> FV202601."""
    return "".join(_tokens(number))


def named_in_title(title: str, items: Iterable[OpenItem]) -> list[str]:
    """The invoices whose number appears in a transfer title, oldest due first.

    A number matches when a run of whole words of the title, glued together, equals the number
    without separators: "fv 2026-01-0001", "FV2026/01/0001" and "FV/2026/01/0001" all name invoice
    FV/2026/01/0001, but "FV/2026/01/00011" does not, nor does "11/2026" name invoice "1/2026".
    """
    tokens = _tokens(title)
    glued: set[str] = set()
    for start in range(len(tokens)):
        run = ""
        for token in tokens[start:]:
            run += token
            glued.add(run)
            if len(run) > 64:
                break
    matched = [item for item in items if number_key(item.number) in glued]
    return [item.invoice_id for item in sorted(matched, key=OpenItem.order_key)]


def allocate(
    amount: Decimal, items: Iterable[OpenItem], preferred: Sequence[str] = ()
) -> tuple[list[Allocation], Decimal]:
    """Spreads `amount` over the open items: `preferred` ones first (in that order), then oldest
    due first. Returns the allocations and what is left over (the overpayment)."""
    if amount < 0:
        raise ValueError("cannot allocate a negative amount")
    open_items = {item.invoice_id: item for item in items if item.outstanding > 0}
    ordered = [open_items[invoice_id] for invoice_id in dict.fromkeys(preferred) if invoice_id in open_items]
    chosen = {item.invoice_id for item in ordered}
    ordered += sorted((item for item in open_items.values() if item.invoice_id not in chosen), key=OpenItem.order_key)
    allocations: list[Allocation] = []
    left = amount
    for item in ordered:
        if left <= 0:
            break
        paid = min(left, item.outstanding)
        left -= paid
        allocations.append(Allocation(item.invoice_id, paid, item.outstanding - paid))
    return allocations, left
