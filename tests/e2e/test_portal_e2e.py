"""The client zone in a real browser (headless Chromium) against the embedded portal.

Each scenario runs in a fresh browser; screenshots of every screen go to tests/e2e/screenshots/.
Payments go through the payments service to its PayU-style gateway sandbox, in its own process.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Portal, run_scenario

SCENARIOS = ("login", "activation", "dashboard", "context", "subaccount", "request", "payment", "screens", "contact")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(portal: Portal, scenario: str) -> None:
    report = run_scenario(portal, scenario)
    assert report.get("scenario") == scenario
    assert report.get("checks"), f"scenario {scenario} checked nothing"
