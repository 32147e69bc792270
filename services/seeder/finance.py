"""Money of a lease, in Decimal grosze: annuity schedules split into capital and interest, VAT, late interest.

Rounding is half-up to the grosz at each instalment, and the last instalment takes what is left, so
the capital parts add up exactly to what is financed and net + VAT = gross on every line.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

GROSZ = Decimal("0.01")
ZERO = Decimal("0.00")
VAT_23 = Decimal(23)


def grosze(amount: Decimal) -> Decimal:
    return amount.quantize(GROSZ, rounding=ROUND_HALF_UP)


def vat(net: Decimal, rate: Decimal = VAT_23) -> Decimal:
    """VAT of a net amount at a percentage rate, rounded half-up to grosze (as billing checks it)."""
    return grosze(net * rate / 100)


def net_of_gross(gross: Decimal, rate: Decimal = VAT_23) -> Decimal:
    """The net price behind a gross catalogue price."""
    return grosze(gross * 100 / (100 + rate))


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), the month's last day when it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def annuity(principal: Decimal, residual: Decimal, yearly_rate: Decimal, months: int) -> list[tuple[Decimal, Decimal]]:
    """Equal monthly payments (capital + interest) that bring `principal` down to `residual`.

    Interest of a month is the balance times the monthly rate, rounded to grosze; the last capital
    part is whatever remains above the residual value, so the capital parts add up exactly.
    """
    if months < 1 or principal <= residual:
        raise ValueError("an annuity needs at least one month and something to repay")
    rate = yearly_rate / 12
    with localcontext() as context:
        context.prec = 34
        if rate == 0:
            payment = grosze((principal - residual) / months)
        else:
            discount = (1 / (1 + rate)) ** months
            payment = grosze((principal - residual * discount) * rate / (1 - discount))
    rows: list[tuple[Decimal, Decimal]] = []
    balance = principal
    for month in range(1, months + 1):
        interest = grosze(balance * rate)
        capital = payment - interest if month < months else balance - residual
        balance -= capital
        rows.append((capital, interest))
    return rows


@dataclass(frozen=True)
class Instalment:
    number: int
    due_date: date
    capital: Decimal
    interest: Decimal
    kind: Literal["initial_fee", "instalment"]

    @property
    def net(self) -> Decimal:
        return self.capital + self.interest

    @property
    def vat(self) -> Decimal:
        return vat(self.net)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def schedule(
    start: date, net_price: Decimal, initial_fee: Decimal, residual: Decimal, yearly_rate: Decimal, months: int
) -> list[Instalment]:
    """The repayment schedule of a lease starting on `start`: the initial fee (if any) due that day,
    then `months` annuity instalments due monthly on the same day of the month."""
    rows: list[Instalment] = []
    if initial_fee > 0:
        rows.append(Instalment(1, start, initial_fee, ZERO, "initial_fee"))
    for month, (capital, interest) in enumerate(annuity(net_price - initial_fee, residual, yearly_rate, months), 1):
        rows.append(Instalment(len(rows) + 1, add_months(start, month), capital, interest, "instalment"))
    return rows


def late_interest(amount: Decimal, days: int, yearly_rate: Decimal) -> Decimal:
    """Simple interest for `days` of delay, on a 365-day year, rounded to grosze."""
    return grosze(amount * yearly_rate * days / 365)


def money(amount: Decimal) -> str:
    """As the back-office API takes it: a decimal string with exactly two places."""
    return str(grosze(amount))
