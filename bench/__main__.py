"""`python -m bench [--tiny] [NAME ...]`: run the named benchmarks (all when none are named),
write each one's JSON to `bench/results/` and the markdown table of every result on disk to
`docs/benchmarks.md`. `--tiny` runs minute sizes (the smoke test's setting; not figures)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from bench import footprint, hot_path, journal, ray_runtime, recovery, replay, sim_market
from bench.common import Report, load_reports, write_markdown

# Ordered as the issue lists them, cheapest first within that order of importance.
BENCHMARKS: dict[str, Callable[..., Report]] = {
    "hot_path": hot_path.run,
    "journal": journal.run,
    "footprint": footprint.run,
    "recovery": recovery.run,
    "replay": replay.run,
    "sim_market": sim_market.run,
    "ray_runtime": ray_runtime.run,
}


def main(argv: list[str]) -> int:
    tiny = "--tiny" in argv
    names = [a for a in argv if a != "--tiny"] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        report = BENCHMARKS[name](tiny=tiny)
        if not tiny:
            report.write_json()
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    if not tiny:
        print(f"wrote {write_markdown(load_reports(order=list(BENCHMARKS)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
