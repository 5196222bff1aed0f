"""Recovery benchmarks (issue 7, item 4) on pykka, with the real journal, gateway, paper
exchange and position supervisor:

- a crashed position actor whose stream holds 1,000 journaled events, from the crash to the
  restarted incarnation answering again (it rebuilds from the journal first); baseline in the
  same run: an actor with nothing to rebuild, crashed under the same supervisor;
- a cold start with 100 open positions (50 windows x UP and DOWN, each holding 20 shares with
  its exit plan resting at the venue): from the first spawn (journal, gateway, positions) to
  every position having verified itself at the venue and every exit plan still resting.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path

from actors.journal import AppendDurable, JournalActor
from actors.messages import GetOpenOrders, Outcome, position_actor, position_id, window_id
from actors.position import GetPosition
from bench.common import Report, Row, summarise
from bench.hot_path import (
    T0,
    Harness,
    TimedVenue,
    spawn_gateway,
    spawn_stand_ins,
    start_position,
    wait_until,
)
from runtime.api import Actor, ActorDead, Ref
from runtime.clock import ManualClock
from runtime.pykka_backend import PykkaRuntime
from state.journal_store import JournalStore
from state.trading_events import SizeCorrected
from supervisors import ChildSpec, Restart, StartChild

D = Decimal


class _Fragile(Actor):
    """The baseline: an actor with nothing to rebuild; "crash" makes it crash."""

    def receive(self, message: object) -> object:
        if message == "crash":
            msg = "benchmark crash"
            raise RuntimeError(msg)
        return "serving"


def _serving_again(rt: PykkaRuntime, name: str, old: Ref, probe: object) -> bool:
    if old.is_alive():
        return False
    try:
        rt.lookup(name).ask(probe, 5.0)
    except ActorDead:
        return False
    return True


def _crash_and_time(rt: PykkaRuntime, name: str, probe: object, crash: object) -> float:
    old = rt.lookup(name)
    rt.lookup(name).ask(probe, 5.0)
    started = time.perf_counter()
    old.tell(crash)
    wait_until(lambda: _serving_again(rt, name, old, probe), 30, f"{name} to serve again")
    return (time.perf_counter() - started) * 1000.0


def crash_recovery_ms(
    directory: Path, events: int, crashes: int
) -> tuple[list[float], list[float]]:
    """Crash the UP position (with `events` journaled) and a bare actor, `crashes` times each."""
    h = Harness(1, directory, supervised=True)
    try:
        window = h.windows[0]
        pid = position_id(window_id(window), Outcome.UP)
        name = position_actor(pid)
        journal = h.rt.lookup("journal")
        # Corrections that change nothing: a stream of the right length the fold really reads.
        padding = [
            SizeCorrected(
                stream_id=name,
                ts=T0 + 70,
                position_id=pid,
                old_size=D(20),
                new_size=D(20),
                reason="benchmark padding",
            )
            for _ in range(events)
        ]
        for first in range(0, events, 500):
            journal.ask(AppendDurable(events=tuple(padding[first : first + 500])), 30.0)
        spec = ChildSpec(id="fragile", start=_Fragile, restart=Restart.PERMANENT)
        h.rt.lookup("positions").ask(StartChild(spec=spec), 30.0)
        position_ms, bare_ms = [], []
        for _ in range(crashes):
            position_ms.append(_crash_and_time(h.rt, name, GetPosition(), "crash"))
            bare_ms.append(_crash_and_time(h.rt, "fragile", "probe", "crash"))
        return position_ms, bare_ms
    finally:
        h.shutdown()


def _all_verified(rt: PykkaRuntime, names: list[str]) -> bool:
    return all(rt.lookup(n).ask(GetPosition(), 5.0).synced_at is not None for n in names)


def cold_start_s(directory: Path, windows: int) -> float:
    """Build `windows` x 2 open positions, stop everything, then start cold on the same journal
    and exchange and time until every position has verified its exit plan at the venue."""
    h = Harness(windows, directory)
    exchange: TimedVenue = h.venue_timed
    path, open_windows = h.path, h.windows
    h.shutdown()
    rt = PykkaRuntime(ManualClock(T0 + 80))
    try:
        started = time.perf_counter()
        rt.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
        venue = spawn_gateway(rt, exchange)
        spawn_stand_ins(rt)
        names = []
        for window in open_windows:
            for outcome in (Outcome.UP, Outcome.DOWN):
                start_position(rt, window, outcome, supervised=False)
                names.append(position_actor(position_id(window_id(window), outcome)))
        wait_until(lambda: _all_verified(rt, names), 120, "every position verified")
        elapsed = time.perf_counter() - started
        exits = [o for o in venue.ask(GetOpenOrders(), 30.0) if o.price == D("0.99")]
        if len(exits) != len(names):
            msg = (
                f"cold start: {len(exits)} exit plans rest at the venue for {len(names)} positions"
            )
            raise RuntimeError(msg)
        return elapsed
    finally:
        rt.shutdown(5.0)


def run(*, tiny: bool = False) -> Report:
    events, crashes, windows, repeats = (50, 2, 2, 2) if tiny else (1_000, 7, 50, 3)
    report = Report(name="recovery")
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-recovery-") as tmp:
        directory = Path(tmp)
        position_ms, bare_ms = crash_recovery_ms(directory, events, crashes)
        crashed, bare = summarise(position_ms), summarise(bare_ms)
        report.add(
            Row(
                benchmark="recovery",
                case=f"crashed position with {events:,} journaled events serving again, ms",
                figure=crashed.text("{:,.1f}"),
                baseline=f"bare actor, same supervisor {bare.text('{:,.1f}')}",
                ratio=f"{crashed.median / bare.median:,.1f}x",
                data={"position_ms": position_ms, "bare_ms": bare_ms},
            )
        )
        cold = summarise([cold_start_s(directory, windows) for _ in range(repeats)])
        report.add(
            Row(
                benchmark="recovery",
                case=f"cold start, {2 * windows} open positions to every exit plan verified, s",
                figure=cold.text("{:,.2f}"),
                data={"cold_s": cold},
            )
        )
    report.note(
        "The 1,000 events are no-op size corrections appended to a real position's stream "
        "(the fold reads every one). A cold start here spawns the positions one after another, "
        "as the window actors would; each reads its stream from the journal."
    )
    return report
