"""Before/after figures of the hot-path fixes (issue 7), in one run: `python -m bench fixes`.

Each fix is one commit, found by its subject. Its parent ("before") and the commit ("after")
are exported with `git archive` under /tmp/polyactor-bench/fixes/, this checkout's bench/ is
copied over both (so both run the same measuring code), and each case runs in a fresh
interpreter in that tree, before and after alternating, so machine noise falls on both sides
alike. Not part of `make bench`: it measures history, not the tree as it is.
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
from pathlib import Path

from bench.common import REPO, Report, Row, percentile, summarise

WORK = Path("/tmp/polyactor-bench/fixes")


@dataclass(frozen=True, slots=True, kw_only=True)
class Fix:
    label: str
    subject: str  # the start of the fix commit's subject line
    case: str  # a function below, run in each tree
    unit: str


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
)


# --- the cases (run inside a tree by `--case`) ---------------------------------------------------


def stop_p50_us(tiny: bool) -> float:
    from bench.hot_path import tick_to_order_us  # noqa: PLC0415 - the tree's own actors

    with tempfile.TemporaryDirectory(prefix="polyactor-bench-fix-") as tmp:
        latencies = tick_to_order_us(2 if tiny else 10, Path(tmp), 1_000.0)
    return percentile(latencies, 0.5)


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


CASES = {
    "stop_p50_us": stop_p50_us,
    "window_start_s": window_start_s,
    "refusal_p50_us": refusal_p50_us,
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


def _measure(tree: Path, case: str, tiny: bool) -> float:
    command = [sys.executable, "-m", "bench.fixes", "--case", case, *(["--tiny"] if tiny else [])]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True, timeout=900)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, tiny: bool = False) -> Report:
    repeats = 1 if tiny else 5
    report = Report(name="fixes")
    for fix in FIXES:
        sha = _git("log", "--format=%H", "-1", "--fixed-strings", f"--grep={fix.subject}")
        if not sha:
            report.note(f"{fix.label}: no commit with subject {fix.subject!r} in this history")
            continue
        before_tree, after_tree = _tree(f"{sha}^"), _tree(sha)
        try:
            before: list[float] = []
            after: list[float] = []
            for _ in range(repeats):
                before.append(_measure(before_tree, fix.case, tiny))
                after.append(_measure(after_tree, fix.case, tiny))
        finally:
            shutil.rmtree(before_tree)
            shutil.rmtree(after_tree)
        was, now = summarise(before), summarise(after)
        fmt = "{:,.2f}" if fix.case.endswith("_s") else "{:,.0f}"
        report.add(
            Row(
                benchmark="fixes",
                case=f"{fix.label}: {fix.unit} (after, commit {sha[:8]})",
                figure=now.text(fmt),
                baseline=f"before {was.text(fmt)}",
                ratio=f"{was.median / now.median:,.1f}x faster" if now.median else "",
                data={"before": before, "after": after, "commit": sha},
            )
        )
    report.note(
        f"Each side is the median (min-max) of {repeats} fresh interpreters, before and after "
        "alternating; both sides run this checkout's bench/ against the fix's parent and the "
        "fix. The machine was shared with other jobs during the run."
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    print(json.dumps(CASES[args.case](args.tiny)))


if __name__ == "__main__":
    main()
