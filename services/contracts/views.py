"""What the client API answers: response models read from the read-model documents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssetSummary(_View):
    kind: str
    make: str
    model: str
    registration_number: str | None = None
    year: int | None = None


class Asset(AssetSummary):
    vin: str | None = None


class ContractItem(_View):
    contract_id: str
    contract_number: str
    contract_type: Literal["operating", "financial"]
    asset: AssetSummary
    start_date: date
    end_date: date
    net_value: Decimal
    currency: str
    status: Literal["active", "terminated"]


class ContractPage(_View):
    items: list[ContractItem]
    total: int
    """How many contracts match the filter, over all pages."""
    limit: int
    offset: int


class ScheduleSummary(_View):
    instalments: int
    first_due_date: date
    last_due_date: date
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    currency: str
    revision: int
    """1 for the agreed schedule, one more with each change."""
    updated_at: datetime


class ContractDetails(ContractItem):
    asset: Asset
    client_name: str
    client_nip: str
    terminated_on: date | None = None
    termination_reason: Literal["completed", "early_termination", "cancelled", "assigned"] | None = None
    schedule: ScheduleSummary | None = None
    """None until a schedule is agreed."""


class InstalmentView(_View):
    number: int
    due_date: date
    net: Decimal
    vat: Decimal
    gross: Decimal
    capital: Decimal
    interest: Decimal


class ScheduleTotals(_View):
    net: Decimal
    vat: Decimal
    gross: Decimal
    capital: Decimal
    interest: Decimal


class Schedule(_View):
    contract_id: str
    contract_number: str | None
    currency: str
    revision: int
    """0 while no schedule is agreed (then `instalments` is empty)."""
    agreed_at: datetime | None
    changed_at: datetime | None
    change_reason: str | None
    instalments: list[InstalmentView]
    totals: ScheduleTotals | None
