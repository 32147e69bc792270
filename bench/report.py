"""The run's report: `bench/results/<run id>.json`, and docs/performance.md regenerated from the JSON.

docs/performance.md is written from the newest report of a whole run (all figures), plus the newest
report holding a rebuild of at least 1,000,000 events when that was its own run (`--only rebuild`),
plus bench/notes.md verbatim (the profiles and what was changed because of them). Never edit
docs/performance.md by hand: change bench/notes.md or run the bench again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.infra import ROOT

NOTES = ROOT / "bench" / "notes.md"
DOCS = ROOT / "docs" / "performance.md"
MILLION = 1_000_000


def write_json(report: Mapping[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report['run_id']}.json"
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return path


def load_reports(folder: Path) -> list[dict[str, Any]]:
    reports = []
    for path in sorted(folder.glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and "figures" in report:
            report["_file"] = path.name
            reports.append(report)
    return sorted(reports, key=lambda report: str(report.get("started_at", "")))


def choose(reports: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The newest whole run (no --only), and the newest report with a rebuild of >= 1,000,000 events."""
    whole = [report for report in reports if not report.get("only")]
    million = [
        report
        for report in reports
        if any(f["key"] == "rebuild" and f["settings"].get("events", 0) >= MILLION for f in report["figures"])
    ]
    return (whole[-1] if whole else None), (million[-1] if million else None)


def _number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _result(figure: Mapping[str, Any]) -> str:
    if figure["passed"] is None:
        return "reported"
    return "pass" if figure["passed"] else "**miss**"


def _ratio(figure: Mapping[str, Any]) -> str:
    ratio = figure.get("ratio")
    return "—" if ratio is None else f"{ratio:.2f}x"


def _figure_row(figure: Mapping[str, Any]) -> str:
    unit = figure["unit"]
    return (
        f"| {figure['title']} | {figure['mode']} | {_number(figure['value'], unit)} | "
        f"{_number(figure['baseline'], unit)} | {_ratio(figure)} | {figure['target']} | {_result(figure)} |"
    )


def _extra(figure: Mapping[str, Any]) -> str:
    """The one line under the table that a figure needs beyond value and baseline."""
    details = figure.get("details", {})
    key = figure["key"]
    if key.startswith("http."):
        return (
            f"at 70% of max: p50 {details['p50_ms_at_70']} ms, p99 {details['p99_ms_at_70']} ms "
            f"(bare: p50 {details['bare_p50_ms_at_70']} ms, p99 {details['bare_p99_ms_at_70']} ms); "
            f"errors {details['errors']}"
        )
    if key.startswith("lag."):
        maximum = details["max_command_rate"]
        half = details["at_half_rate"]
        parts = ", ".join(f"{name} p99 {part['p99_ms']} ms" for name, part in details["parts"].items())
        return (
            f"p50 {details['p50_ms']} ms (baseline p50 {details['baseline_p50_ms']} ms); max command rate "
            f"{maximum['rate']}/s, measured at {half['offered_rate']}/s, {half['commands']} commands, "
            f"{half['missing']} missing; parts alone: {parts}"
        )
    if key == "rebuild":
        rss = details["rss"]
        return (
            f"{details['rebuild_minutes']} min for {figure['settings']['events']:,} events "
            f"({details['projected_minutes_for_1m']} min projected for 1,000,000); RSS peak {rss['peak_mib']} MiB, "
            f"first half {rss['first_half_peak_mib']} MiB, second half {rss['second_half_peak_mib']} MiB "
            f"({'flat' if rss['flat'] else 'growing'}); dead letters {details.get('dead_letters')}; "
            f"log generated at {details['generation_events_per_s']} events/s"
        )
    if key == "appends.batched":
        return f"raw batched: {details['raw_batched_events_per_s']:,} events/s"
    if key == "relay.publish":
        return (
            f"mean message {details['mean_value_bytes']} bytes; "
            f"rounds relay {details['relay_rounds']}, raw {details['raw_rounds']}"
        )
    if key == "replay.mongo":
        return (
            f"{details['documents_written']} documents in {details['upsert_batches']} batches, "
            f"dead letters {details.get('dead_letters')}; per projection {details['per_projection']}"
        )
    return ""


def _settings_line(settings: Mapping[str, Any]) -> str:
    return "; ".join(f"{name}: {value}" for name, value in settings.items())


