from __future__ import annotations

from collections.abc import Generator

import pytest

import libs.events.schemas  # noqa: F401  (registers the published event types)
from libs.events.service.logs import configure_logging
from tests.servers import required_in_ci

configure_logging("console", "WARNING")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """With CI=true, a test skipped for want of a server CI has (tests/servers.py, REQUIRED_IN_CI) fails."""
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    reason = str(error.msg) if isinstance(error, pytest.skip.Exception) else ""
    if report.skipped and required_in_ci(reason):
        report.outcome = "failed"
        report.longrepr = f"CI=true, and this test would have been skipped: {reason}"
    return report
