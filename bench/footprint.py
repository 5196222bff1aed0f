"""Footprint benchmark (issue 7, item 6): resident memory and start time of 1,000 and 10,000
real window actors on pykka (a thread each), each rebuilt from the journal in `on_start`.

Every case runs in a fresh interpreter (`python -m bench.footprint --one N`) so one case's
memory does not inflate the next. Baseline in the same run: the same number of bare pykka
actors that do nothing at start, which is the runtime's own cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from functools import partial
from pathlib import Path

from actors.journal import JournalActor
from actors.messages import window_actor, window_id
from actors.window import WindowActor
from bench.common import REPO, Report, Row, rss_mb, summarise
from runtime.api import Actor
from runtime.clock import RealClock
from runtime.pykka_backend import PykkaRuntime
from state.journal_store import JournalStore
from strategy.settings import StrategySettings
from venues.types import ConditionId, MarketWindow, TokenId


def _next_boundary() -> float:
    # Windows in the future of the real clock, so none is force-closed during the measurement.
    return (RealClock().now() // 900 + 2) * 900


# A case that cannot start all its actors in this time reports how many it started instead.
DEADLINE_S = 120.0


class _Idle(Actor):
    """The baseline: a pykka-hosted actor that does nothing."""

    def receive(self, message: object) -> object:
        return None


def _window(i: int, first_start: float) -> MarketWindow:
    start = first_start + 900 * (i // 4)
    asset = ("BTC", "ETH", "SOL", "XRP")[i % 4]
    return MarketWindow(
        asset=asset,
        timeframe_s=900,
        start=start,
        end=start + 900,
        condition_id=ConditionId(f"0xbench{i}"),
        up_token=TokenId(f"up{i}"),
        down_token=TokenId(f"down{i}"),
        slug=f"{asset.lower()}-updown-15m-{int(start)}",
        tick_size=Decimal("0.01"),
    )


def measure_one(count: int, kind: str, deadline_s: float) -> dict[str, float]:
    """Spawn up to `count` actors of `kind` ('window' or 'idle') in this process, stopping at
    `deadline_s`; how many started, the time and the memory they took."""
    runtime = PykkaRuntime(RealClock())
    settings = StrategySettings()
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-footprint-") as tmp:
        path = Path(tmp) / "journal.duckdb"
        try:
            runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
            first_start = _next_boundary()
            before = rss_mb()
            started = time.perf_counter()
            started_count = 0
            for i in range(count):
                if time.perf_counter() - started > deadline_s:
                    break
                started_count += 1
                if kind == "window":
                    window = _window(i, first_start)
                    runtime.spawn(
                        partial(WindowActor, window=window, settings=settings),
                        name=window_actor(window_id(window)),
                    )
                else:
                    runtime.spawn(_Idle, name=f"idle/{i}")
            start_s = time.perf_counter() - started
            grown = rss_mb() - before
            stopping = time.perf_counter()
        finally:
            runtime.shutdown()
        stop_s = time.perf_counter() - stopping
    return {"start_s": start_s, "rss_mb": grown, "stop_s": stop_s, "started": started_count}


def _in_fresh_process(count: int, kind: str, deadline_s: float) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.footprint",
            "--one",
            str(count),
            "--kind",
            kind,
            "--deadline-s",
            str(deadline_s),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(*, tiny: bool = False) -> Report:
    # (actors, runs of window actors, runs of idle ones): 10,000 windows start in minutes, so
    # that case runs once to keep `make bench` under 15 minutes.
    cases = [(20, 1, 1)] if tiny else [(1_000, 3, 3), (10_000, 1, 2)]
    report = Report(name="footprint")
    for count, window_runs, idle_runs in cases:
        figures = {
            kind: [_in_fresh_process(count, kind, DEADLINE_S) for _ in range(runs)]
            for kind, runs in (("window", window_runs), ("idle", idle_runs))
        }
        short = [f for f in figures["window"] if f["started"] < count]
        if short:
            started = int(min(f["started"] for f in short))
            report.add(
                Row(
                    benchmark="footprint",
                    case=f"{count:,} window actors (pykka): started within {DEADLINE_S:.0f} s",
                    figure=f"{started:,} of {count:,}",
                    baseline=f"idle actors, all {count:,}: "
                    f"{summarise([f['start_s'] for f in figures['idle']]).text('{:,.2f}')} s",
                    data={"window": figures["window"], "idle": figures["idle"]},
                )
            )
            continue
        start = summarise([f["start_s"] for f in figures["window"]])
        idle_start = summarise([f["start_s"] for f in figures["idle"]])
        rss = summarise([f["rss_mb"] for f in figures["window"]])
        idle_rss = summarise([f["rss_mb"] for f in figures["idle"]])
        stop = summarise([f["stop_s"] for f in figures["window"]])
        report.add(
            Row(
                benchmark="footprint",
                case=f"{count:,} window actors (pykka, {window_runs} run(s)): start s",
                figure=start.text("{:,.2f}"),
                baseline=f"idle actors {idle_start.text('{:,.2f}')}",
                ratio=f"{start.median / idle_start.median:.2f}x",
                data={"window": figures["window"], "idle": figures["idle"]},
            )
        )
        report.add(
            Row(
                benchmark="footprint",
                case=f"{count:,} window actors (pykka): RSS growth MB",
                figure=f"{rss.text('{:,.0f}')} ({rss.median * 1000 / count:.1f} KB each)",
                baseline=f"idle actors {idle_rss.text('{:,.0f}')}",
                ratio=f"{rss.median / idle_rss.median:.2f}x",
            )
        )
        report.add(
            Row(
                benchmark="footprint",
                case=f"{count:,} window actors (pykka): stop all, s",
                figure=stop.text("{:,.2f}"),
            )
        )
    report.note(
        "Start time includes each window's on_start: it asks the journal for its stream (a new "
        "window's stream has no events, which the journal answers without a commit or a query) "
        "and tells it WindowDiscovered. pykka runs a thread per actor; this machine caps a "
        "process near 20k threads."
    )
    report.note("Ray per-actor footprint: bench/ray_runtime.py (its own benchmark, when present).")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", type=int, help="measure one case in this process")
    parser.add_argument("--kind", choices=("window", "idle"), default="window")
    parser.add_argument("--deadline-s", type=float, default=DEADLINE_S)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.kind, args.deadline_s)))
    else:
        run().write_json()


if __name__ == "__main__":
    main()
