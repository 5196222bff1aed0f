"""Before/after figures of the hot-path fixes (issue 7), in one run: `python -m bench fixes`.

Each fix is one commit, found by its subject. Its parent ("before") and the commit ("after")
are exported with `git archive` under /tmp/polyactor-bench/fixes/, this checkout's bench/ is
copied over both (so both run the same measuring code), and each case runs in a fresh
interpreter in that tree, before and after alternating, so machine noise falls on both sides
alike. Not part of `make bench`: it measures history, not the tree as it is.

`python -m bench.fixes --only "(d)" "(e)"` measures some fixes and keeps the other rows from
their last run (each fix's run takes minutes; the 1,000-window one about an hour).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import REPO, Report, Row, load_reports, percentile, summarise, write_markdown

WORK = Path("/tmp/polyactor-bench/fixes")
REQUESTERS = 100  # concurrent durable requesters in the group-commit case


@dataclass(frozen=True, slots=True, kw_only=True)
class Fix:
    label: str
    subject: str  # the start of the fix commit's subject line
    case: str  # a function below, run in each tree
    unit: str
    figure: str = ""  # the case returns several figures by name: this one ("" = one number)
    repeats: int = 5  # fresh interpreters per side
    higher_is_better: bool = False
    # A fix made of several commits: "before" is the parent of the one with this subject,
    # "after" the one with `subject` ("" = a one-commit fix).
    first_subject: str = ""


FIXES = (
    Fix(
        label="(a) stop path: one commit before the sell instead of three",
        subject="Position journals a message's facts in one commit",
        case="stop_p50_us",
        unit="tick-to-stop-order p50 us, 10 windows x 2 positions",
    ),
    Fix(
        label="(b) window start: a stream with no events read without a commit",
        subject="Journal answers a read of a stream with no events",
        case="window_start_s",
        unit="start of 1,000 window actors, s",
    ),
    Fix(
        label="(c) risk refusal answered before it is journaled",
        subject="Risk answers a refusal before journaling it",
        case="refusal_p50_us",
        unit="Reserve refused, ask round trip p50 us",
    ),
    Fix(
        label="(d) journal group commit: durable appends queued together share one commit",
        subject="Journal group commit",
        case="durable_per_s",
        unit=f"durable appends/s, {REQUESTERS} concurrent requesters",
        higher_is_better=True,
    ),
    Fix(
        label="(d) journal group commit",
        subject="Journal group commit",
        case="stop_p50_us",
        unit="tick-to-stop-order p50 us, 10 windows x 2 positions",
    ),
    Fix(
        label="(d) journal group commit",
        subject="Journal group commit",
        case="hot_path_1000",
        figure="p50_us",
        unit="tick-to-stop-order p50 us, 1,000 windows x 2 positions, every 10th token",
        repeats=3,  # minutes per run before the fix
    ),
    Fix(
        label="(d) journal group commit",
        subject="Journal group commit",
        case="hot_path_1000",
        figure="max_durable_wait_s",
        unit="longest durable append a position waited for, 1,000-window harness, s",
        repeats=3,
    ),
    Fix(
        label="(d) journal group commit",
        subject="Journal group commit",
        case="hot_path_1000",
        figure="build_s",
        unit="1,000-window harness built (2,000 positions filled, exit plans resting), s",
        repeats=3,
    ),
    Fix(
        label="(e) a stream read commits only that stream's buffered events",
        subject="Journal reads commit only the read stream",
        case="window_restart_s",
        unit="start of 1,000 window actors, every other one with journaled history, s",
    ),
    Fix(
        label="(f) one DuckDB call per commit, not three (each gives up the GIL)",
        subject="Journal store commits with one DuckDB call",
        case="stop_p50_us",
        unit="tick-to-stop-order p50 us, 10 windows x 2 positions",
    ),
    Fix(
        label="(f) one DuckDB call per commit",
        subject="Journal store commits with one DuckDB call",
        case="durable_p50_us",
        unit="durable append of one event, ask round trip p50 us, no other load",
    ),
    Fix(
        label="(g) periodic journal readers read what is new (monitor, risk, reconciliation)",
        first_subject="The monitor runs an invariant check only when",
        subject="Reconciliation reads its view of our positions again only when",
        case="tree_sim_s_per_wall_s",
        unit="whole-tree replay, simulated s per wall s (one simulated hour)",
        higher_is_better=True,
    ),
    Fix(
        label="(h) paper exchange: active orders indexed by token",
        subject="The paper exchange indexes active orders by token",
        case="hot_path_1000",
        figure="p50_us",
        unit="tick-to-stop-order p50 us, 1,000 windows x 2 positions, every 10th token",
        repeats=3,
    ),
)


# --- the cases (run inside a tree by `--case`) ---------------------------------------------------


def stop_p50_us(tiny: bool, windows: int = 10) -> float:
    from bench.hot_path import tick_to_order_us  # noqa: PLC0415 - the tree's own actors

    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        latencies = tick_to_order_us(2 if tiny else windows, Path(tmp), 1_000.0)
    return percentile(latencies, 0.5)


def hot_path_1000(tiny: bool) -> dict[str, float]:
    """The 1,000-window harness as make bench builds it: how long it takes, the longest a
    position waited for a durable append meanwhile, and the stop latency of every tenth token.
    Both trees run with 120 s ask timeouts: before the group commit some waits passed the
    default 10 s, and those positions gave up."""
    import actors.position as position_module  # noqa: PLC0415
    from bench import hot_path  # noqa: PLC0415
    from state.position import PositionSettings  # noqa: PLC0415

    hot_path.POSITION_SETTINGS = PositionSettings(venue_timeout_s=120.0)
    waits: list[float] = []
    # A stopwatch around the position's durable commit (the one place it waits on the journal).
    commit = position_module.PositionActor._commit  # noqa: SLF001

    def timed_commit(self: position_module.PositionActor) -> None:
        started = time.perf_counter()
        try:
            commit(self)
        finally:
            waits.append(time.perf_counter() - started)

    position_module.PositionActor._commit = timed_commit  # type: ignore[method-assign]  # noqa: SLF001
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        started = time.perf_counter()
        h = hot_path.Harness(2 if tiny else 1_000, Path(tmp))
        build_s = time.perf_counter() - started
        try:
            latencies = hot_path.stop_latencies_us(h, hot_path.held_tokens(h)[::10], 1_000.0)
        finally:
            h.shutdown()
    return {
        "p50_us": percentile(latencies, 0.5),
        "max_durable_wait_s": max(waits),
        "build_s": build_s,
    }


def durable_per_s(tiny: bool) -> float:
    from bench.journal import concurrent_durable  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        per_s, _ = concurrent_durable(
            Path(tmp), 10 if tiny else REQUESTERS, 200 if tiny else 2_000, 0
        )
    return per_s


def durable_p50_us(tiny: bool) -> float:
    from bench.journal import durable_latencies_us  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        return percentile(durable_latencies_us(Path(tmp), 50 if tiny else 500, 0), 0.5)


def window_restart_s(tiny: bool) -> float:
    """Windows started one after another, as after a restart with new windows listed among
    the known ones: each new one tells its discovery, each known one reads its history."""
    from actors.journal import JournalActor  # noqa: PLC0415
    from actors.messages import window_actor, window_id  # noqa: PLC0415
    from actors.window import WindowActor  # noqa: PLC0415
    from bench.footprint import _next_boundary, _window  # noqa: PLC0415
    from runtime.clock import RealClock  # noqa: PLC0415
    from runtime.pykka_backend import PykkaRuntime  # noqa: PLC0415
    from state.journal_store import JournalStore  # noqa: PLC0415
    from state.window import discovered, initial_state  # noqa: PLC0415
    from strategy.settings import StrategySettings  # noqa: PLC0415

    first = _next_boundary()
    windows = [_window(i, first) for i in range(40 if tiny else 1_000)]
    settings = StrategySettings()
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        path = Path(tmp) / "journal.duckdb"
        with JournalStore(path) as store:
            known = [discovered(initial_state(w), first - 60) for w in windows[1::2]]
            store.append_batch([fact for fact in known if fact is not None])
        runtime = PykkaRuntime(RealClock())
        try:
            runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
            started = time.perf_counter()
            for window in windows:
                runtime.spawn(
                    partial(WindowActor, window=window, settings=settings),
                    name=window_actor(window_id(window)),
                )
            return time.perf_counter() - started
        finally:
            runtime.shutdown()


def window_start_s(tiny: bool) -> float:
    from bench.footprint import measure_one  # noqa: PLC0415

    return measure_one(20 if tiny else 1_000, "window", 120.0)["start_s"]


def refusal_p50_us(tiny: bool) -> float:
    from actors.journal import JournalActor  # noqa: PLC0415
    from actors.messages import Granted, Refused, Reserve  # noqa: PLC0415
    from actors.risk import RiskActor  # noqa: PLC0415
    from config.settings import RiskSettings  # noqa: PLC0415
    from runtime.clock import RealClock  # noqa: PLC0415
    from runtime.pykka_backend import PykkaRuntime  # noqa: PLC0415
    from state.journal_store import JournalStore  # noqa: PLC0415

    settings = RiskSettings.model_validate(
        {"daily_loss_limit_pct": Decimal(90), "halt_drawdown_pct": Decimal(95)}
    )

    def reserve(purpose: str, amount: str) -> Reserve:
        return Reserve(
            owner="W1/UP",
            window_id="W1",
            asset="BTC",
            amount=Decimal(amount),
            purpose=purpose,
            timestamp=0.0,
        )

    runtime = PykkaRuntime(RealClock())
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        path = Path(tmp) / "journal.duckdb"
        try:
            runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
            risk = runtime.spawn(
                lambda: RiskActor(
                    settings, starting_collateral=Decimal(100), balance_poll_interval_s=None
                ),
                name="risk",
            )
            assert isinstance(risk.ask(reserve("entry", "40"), 10.0), Granted)
            latencies = []
            for _ in range(50 if tiny else 1_000):
                sent = time.perf_counter()
                reply = risk.ask(reserve("scalein", "5"), 10.0)  # over the position cap
                latencies.append((time.perf_counter() - sent) * 1e6)
                assert isinstance(reply, Refused), reply
        finally:
            runtime.shutdown()
    return percentile(sorted(latencies), 0.5)


def tree_sim_s_per_wall_s(tiny: bool) -> float:
    from bench.replay import tree_replay  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        return tree_replay(Path(tmp), 3 if tiny else 60).sim_s_per_wall_s


CASES = {
    "tree_sim_s_per_wall_s": tree_sim_s_per_wall_s,
    "stop_p50_us": stop_p50_us,
    "hot_path_1000": hot_path_1000,
    "window_start_s": window_start_s,
    "refusal_p50_us": refusal_p50_us,
    "durable_per_s": durable_per_s,
    "durable_p50_us": durable_p50_us,
    "window_restart_s": window_restart_s,
}


# --- the comparison ------------------------------------------------------------------------------


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _tree(revision: str) -> Path:
    """The revision's files with this checkout's bench/ over them."""
    sha = _git("rev-parse", revision)
    tree = WORK / sha[:12]
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", sha], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.rmtree(tree / "bench")
    shutil.copytree(REPO / "bench", tree / "bench", ignore=shutil.ignore_patterns("results"))
    return tree


class CaseFailed(Exception):
    """A case's interpreter exited with an error (its last lines say which)."""


