"""Peak memory (RSS) of each process while it was under load: reported, with no baseline.

The samples come from the run's `MemorySampler` (bench/processes.py), which watched every server
process from its start to its stop (children included) every quarter of a second.
"""

from __future__ import annotations

import re

from bench.core import Figure
from bench.processes import MemorySampler


def figures(sampler: MemorySampler) -> list[Figure]:
    found: list[Figure] = []
    for label, series in sorted(sampler.series.items()):
        if not series.samples:
            continue
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        found.append(
            Figure(
                key=f"rss.{slug}",
                title=f"Peak RSS: {label}",
                mode="cluster" if "cluster" in label else "embedded",
                unit="MiB",
                value=series.peak_mib,
                baseline=None,
                baseline_label="none",
                ratio=None,
                target="reported",
                passed=None,
                settings={"sampled_every_s": sampler.interval, "samples": len(series.samples)},
                details={"first_mib": round(series.samples[0][1] / 2**20, 1)},
            )
        )
    return found
