"""The contract aggregate and the pure parts around it, without HTTP or stores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import reduce

import pytest
from pydantic import TypeAdapter, ValidationError

from libs.events import Conflict, DomainEvent, Invalid, NotFound
from libs.events.schemas.contracts import ContractTerminated, Instalment, ScheduleAgreed, ScheduleChanged
from services.contracts.domain import (
    AgreeSchedule,
    ChangeSchedule,
    Contract,
    RegisterContract,
    TerminateContract,
    contract_id_for,
    decide,
    evolve,
)
from services.contracts.inputs import RegisterContractIn, Vin
from services.contracts.projections import fold_text, search_terms
from tests.contracts.data import contract_body, schedule_body

REGISTERED = RegisterContractIn.model_validate(contract_body()).event(contract_id_for("UL/2026/11/0001"))


def _instalments(count: int = 3) -> tuple[Instalment, ...]:
    return tuple(Instalment.model_validate(item) for item in schedule_body(count)["instalments"])


def _state(*events: DomainEvent) -> Contract:
    return reduce(evolve, events, Contract())


def test_a_contract_number_has_one_id_whatever_its_case_or_spaces() -> None:
    assert contract_id_for(" ul/2026/11/0001 ") == contract_id_for("UL/2026/11/0001")
    assert contract_id_for("UL/2026/11/0001") != contract_id_for("UL/2026/11/0002")


def test_the_life_of_a_contract() -> None:
    (registered,) = decide(Contract(), RegisterContract(REGISTERED))
    (agreed,) = decide(_state(registered), AgreeSchedule(_instalments(3)))
    assert isinstance(agreed, ScheduleAgreed)
    assert (agreed.client_id, agreed.currency) == ("CL-1001", "PLN")
    (changed,) = decide(_state(registered, agreed), ChangeSchedule(_instalments(2), "aneks"))
    assert isinstance(changed, ScheduleChanged)
    (ended,) = decide(_state(registered, agreed, changed), TerminateContract(date(2028, 1, 15), "completed"))
    assert isinstance(ended, ContractTerminated)
    final = _state(registered, agreed, changed, ended)
    assert (len(final.schedule), final.terminated) == (2, ended)


def test_commands_on_a_missing_contract_are_not_found() -> None:
    for command in (
        AgreeSchedule(_instalments()),
        ChangeSchedule(_instalments(), "x"),
        TerminateContract(date(2027, 1, 1), "completed"),
    ):
        with pytest.raises(NotFound):
            decide(Contract(), command)


def test_a_terminated_contract_refuses_changes() -> None:
    ended = ContractTerminated(
        contract_id=REGISTERED.contract_id, client_id="CL-1001", terminated_on=date(2027, 1, 1), reason="completed"
    )
    with pytest.raises(Conflict) as refused:
        decide(_state(REGISTERED, ended), AgreeSchedule(_instalments()))
    assert refused.value.code == "contract_terminated"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gross": Decimal("3690.01")}, "instalments.1.gross"),
        ({"capital": Decimal("2579.86")}, "instalments.1.capital"),
        ({"vat": Decimal("-1.00"), "gross": Decimal("2999.00")}, "instalments.1.vat"),
        ({"due_date": date(2026, 2, 15)}, "instalments.1.due_date"),
        ({"number": 3}, "instalments.1.number"),
    ],
)
def test_schedule_rules_name_the_instalment_at_fault(change: dict[str, object], field: str) -> None:
    instalments = list(_instalments(3))
    instalments[1] = instalments[1].model_copy(update=change)
    with pytest.raises(Invalid) as refused:
        decide(_state(REGISTERED), AgreeSchedule(tuple(instalments)))
    assert refused.value.field == field


def test_zero_vat_capital_or_interest_is_allowed() -> None:
    zero = Instalment(
        number=1,
        due_date=date(2026, 2, 15),
        net=Decimal("5000.00"),
        vat=Decimal("0.00"),
        gross=Decimal("5000.00"),
        capital=Decimal("5000.00"),
        interest=Decimal("0.00"),
    )
    assert decide(_state(REGISTERED), AgreeSchedule((zero,)))


def test_an_empty_or_overlong_schedule_is_refused_by_the_domain_too() -> None:
    for instalments in ((), _instalments(1) * 121):
        with pytest.raises(Invalid) as refused:
            decide(_state(REGISTERED), AgreeSchedule(instalments))
        assert (refused.value.field, refused.value.code) == ("instalments", "schedule_size")


@pytest.mark.parametrize(
    ("vin", "valid"),
    [
        ("TMBJJ7NP5L7012345", True),  # Škoda: no check digit in Europe
        ("wvwzzz1jzxw000001", True),
        ("1FTFW1E51PFA12345", True),  # Ford USA: check digit 1 is right
        ("1FTFW1E50PFA12345", False),  # ...and 0 is wrong
        ("1M8GDM9AXKP042788", True),  # check digit X
        ("TMBJJ7NP5L701234", False),  # 16 characters
        ("TMBJJ7NP5L7O12345", False),  # O is not allowed
        ("TMBJJ7NP5L7Q12345", False),  # nor Q
        ("TMBJJ7NP5L7-12345", False),
    ],
)
def test_vin_validation(vin: str, valid: bool) -> None:
    adapter = TypeAdapter(Vin)
    if valid:
        assert adapter.validate_python(vin) == vin.upper()
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(vin)


def test_search_terms_fold_case_and_polish_letters() -> None:
    assert fold_text("Łódź Żółć śnieg") == "LODZ ZOLC SNIEG"
    terms = search_terms(REGISTERED)
    assert {"UL/2026/11/0001", "UL", "2026", "0001", "SKODA", "SUPERB", "SAMOCHOD", "OSOBOWY"} <= set(terms)
    assert {"TMBJJ7NP5L7012345", "WX1234A"} <= set(terms)