def _measure(tree: Path, case: str, tiny: bool) -> float | dict[str, float]:
    command = [sys.executable, "-m", "bench.fixes", "--case", case, *(["--tiny"] if tiny else [])]
    out = subprocess.run(
        command, cwd=tree, capture_output=True, text=True, timeout=900, check=False
    )
    if out.returncode != 0:
        last = " | ".join(out.stderr.strip().splitlines()[-3:])
        msg = f"{case} in {tree.name} exited {out.returncode}: {last}"
        raise CaseFailed(msg)
    figures: float | dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def run(*, tiny: bool = False, only: tuple[str, ...] = ()) -> Report:
    """Every fix, or those whose label starts with one of `only` (e.g. "(d)")."""
    report = Report(name="fixes")
    # A case returning several figures runs once per repeat for all of its rows.
    runs: dict[tuple[str, str], tuple[list[Any], list[Any], list[str]]] = {}
    for fix in FIXES:
        if only and not fix.label.startswith(only):
            continue
        repeats = 1 if tiny else fix.repeats
        sha = _git("log", "--format=%H", "-1", "--fixed-strings", f"--grep={fix.subject}")
        if not sha:
            report.note(f"{fix.label}: no commit with subject {fix.subject!r} in this history")
            continue
        before_sha = f"{sha}^"
        if fix.first_subject:
            first = _git(
                "log", "--format=%H", "-1", "--fixed-strings", f"--grep={fix.first_subject}"
            )
            if not first:
                report.note(f"{fix.label}: no commit with subject {fix.first_subject!r}")
                continue
            before_sha = f"{first}^"
        if (sha, fix.case) not in runs:
            runs[sha, fix.case] = _before_and_after(before_sha, sha, fix.case, repeats, tiny)
            for failure in runs[sha, fix.case][2]:
                report.note(f"{fix.label}: a run failed and is left out: {failure}")
        measured_before, measured_after, _ = runs[sha, fix.case]
        if not measured_before or not measured_after:
            continue
        before = [m[fix.figure] if fix.figure else m for m in measured_before]
        after = [m[fix.figure] if fix.figure else m for m in measured_after]
        was, now = summarise(before), summarise(after)
        is_seconds = (fix.figure or fix.case).endswith("_s") and not fix.higher_is_better
        fmt = "{:,.2f}" if is_seconds else "{:,.0f}"
        better = now.median / was.median if fix.higher_is_better else was.median / now.median
        report.add(
            Row(
                benchmark="fixes",
                case=f"{fix.label}: {fix.unit} (after, commit {sha[:8]})",
                figure=now.text(fmt),
                baseline=f"before {was.text(fmt)}",
                ratio=f"{better:,.1f}x {'more' if fix.higher_is_better else 'faster'}",
                data={"before": before, "after": after, "commit": sha, "repeats": repeats},
            )
        )
    report.note(
        "Each side is the median (min-max) of several fresh interpreters (5, or 3 for the "
        "1,000-window case), before and after alternating; both sides run this checkout's "
        "bench/ against the fix's parent and the fix. The machine was shared with other jobs "
        "during the run."
    )
    report.note(
        "The 1,000-window case runs both trees with 120 s ask timeouts: before the group "
        "commit some durable waits passed the default 10 s (its longest-wait row), and a "
        "position whose wait passes its timeout gives up and crashes."
    )
    return report


