"""`python run.py --runtime ray` as a user runs it: it starts Ray, trades, and on SIGTERM stops
the actors in reverse order, stops Ray and exits 0, leaving no process of its own behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import run
from tests.ray.processes import alive_among, descendants

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(240)]


def test_sigterm_stops_a_ray_run_cleanly_and_leaves_no_ray_process(tmp_path: Path) -> None:
    bot = subprocess.Popen(
        [
            sys.executable,
            str(Path(run.__file__)),
            "--runtime",
            "ray",
            "--speed",
            "60",
            "--summary-json",
            "s.json",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "logs" / "polyactor.log"
    try:
        deadline = time.monotonic() + 150.0
        while not (log.exists() and "polyactor started" in log.read_text()):
            assert bot.poll() is None, bot.stderr.read() if bot.stderr else ""
            assert time.monotonic() < deadline, "the tree did not start on Ray in 150 s"
            time.sleep(0.5)
        time.sleep(5.0)  # five simulated minutes of running
        ours = descendants(bot.pid)
        assert len(ours) > 5, "Ray's processes (gcs, raylet, one per actor) run under the bot"

        bot.send_signal(signal.SIGTERM)
        _, stderr = bot.communicate(timeout=120)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()

    assert bot.returncode == 0, stderr[-3000:]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["runtime"], summary["exit_reason"]) == ("ray", "signal SIGTERM")
    assert summary["errors"] == 0
    assert summary["invariant_violations"] == 0
    assert "lock" not in (tmp_path / "logs" / "errors.log").read_text().lower()

    deadline = time.monotonic() + 30.0
    while alive_among(ours) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alive_among(ours) == set(), "Ray processes outlived the bot"