def _machine(report: Mapping[str, Any]) -> list[str]:
    machine, versions = report["machine"], report["versions"]
    packages = ", ".join(f"{name} {version}" for name, version in versions["packages"].items())
    return [
        "| | |",
        "| --- | --- |",
        f"| CPU | {machine['cpu']}, {machine['cores']} cores |",
        f"| RAM | {machine['ram_gib']} GiB |",
        f"| OS | {machine['os']} |",
        f"| load average at start | {', '.join(str(v) for v in machine['load_average_at_start'])} "
        "(other work shares the machine) |",
        f"| Python | {versions['python']} |",
        f"| SQLite | {versions['sqlite']} |",
        f"| Kafka | {versions['kafka']} |",
        f"| MongoDB wire | {versions['ferretdb']} |",
        f"| load generator | {versions.get('wrk') or 'bench.loadgen only (wrk not installed)'} for the maximum "
        "rates, bench.loadgen for the open-loop latencies |",
        f"| packages | {packages} |",
    ]


def _figures_section(report: Mapping[str, Any], heading: str) -> list[str]:
    figures = report["figures"]
    measured = [f for f in figures if not f["key"].startswith("rss.")]
    memory = [f for f in figures if f["key"].startswith("rss.")]
    only = f", only {', '.join(report['only'])}" if report.get("only") else ""
    lines = [
        heading,
        "",
        f"Run `{report['run_id']}` ({report['scale']['name']} scale{only}), "
        f"started {report['started_at']}, took {report['duration_s'] / 60:.1f} min. "
        f"JSON: `bench/results/{report['run_id']}.json`.",
        "",
        "| figure | mode | measured | baseline (same run) | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(_figure_row(figure) for figure in measured),
        "",
    ]
    for figure in measured:
        extra = _extra(figure)
        lines.append(f"- **{figure['title']}** — baseline: {figure['baseline_label']}.")
        if extra:
            lines.append(f"  {extra}.")
        lines.append(f"  Settings: {_settings_line(figure['settings'])}.")
    if memory:
        lines += ["", "Peak memory (RSS, children included) of each process while under load:", ""]
        lines += ["| process | peak RSS |", "| --- | --- |"]
        lines += [f"| {f['title'].removeprefix('Peak RSS: ')} | {_number(f['value'], 'MiB')} |" for f in memory]
    for name, reason in report.get("skipped", {}).items():
        lines.append(f"- skipped {name}: {reason}")
    for name, error in report.get("errors", {}).items():
        lines.append(f"- **failed** {name}: `{error.splitlines()[-1] if error else ''}`")
    return [*lines, ""]


def render(whole: Mapping[str, Any] | None, million: Mapping[str, Any] | None, notes: str) -> str:
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `make bench` (python -m bench) from bench/results/*.json and bench/notes.md. -->",
        "",
        "Performance is measured by `make bench`, never asserted in tests. Every figure stands next to a",
        "baseline measured in the same run on the same machine, with the same driver or server and without",
        "the platform's code, so the ratio holds when the machine is noisy (this one has 2 cores shared with",
        "other work). `make bench` brings Kafka and FerretDB up like `make test`; `python -m bench --quick`",
        "takes a few minutes; `python -m bench --only rebuild` rebuilds every projection from 1,000,000",
        "events. The maximum HTTP rates use `wrk` when it is installed (Debian: `apt-get install -y wrk`);",
        "without it the bench's own asyncio generator (bench/loadgen.py) measures them.",
        "",
    ]
    primary = whole or million
    if primary is None:
        return "\n".join([*lines, "No run yet: `make bench`.", ""])
    lines += ["## Machine and versions", "", *_machine(primary), ""]
    if whole is not None:
        lines += _figures_section(whole, "## Figures")
    if million is not None and million is not whole:
        lines += _figures_section(million, "## Rebuild from 1,000,000 events")
    if notes.strip():
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def write_docs(results: Path, docs: Path = DOCS, notes: Path = NOTES) -> Path:
    whole, million = choose(load_reports(results))
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(render(whole, million, notes.read_text() if notes.exists() else ""))
    return docs


if __name__ == "__main__":  # `python -m bench.report`: docs/performance.md again from bench/results
    print(write_docs(ROOT / "bench" / "results"))
