"""With CI=true a test skipped for want of Kafka, FerretDB, nginx or servers a fault test may restart
fails (tests/conftest.py), while the EventStoreDB contract tests keep skipping with their reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from tests.servers import ROOT

PROBES = """
import pytest
from tests.servers import EVENTSTORE_SKIP, FAULT_SKIP, KAFKA_SKIP, NGINX_SKIP


@pytest.fixture
def restartable_servers():
    pytest.skip(f"{FAULT_SKIP}: KAFKA_BOOTSTRAP does not point at the server deploy/local/infra.sh runs")


def test_fault(restartable_servers):
    pass


def test_kafka():
    pytest.skip(KAFKA_SKIP)


@pytest.mark.skipif(True, reason=NGINX_SKIP)
def test_nginx():
    pass


def test_eventstoredb():
    pytest.skip(EVENTSTORE_SKIP)


def test_other_reason():
    pytest.skip("not on this platform")
"""


def run_probes(tmp_path: Path, ci: str | None) -> dict[str, str]:
    """Runs the probes in a pytest of their own with tests/conftest.py; test name -> outcome."""
    (tmp_path / "test_probes.py").write_text(PROBES)
    report = tmp_path / "report.xml"
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q"]
    subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [*command, f"--junitxml={report}", str(tmp_path / "test_probes.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    found: dict[str, str] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):  # noqa: S314 (written by pytest just now)
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        found[case.attrib["name"]] = outcome
        if outcome in ("failure", "error"):
            found[f"{case.attrib['name']} message"] = case[0].attrib.get("message", "")
    return found


def test_in_ci_a_missing_server_fails_and_eventstoredb_still_skips(tmp_path: Path) -> None:
    found = run_probes(tmp_path, "true")
    outcomes = {name: outcome for name, outcome in found.items() if not name.endswith(" message")}
    assert outcomes == {
        "test_fault": "error",
        "test_kafka": "failure",
        "test_nginx": "error",
        "test_eventstoredb": "skipped",
        "test_other_reason": "skipped",
    }, found
    assert "CI=true, and this test would have been skipped: no Kafka broker configured" in found["test_kafka message"]


def test_outside_ci_they_all_skip(tmp_path: Path) -> None:
    assert set(run_probes(tmp_path, None).values()) == {"skipped"}
