"""Dates that say "midnight" mean midnight in Europe/Warsaw, daylight-saving changes included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")


def warsaw_date(moment: datetime) -> date:
    """The calendar day in Warsaw at an aware moment."""
    return moment.astimezone(WARSAW).date()


def midnight_after(moment: datetime, days: int = 0) -> datetime:
    """The midnight (Warsaw) that ends the Warsaw day of `moment`, plus `days` whole days, in UTC.

    `days=0`: valid "until midnight of the day of issue"; `days=1`: "until midnight of the next day".
    """
    day = warsaw_date(moment) + timedelta(days=days + 1)
    return datetime.combine(day, time(0, 0), tzinfo=WARSAW).astimezone(UTC)
