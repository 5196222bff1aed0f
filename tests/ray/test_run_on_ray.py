"""`python run.py --runtime ray` as a user runs it: it starts Ray, trades, and on SIGTERM stops
the actors in reverse order, stops Ray and exits 0, leaving no process of its own behind.

The run is the session's `ray_bot_run` (tests/conftest.py), which invariant 1's Ray scenario
reads too."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(300)]


def test_sigterm_stops_a_ray_run_cleanly_and_leaves_no_ray_process(ray_bot_run) -> None:
    run = ray_bot_run
    assert run.processes_while_running > 5, (
        "Ray's processes (gcs, raylet, one per actor) run under the bot"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (run.summary["runtime"], run.summary["exit_reason"]) == ("ray", "signal SIGTERM")
    assert run.summary["errors"] == 0
    assert run.summary["invariant_violations"] == 0
    assert "lock" not in run.errors_log.lower()
    assert run.survivors == frozenset(), "Ray processes outlived the bot"
