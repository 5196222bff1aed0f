"""`python -m bench [--tiny] [NAME ...]`: run the named benchmarks (all when none are named),
write each one's JSON to `bench/results/` and the markdown table of every result on disk to
`docs/benchmarks.md`. `--tiny` runs minute sizes (the smoke test's setting; not figures).

A benchmark is a module `bench/<name>.py` with `run(*, tiny: bool = False) -> Report` whose
report is named `<name>`; listing it in `ORDER` registers it. A listed module that is not in
the checkout (one another change adds, such as `ray_runtime`) is skipped, not an error, so the
registration can land before the module does.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable

from bench.common import Report, load_reports, write_markdown

# Ordered as the issue lists them, cheapest first within that order of importance.
ORDER: tuple[str, ...] = (
    "hot_path",
    "journal",
    "footprint",
    "ray_runtime",  # Ray figures (per-actor footprint); its own module, optional here
    "recovery",
    "replay",
    "sim_market",
)

# Run only when named: before/after figures of the hot-path fixes, which check out an older
# revision (see bench/fixes.py); not part of `make bench`.
ON_REQUEST: tuple[str, ...] = ("fixes",)


def load(names: tuple[str, ...]) -> dict[str, Callable[..., Report]]:
    """The `run` of every named benchmark module present in this checkout, in order."""
    found: dict[str, Callable[..., Report]] = {}
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"bench.{name}":
                raise  # the module is there but something it imports is not: say so
            continue
        found[name] = module.run
    return found


BENCHMARKS: dict[str, Callable[..., Report]] = load(ORDER)


def main(argv: list[str]) -> int:
    tiny = "--tiny" in argv
    names = [a for a in argv if a != "--tiny"] or list(BENCHMARKS)
    available = {**BENCHMARKS, **load(ON_REQUEST)}
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(available)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        report = available[name](tiny=tiny)
        report.took_s = time.perf_counter() - started
        if not tiny:
            report.write_json()
        print(f"   ({report.took_s:.0f} s)", flush=True)
    if not tiny:
        print(f"wrote {write_markdown(load_reports(order=[*ORDER, *ON_REQUEST]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
