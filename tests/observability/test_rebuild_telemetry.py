"""A projection rebuilt by the ops tool shows in the telemetry under its service's name, like its live runner."""

from __future__ import annotations

from pathlib import Path

from tests.observability.conftest import Spans
from tests.ops.harness import Ledger


async def test_the_spans_of_a_rebuild_name_the_service_of_the_projection(tmp_path: Path, spans: Spans) -> None:
    ledger = await Ledger(tmp_path).open(run_consumers=False)
    try:
        await ledger.count("A-1", 5)
        result = await ledger.ops.rebuild("ledger.totals")
    finally:
        await ledger.close()

    assert result.events == 1
    (applied,) = [span for span in spans.all() if span.name.startswith("apply ")]
    assert applied.name == "apply ledger.totals"
    assert applied.attributes is not None
    assert applied.attributes["strefa.consumer"] == "ledger.totals"
