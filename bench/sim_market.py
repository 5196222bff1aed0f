"""Speed of the simulated market alone: simulated seconds per wall second of `SimMarket.advance`.

Default settings (BTC, ETH, SOL, XRP on 15-minute windows, 1 s steps), advanced one step at a
time as the actor does. Run from the checkout: `.venv/bin/python -m bench.sim_market [--day]`.
"""

from __future__ import annotations

import argparse
import time

from bench.common import Report, Row, summarise
from venues.sim import SimMarket, SimSettings

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def measure(simulated_s: int, *, repeats: int) -> tuple[float, int]:
    """Best-of-`repeats` wall time to simulate `simulated_s` seconds, and the events emitted."""
    best = float("inf")
    events = 0
    for _ in range(repeats):
        market = SimMarket(SimSettings(), START)
        started = time.perf_counter()
        for second in range(1, simulated_s + 1):
            market.advance(START + second)
        best = min(best, time.perf_counter() - started)
        events = market.stats.events_total
    return best, events


def run(*, tiny: bool = False) -> Report:
    simulated_s, repeats = (120, 2) if tiny else (3600, 5)
    figures = [measure(simulated_s, repeats=1) for _ in range(repeats)]
    speed = summarise([simulated_s / wall_s for wall_s, _ in figures])
    per_event = summarise([wall_s / events * 1e6 for wall_s, events in figures])
    report = Report(name="sim_market")
    report.add(
        Row(
            benchmark="sim_market",
            case=f"SimMarket.advance alone, 4 assets x 15m, {simulated_s:,} s in 1 s steps",
            figure=f"{speed.text('{:,.0f}')} simulated s per wall s",
            baseline=f"{per_event.text('{:,.1f}')} us per event",
            data={"events": figures[0][1]},
        )
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", action="store_true", help="also simulate 24 hours")
    args = parser.parse_args()
    spans = [("1h", 3600, 3)] + ([("24h", 86_400, 1)] if args.day else [])
    for label, simulated_s, repeats in spans:
        wall_s, events = measure(simulated_s, repeats=repeats)
        print(
            f"sim market, 4 assets x 15m, {label}: {simulated_s / wall_s:,.0f} simulated s per "
            f"wall s ({wall_s:.2f} s wall, {events:,} events, "
            f"{wall_s / events * 1e6:.1f} us per event)"
        )


if __name__ == "__main__":
    main()
