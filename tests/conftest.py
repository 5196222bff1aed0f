"""What several test packages share: one local Ray cluster for every in-process Ray test, and
one real `run.py --runtime ray` run that both the invariant scenarios and the Ray tests read.

`ray.init` costs 10-40 s on a busy 2-core machine; once per test module it was the largest
single cost of the suite. Tests that need a cluster of their own (run.py as a subprocess)
still start one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHARED_RAY_NAMESPACE = "polyactor-test"


class SharedRay:
    """The session's local Ray cluster, started by the first test that asks for it.

    Runtimes on it are made with `connect=False`, so their `shutdown` stops their own actors
    and leaves the cluster up for the next module. A test that stops Ray itself is marked
    `stops_ray`; it runs after the last test using the cluster, and should another need it
    after all, `ensure` starts a new one."""

    def ensure(self) -> None:
        from runtime.ray_backend import init_ray

        init_ray(namespace=SHARED_RAY_NAMESPACE)  # a no-op while this process is connected


@pytest.fixture(scope="session")
def shared_ray() -> Iterator[SharedRay]:
    ray = pytest.importorskip("ray")
    cluster = SharedRay()
    cluster.ensure()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `stops_ray` run right after the last test that uses the shared cluster,
    so it is started once rather than once more after them."""
    stoppers = [item for item in items if item.get_closest_marker("stops_ray")]
    if not stoppers:
        return
    rest = [item for item in items if not item.get_closest_marker("stops_ray")]
    users = [n for n, item in enumerate(rest) if "shared_ray" in getattr(item, "fixturenames", ())]
    cut = users[-1] + 1 if users else len(rest)
    items[:] = [*rest[:cut], *stoppers, *rest[cut:]]


@dataclass(frozen=True)
class RayBotRun:
    """What a `python run.py --runtime ray` run, stopped by SIGTERM, left behind."""

    returncode: int
    stderr: str
    summary: dict[str, Any]
    errors_log: str
    sim_seconds_running: float  # simulated time between "polyactor started" and the SIGTERM
    processes_while_running: int  # the bot's descendants (gcs, raylet, one per actor, ...)
    survivors: frozenset[int]  # those still alive 30 s after the bot exited


SPEED = 60.0
RUNNING_S = 10.0  # ten simulated minutes at 60x: every actor writes to the journal meanwhile


@pytest.fixture(scope="session")
def ray_bot_run(tmp_path_factory: pytest.TempPathFactory) -> RayBotRun:
    """One real Ray run for the session (a Ray run costs 30-70 s): it starts Ray and the whole
    tree, trades ten simulated minutes, and is stopped by SIGTERM."""
    pytest.importorskip("ray")
    import run
    from tests.ray.processes import alive_among, descendants

    cwd = tmp_path_factory.mktemp("ray-bot")
    bot = subprocess.Popen(
        [
            sys.executable,
            str(Path(run.__file__)),
            "--runtime",
            "ray",
            "--speed",
            str(SPEED),
            "--summary-json",
            "s.json",
        ],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = cwd / "logs" / "polyactor.log"
    try:
        deadline = time.monotonic() + 150.0
        while not (log.exists() and "polyactor started" in log.read_text()):
            assert bot.poll() is None, bot.stderr.read() if bot.stderr else ""
            assert time.monotonic() < deadline, "the tree did not start on Ray in 150 s"
            time.sleep(0.2)
        started = time.monotonic()
        time.sleep(RUNNING_S)
        ours = descendants(bot.pid)
        running_s = time.monotonic() - started
        bot.send_signal(signal.SIGTERM)
        _, stderr = bot.communicate(timeout=120)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    deadline = time.monotonic() + 30.0
    while alive_among(ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    summary_path = cwd / "s.json"
    return RayBotRun(
        returncode=bot.returncode,
        stderr=stderr,
        summary=json.loads(read_if_there(summary_path) or "{}"),
        errors_log=read_if_there(cwd / "logs" / "errors.log"),
        sim_seconds_running=running_s * SPEED,
        processes_while_running=len(ours),
        survivors=frozenset(alive_among(ours)),
    )


def read_if_there(path: Path) -> str:
    return path.read_text() if path.exists() else ""
