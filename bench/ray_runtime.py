"""Ray vs pykka, measured in one run: actor start time, RSS per actor, ask round trip (p50), and
how many windows Ray sustains at 60x on this machine.

"Sustains" here: a window actor must be running before its window opens, and the market lists
a window `listing_lead_s` (300 simulated s) ahead, which at 60x is 5 real seconds; discovery
starts windows one after another, so Ray sustains `floor(5 s / start time)` windows listed
together (every asset x timeframe opening at the same boundary). The start time is the median
spawn of an actor while the other actors of this run are alive."""

from __future__ import annotations

import math
import os
import statistics
import time
from functools import partial

from bench.common import Report, Row, percentile, rss_mb
from runtime.api import Actor, Runtime
from runtime.clock import RealClock

LISTING_LEAD_REAL_S = 300.0 / 60.0


class Echo(Actor):
    """Answers every ask with what it was sent: the round trip is the runtime's own cost."""

    def receive(self, message: object) -> object:
        return message


def _rss_of(pid: int) -> float:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _measure(runtime: Runtime, count: int, asks: int, prefix: str) -> dict[str, float]:
    starts = []
    refs = []
    for i in range(count):
        began = time.perf_counter()
        refs.append(runtime.spawn(partial(Echo), name=f"{prefix}/{i}"))
        starts.append(time.perf_counter() - began)
    round_trips = []
    for i in range(asks):
        began = time.perf_counter()
        refs[i % count].ask(i, 10.0)
        round_trips.append(time.perf_counter() - began)
    round_trips.sort()
    return {
        "start_s": statistics.median(starts),
        "ask_p50_s": percentile(round_trips, 0.5),
        "ask_p99_s": percentile(round_trips, 0.99),
    }


def run(*, tiny: bool = False) -> Report:
    # Here, not at the top: `python -m bench` imports every benchmark, and Ray is heavy.
    from runtime.pykka_backend import PykkaRuntime  # noqa: PLC0415
    from runtime.ray_backend import RayRuntime, init_ray  # noqa: PLC0415

    count, asks = (3, 50) if tiny else (10, 1000)
    report = Report(name="ray_runtime")

    pykka = PykkaRuntime(RealClock())
    before = rss_mb()
    pykka_figures = _measure(pykka, count, asks, "bench-pykka")
    pykka_rss = (rss_mb() - before) / count
    pykka.shutdown()

    began = time.perf_counter()
    init_ray(namespace="polyactor-bench", include_dashboard=False)
    init_s = time.perf_counter() - began
    ray_runtime = RayRuntime(RealClock(), namespace="polyactor-bench")
    try:
        ray_figures = _measure(ray_runtime, count, asks, "bench-ray")
        pids = [s.pid for s in ray_runtime.summaries()]
        ray_rss = statistics.median(_rss_of(pid) for pid in pids)
    finally:
        ray_runtime.shutdown()

    ratio = ray_figures["start_s"] / pykka_figures["start_s"]
    report.add(
        Row(
            benchmark="ray_runtime",
            case=f"actor start on Ray, median of {count} (a process each)",
            figure=f"{ray_figures['start_s'] * 1000:,.0f} ms",
            baseline=f"pykka {pykka_figures['start_s'] * 1000:,.2f} ms",
            ratio=f"{ratio:,.0f}x",
        )
    )
    report.add(
        Row(
            benchmark="ray_runtime",
            case="RSS per actor on Ray (a worker process)",
            figure=f"{ray_rss:,.0f} MB",
            baseline=f"pykka {pykka_rss * 1000:,.0f} KB (thread)",
        )
    )
    ask_ratio = ray_figures["ask_p50_s"] / pykka_figures["ask_p50_s"]
    report.add(
        Row(
            benchmark="ray_runtime",
            case=f"ask round trip on Ray p50 / p99, {asks} asks",
            figure=f"{ray_figures['ask_p50_s'] * 1000:,.2f} / "
            f"{ray_figures['ask_p99_s'] * 1000:,.1f} ms",
            baseline=f"pykka {pykka_figures['ask_p50_s'] * 1e6:,.0f} / "
            f"{pykka_figures['ask_p99_s'] * 1e6:,.0f} us",
            ratio=f"{ask_ratio:,.0f}x",
        )
    )
    sustained = math.floor(LISTING_LEAD_REAL_S / ray_figures["start_s"])
    report.add(
        Row(
            benchmark="ray_runtime",
            case="windows listed together that Ray starts in time at 60x",
            figure=f"{sustained}",
            baseline=f"lead {LISTING_LEAD_REAL_S:.0f} real s / start {ray_figures['start_s']:.2f} s",
        )
    )
    report.note(
        f"ray.init (local, no dashboard) took {init_s:.1f} s. Load average during the run: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the machine is shared)."
    )
    report.note(
        "Sustained windows is derived from the measured start time; a window's own on_start "
        "(reading its journal stream through the journal actor) adds to it in the real tree."
    )
    return report
