"""run.py end to end: a short paper run, check-config, report, signals, hot reload, give-up."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import run
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from supervisors import ChildSpec, Flags, Supervisor
from tests.waiting import wait_for

RUN = Path(run.__file__)
pytestmark = pytest.mark.integration


def run_py(*args: str, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_short_paper_run_exits_zero_and_writes_the_summary(tmp_path):
    done = run_py("--duration", "5s", "--speed", "20", "--summary-json", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert {
        "mode",
        "runtime",
        "wall_seconds",
        "sim_seconds",
        "actors_started",
        "restarts",
        "events_journaled",
        "errors",
    } <= summary.keys()
    assert summary["mode"] == "paper"
    assert summary["runtime"] == "pykka"
    assert summary["sim_seconds"] >= 5.0
    assert summary["wall_seconds"] < 5.0  # 20x faster than real time
    assert summary["actors_started"] >= 3
    assert summary["restarts"] == 0
    assert summary["errors"] == 0
    assert summary["events_journaled"] >= 3
    report = run_py("report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "RunStarted" in report.stdout
    assert "RunStopped" in report.stdout


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("risk:\n  max_positon_pct: 10\n", "risk.max_positon_pct"),
        ("journal:\n  batch_size: lots\n", "journal.batch_size"),
        ("risk:\n  degraded_drawdown_pct: 20\n  halt_drawdown_pct: 10\n", "halt_drawdown_pct"),
        ("live:\n  private_key: '0xabc123def456'\n", "live.private_key"),
    ],
    ids=["misspelled key", "wrong type", "inverted threshold", "secret"],
)
def test_check_config_exits_2_and_names_the_key(tmp_path, yaml_text, named):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)
    done = run_py("check-config", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert named in done.stderr
    assert "0xabc123def456" not in done.stderr + done.stdout


def test_check_config_exits_0_for_the_shipped_default(tmp_path):
    done = run_py("check-config", str(run.DEFAULT_CONFIG), cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_bad_config_stops_the_bot_before_anything_starts(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("speed: -3\n")
    done = run_py("--config", str(bad), "--duration", "1s", cwd=tmp_path)
    assert done.returncode == 2
    assert "speed" in done.stderr
    assert not (tmp_path / "data").exists()


def test_sigterm_stops_the_tree_flushes_the_journal_and_exits_zero(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(RUN), "--summary-json", "s.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(
            lambda: "polyactor started" in read(tmp_path / "logs" / "polyactor.log"), timeout_s=20
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exit_reason"] == "signal SIGTERM"
    report = run_py("report", cwd=tmp_path)
    assert "RunStopped" in report.stdout


def test_editing_the_yaml_of_a_running_bot_reaches_a_subscribed_actor_within_2s(tmp_path):
    config = tmp_path / "bot.yaml"
    config.write_text("status_interval_s: 600\n")
    proc = subprocess.Popen(
        [sys.executable, str(RUN), "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "logs" / "polyactor.log"
    try:
        assert wait_for(lambda: "polyactor started" in read(log), timeout_s=20)
        config.write_text("status_interval_s: 0.5\njournal:\n  batch_size: 7\n")
        edited = time.monotonic()
        assert wait_for(lambda: "status interval 600.0s -> 0.5s" in read(log), timeout_s=2.0)
        assert time.monotonic() - edited < 2.0
        # journal.batch_size needs a restart: the bot says so.
        assert wait_for(lambda: "journal.batch_size" in read(log), timeout_s=2.0)
        # The new interval is in force.
        assert wait_for(lambda: " status " in read(log), timeout_s=5.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_root_supervisor_giving_up_is_exit_code_1():
    class Crasher(Actor):
        def on_start(self) -> None:
            self.ctx.self_ref.tell("crash")

        def receive(self, message: object) -> object:
            raise ValueError(message)

    rt = DeterministicRuntime(ManualClock())
    root = rt.spawn(
        lambda: Supervisor(Flags(intensity=0), (ChildSpec(id="c", start=Crasher),), watchdog_s=0),
        name="root",
    )
    rt.run_until_idle()
    assert run.supervise(root, rt.clock, None, run.StopRequest(), started_at=0.0) == (
        1,
        "the supervision tree gave up",
    )


def test_the_duration_ends_a_run_cleanly():
    rt = DeterministicRuntime(ManualClock())
    root = rt.spawn(lambda: Supervisor(Flags(), (), watchdog_s=0), name="root")
    started_at = rt.clock.now()
    rt.clock.advance(5)
    assert run.supervise(root, rt.clock, 5.0, run.StopRequest(), started_at=started_at) == (
        0,
        "duration reached",
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("5s", 5.0),
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
    ],
)
def test_durations_parse(text, seconds):
    assert run.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "h", "5s3"])
def test_bad_durations_are_refused_by_name(text):
    with pytest.raises(Exception, match="invalid duration"):
        run.parse_duration(text)


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@dataclass(frozen=True)
class PaperRun:
    cwd: Path
    done: subprocess.CompletedProcess[str]
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def two_hours_of_paper_trading(tmp_path_factory: pytest.TempPathFactory) -> PaperRun:
    """One real two-hour paper run at 400x (about 20 s) that several tests read."""
    cwd = tmp_path_factory.mktemp("two-hours")
    done = run_py(
        "--duration", "2h", "--speed", "400", "--summary-json", "s.json", cwd=cwd, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return PaperRun(cwd, done, json.loads((cwd / "s.json").read_text()))


@pytest.mark.slow
def test_two_hours_of_the_simulated_market_run_across_every_default_asset(
    two_hours_of_paper_trading,
):
    done, summary = two_hours_of_paper_trading.done, two_hours_of_paper_trading.summary
    # 4 assets x 15-minute windows: 8 or 9 windows each begin within two hours, besides the one
    # open at the start, and windows are listed 5 minutes ahead of their start. The simulated
    # span also holds the tree's start-up (a few simulated minutes at 400x, more under load).
    quarters = math.ceil(summary["sim_seconds"] / 900)
    assert 32 <= summary["windows_opened"] <= 4 * (quarters + 1)
    assert summary["windows_listed"] >= summary["windows_opened"]
    assert 28 <= summary["windows_resolved"] <= summary["windows_opened"]
    assert summary["market_events"] > 20_000
    assert summary["errors"] == 0
    assert summary["restarts"] == 0
    assert "status " in done.stdout


def test_a_new_paper_run_moves_the_previous_runs_journal_aside(tmp_path):
    journal = tmp_path / "journal.duckdb"
    journal.write_text("previous run")
    (tmp_path / "journal.duckdb.wal").write_text("wal")
    moved = run.archive_paper_journal(journal, tmp_path / "runs")
    assert moved is not None
    assert moved.parent == tmp_path / "runs"
    assert moved.read_text() == "previous run"
    assert moved.with_name(moved.name + ".wal").read_text() == "wal"
    assert not journal.exists()
    journal.write_text("second run")
    second = run.archive_paper_journal(journal, tmp_path / "runs")
    assert second != moved
    assert run.archive_paper_journal(journal, tmp_path / "runs") is None


@pytest.mark.slow
def test_two_hours_of_paper_trading_ends_clean_and_report_agrees_with_the_summary(
    two_hours_of_paper_trading,
):
    tmp_path = two_hours_of_paper_trading.cwd
    done, summary = two_hours_of_paper_trading.done, two_hours_of_paper_trading.summary
    assert summary["invariant_violations"] == 0
    assert summary["errors"] == 0
    assert summary["positions_opened"] > 0
    assert summary["positions_settled"] > 0
    assert "realized P&L" in done.stdout  # the human-readable summary at the end

    from state.journal_store import JournalStore

    with JournalStore(tmp_path / "data" / "journal.duckdb", read_only=True) as store:
        traded = store.query(
            "SELECT split_part(payload->>'window_id', '-', 1), "
            "count(DISTINCT payload->>'window_id') FROM events WHERE type = 'EntryDecided' "
            "GROUP BY 1"
        )
    # Which windows trade depends on the market path (the wall-clock start) and, at 400x on a
    # busy machine, on how late window actors come up; the per-asset requirement is checked on
    # a fixed world in tests/integration/test_paper_trading.py.
    assert traded

    report = run_py("report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    reported = {}
    for line in report.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in summary:
            reported[parts[0]] = parts[1]
    trading_keys = (
        "windows_seen",
        "windows_traded",
        "orders_placed",
        "orders_rejected",
        "fills",
        "positions_opened",
        "positions_settled",
        "reversals",
        "stop_losses",
        "scale_ins",
        "realized_pnl",
        "fees_paid",
        "risk_refusals",
        "invariant_violations",
    )
    assert set(reported) >= set(trading_keys)
    for key in trading_keys:
        assert float(reported[key]) == pytest.approx(summary[key]), key


@pytest.mark.timeout(20)
def test_a_stop_requested_from_a_signal_handler_always_ends_the_main_loop():
    # Regression: the handler used to call Event.set() while the main thread could be inside
    # Event.wait() holding the Event's lock, and a SIGTERM then hung the bot forever.
    import signal as signals

    rt = DeterministicRuntime(ManualClock())
    root = rt.spawn(lambda: Supervisor(Flags(), (), watchdog_s=0), name="root")
    stop = run.StopRequest()
    fired = 0

    def handler(signum, frame):
        nonlocal fired
        fired += 1
        if fired == 50:
            stop.request("signal SIGALRM")

    previous = signals.signal(signals.SIGALRM, handler)
    signals.setitimer(signals.ITIMER_REAL, 0.001, 0.001)
    try:
        outcome = run.supervise(root, rt.clock, None, stop, started_at=0.0)
    finally:
        signals.setitimer(signals.ITIMER_REAL, 0)
        signals.signal(signals.SIGALRM, previous)
    assert outcome == (0, "signal SIGALRM")


FIXTURE_FRAMES = (
    Path(run.__file__).resolve().parent.parent / "shared/fixtures/polymarket/ws_messages"
)


@pytest.mark.skipif(not FIXTURE_FRAMES.is_dir(), reason="the shared fixtures folder is absent")
def test_replay_of_the_recorded_websocket_frames_rejects_none(tmp_path):
    done = run_py("replay", "--feed", str(FIXTURE_FRAMES), "--summary-json", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["frames"] == 36
    assert summary["events"] >= 36
    assert summary["rejected_frames"] == 0


def test_replay_of_a_missing_feed_exits_2(tmp_path):
    done = run_py("replay", "--feed", str(tmp_path / "nothing.jsonl"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no feed" in done.stderr


def test_the_sandbox_serves_polymarket_paths_on_localhost_until_sigterm(tmp_path):
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, str(RUN), "sandbox"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("sandbox CLOB http://127.0.0.1:"), line
        url = line.split()[-1]
        with urllib.request.urlopen(f"{url}/time", timeout=5) as answer:
            assert int(answer.read()) > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