def _before_and_after(
    before_sha: str, sha: str, case: str, repeats: int, tiny: bool
) -> tuple[list[Any], list[Any], list[str]]:
    """Each side's figures, alternating, and what failed (a failed run is no figure, but a
    tree that cannot run the case is a finding)."""
    before_tree, after_tree = _tree(before_sha), _tree(sha)
    before: list[Any] = []
    after: list[Any] = []
    failures: list[str] = []
    try:
        for _ in range(repeats):
            for tree, figures in ((before_tree, before), (after_tree, after)):
                try:
                    figures.append(_measure(tree, case, tiny))
                except CaseFailed as e:
                    side = "before" if tree is before_tree else "after"
                    failures.append(f"{side}: {e}")
    finally:
        shutil.rmtree(before_tree)
        shutil.rmtree(after_tree)
    return before, after, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--only", nargs="*", default=(), help='fix labels, e.g. "(d)"')
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](args.tiny)))
        return
    # Some fixes only (`--only "(d)"`): the rows of the others are kept from their last run.
    started = time.perf_counter()
    report = run(tiny=args.tiny, only=tuple(args.only))
    report.took_s = time.perf_counter() - started
    if args.tiny:
        return
    measured = {_fix_of(row) for row in report.rows}
    for previous in load_reports():
        if previous.name != "fixes":
            continue
        kept = [row for row in previous.rows if _fix_of(row) not in measured]
        report.rows[:0] = kept
        if kept:
            labels = ", ".join(sorted({_fix_of(row).split(" ")[0] for row in kept}))
            report.note(f"Rows {labels} are kept from the run of {previous.measured_at}.")
    report.write_json()
    from bench.__main__ import ON_REQUEST, ORDER  # noqa: PLC0415 - only this entry point needs it

    print(f"wrote {write_markdown(load_reports(order=[*ORDER, *ON_REQUEST]))}")


def _fix_of(row: Row) -> str:
    """A row's fix and measure, without the commit it was measured at."""
    return row.case.split(" (after, commit")[0]


if __name__ == "__main__":
    main()
