"""The contract aggregate: pure decide/evolve, no I/O.

Business rules live here (a positive value, a schedule that adds up and fits the contract period);
the format of the input (NIP, VIN, dates, grosze precision) is checked by the pydantic models in
`inputs.py` before a command is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import NAMESPACE_URL, uuid5

from libs.events import Aggregate, Conflict, DomainEvent, Invalid, NotFound
from libs.events.schemas.contracts import (
    ContractRegistered,
    ContractTerminated,
    Instalment,
    ScheduleAgreed,
    ScheduleChanged,
)

MAX_INSTALMENTS = 120
TerminationReason = Literal["completed", "early_termination", "cancelled", "assigned"]


def contract_id_for(contract_number: str) -> str:
    """One id per contract number, so a number can be registered once, whoever asks."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:contract:{contract_number.strip().upper()}"))


@dataclass(frozen=True)
class RegisterContract:
    details: ContractRegistered


@dataclass(frozen=True)
class AgreeSchedule:
    instalments: tuple[Instalment, ...]


@dataclass(frozen=True)
class ChangeSchedule:
    instalments: tuple[Instalment, ...]
    reason: str


@dataclass(frozen=True)
class TerminateContract:
    terminated_on: date
    reason: TerminationReason


Command = RegisterContract | AgreeSchedule | ChangeSchedule | TerminateContract


@dataclass(frozen=True)
class Contract:
    registered: ContractRegistered | None = None
    schedule: tuple[Instalment, ...] = ()
    terminated: ContractTerminated | None = None


def decide(state: Contract, command: Command) -> Sequence[DomainEvent]:
    match command:
        case RegisterContract(details=details):
            return [_register(state, details)]
        case AgreeSchedule(instalments=instalments):
            registered = _open(state)
            if state.schedule:
                raise Conflict("schedule_already_agreed", "the schedule is already agreed; change it instead")
            check_schedule(registered, instalments)
            return [
                ScheduleAgreed(
                    contract_id=registered.contract_id,
                    client_id=registered.client.client_id,
                    currency=registered.currency,
                    instalments=instalments,
                )
            ]
        case ChangeSchedule(instalments=instalments, reason=reason):
            registered = _open(state)
            if not state.schedule:
                raise Conflict("schedule_not_agreed", "no schedule is agreed yet; agree one first")
            check_schedule(registered, instalments)
            return [
                ScheduleChanged(
                    contract_id=registered.contract_id,
                    client_id=registered.client.client_id,
                    currency=registered.currency,
                    instalments=instalments,
                    reason=reason,
                )
            ]
        case TerminateContract(terminated_on=terminated_on, reason=reason):
            registered = _open(state)
            # Only a cancellation may precede the start (the asset was never handed over).
            if terminated_on < registered.start_date and reason != "cancelled":
                raise Invalid(
                    "terminated_before_start", "the contract cannot end before its start date", field="terminated_on"
                )
            return [
                ContractTerminated(
                    contract_id=registered.contract_id,
                    client_id=registered.client.client_id,
                    terminated_on=terminated_on,
                    reason=reason,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def evolve(state: Contract, event: DomainEvent) -> Contract:
    match event:
        case ContractRegistered():
            return Contract(registered=event)
        case ScheduleAgreed() | ScheduleChanged():
            return replace(state, schedule=event.instalments)
        case ContractTerminated():
            return replace(state, terminated=event)
    return state


def _register(state: Contract, details: ContractRegistered) -> ContractRegistered:
    if state.registered is not None:
        raise Conflict(
            "contract_number_taken",
            f"contract {details.contract_number} is already registered",
            field="contract_number",
        )
    if details.end_date <= details.start_date:
        raise Invalid("end_before_start", "the end date must be after the start date", field="end_date")
    if details.net_value <= 0:
        raise Invalid("amount_not_positive", "the net value must be positive", field="net_value")
    return details


def _open(state: Contract) -> ContractRegistered:
    """The contract, if it exists and may still change."""
    if state.registered is None:
        raise NotFound("contract_not_found", "no such contract")
    if state.terminated is not None:
        raise Conflict("contract_terminated", f"the contract was terminated on {state.terminated.terminated_on}")
    return state.registered


def check_schedule(contract: ContractRegistered, instalments: Sequence[Instalment]) -> None:
    """Refuses a schedule that does not fit the contract; the field is `instalments.<index>.<part>`."""
    if not 1 <= len(instalments) <= MAX_INSTALMENTS:
        raise Invalid("schedule_size", f"a schedule has 1 to {MAX_INSTALMENTS} instalments", field="instalments")
    previous: date | None = None
    for index, instalment in enumerate(instalments):
        _check_instalment(contract, instalment, f"instalments.{index}", index + 1, previous)
        previous = instalment.due_date


def _check_instalment(
    contract: ContractRegistered, instalment: Instalment, at: str, expected_number: int, previous: date | None
) -> None:
    if instalment.number != expected_number:
        raise Invalid(
            "instalment_numbers_not_consecutive",
            f"instalments are numbered 1, 2, 3...: expected {expected_number}, got {instalment.number}",
            field=f"{at}.number",
        )
    if not contract.start_date <= instalment.due_date <= contract.end_date:
        raise Invalid(
            "due_date_outside_contract",
            f"the due date must be within the contract period {contract.start_date} to {contract.end_date}",
            field=f"{at}.due_date",
        )
    if previous is not None and instalment.due_date <= previous:
        raise Invalid(
            "due_dates_not_increasing", "each due date must come after the previous one", field=f"{at}.due_date"
        )
    _check_amounts(instalment, at)
    if instalment.net + instalment.vat != instalment.gross:
        raise Invalid("gross_mismatch", "net + VAT must equal gross", field=f"{at}.gross")
    if instalment.capital + instalment.interest != instalment.net:
        raise Invalid("net_split_mismatch", "capital + interest must equal net", field=f"{at}.capital")


def _check_amounts(instalment: Instalment, at: str) -> None:
    # Net and gross are what is owed: positive. VAT, capital and interest may be zero (a 0% VAT rate,
    # an initial fee that is all capital, an interest-free promotion), never negative.
    for name, amount, strictly in (
        ("net", instalment.net, True),
        ("gross", instalment.gross, True),
        ("vat", instalment.vat, False),
        ("capital", instalment.capital, False),
        ("interest", instalment.interest, False),
    ):
        if amount < 0 or (strictly and amount == Decimal(0)):
            code, rule = ("amount_not_positive", "positive") if strictly else ("amount_negative", "zero or more")
            raise Invalid(code, f"the {name} amount must be {rule}", field=f"{at}.{name}")


contract = Aggregate[Contract, Command](category="contracts-contract", initial=Contract, decide=decide, evolve=evolve)
