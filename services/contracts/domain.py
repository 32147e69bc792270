"""The contract aggregate: pure decide/evolve, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import NAMESPACE_URL, uuid5

from libs.events import Aggregate, Conflict, DomainEvent, Invalid
from libs.events.schemas.contracts import ContractRegistered


def contract_id_for(contract_number: str) -> str:
    """One id per contract number, so a number can be registered once, whoever asks."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:contract:{contract_number.strip().upper()}"))


@dataclass(frozen=True)
class RegisterContract:
    details: ContractRegistered


@dataclass(frozen=True)
class Contract:
    registered: ContractRegistered | None = None


Command = RegisterContract


def decide(state: Contract, command: Command) -> Sequence[DomainEvent]:
    match command:
        case RegisterContract(details=details):
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
            return [details]
    raise TypeError(f"unknown command {command!r}")


def evolve(state: Contract, event: DomainEvent) -> Contract:
    match event:
        case ContractRegistered():
            return Contract(registered=event)
    return state


contract = Aggregate[Contract, Command](category="contracts-contract", initial=Contract, decide=decide, evolve=evolve)
