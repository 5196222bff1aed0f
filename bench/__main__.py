"""`python -m bench [NAME ...]`: run the named benchmarks (all when none are named)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import sim_market

BENCHMARKS: dict[str, Callable[[], None]] = {
    "sim_market": sim_market.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        sys.argv = [f"bench.{name}"]
        BENCHMARKS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
