"""`python -m bench.profile FILE [--top N] [--focus TEXT]`: the hottest functions of a py-spy recording.

`python -m bench --profile` records the servers under HTTP load with py-spy (`--format raw`: one line
per sampled stack with its count) into bench/results/profiles/<run id>/. This prints, for the samples
whose stack contains `--focus` (all by default), the share of samples each function is on the stack
(inclusive) and at the top of it (self).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path


def summarize(path: Path, top: int = 30, focus: str = "") -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or focus not in stack:
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if total == 0:
        return "no samples"
    lines = [f"{total} samples{f' with {focus!r} on the stack' if focus else ''}", "", "inclusive:"]
    lines += [f"{count / total:7.1%}  {frame}" for frame, count in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{count / total:7.1%}  {frame}" for frame, count in own.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--focus", default="", help="only stacks containing this text")
    args = parser.parse_args(argv)
    print(summarize(args.file, args.top, args.focus))


if __name__ == "__main__":
    main()
