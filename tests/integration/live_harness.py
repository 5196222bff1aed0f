"""Running the real bot (`python run.py --mode live`) as a separate process against a sandbox
served from the test process: the real py-clob-client-v2, real websockets, real signals.

The sandbox runs its market `SPEED` times faster than real time (unless a test asks for another
speed) and the bot follows its clock (`run.py` reads the venue's time), so a 15-minute window
takes 15 s of the test.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_account import Account

from run import sandbox_live_config
from runtime.clock import SimulatedClock
from venues.paper.settings import PaperSettings
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sandbox.auth import ApiCredentials
from venues.sandbox.state import SandboxState

ROOT = Path(__file__).resolve().parents[2]
SPEED = 60.0
# How long after the bot logs in a window opens, for `sandbox(first_open_s=...)`: 3 real
# seconds at SPEED, for what is left of a start-up after the login (the tree, the feeds: 0.4 s,
# on a quiet machine as with three busy processes on its two cores). A bot that is not up by
# then trades from the next round of windows, 15 s later.
FIRST_OPEN_S = 180.0
# The speed of a sandbox's clock that waits for the bot to log in: standing all but still.
WAITING_SPEED = 1e-6


@dataclass(frozen=True, slots=True)
class LiveBot:
    config: Path
    data_dir: Path
    log_dir: Path
    summary: Path
    env: dict[str, str]
    private_key: str

    def command(self, duration: str) -> list[str]:
        return [
            sys.executable,
            str(ROOT / "run.py"),
            "--config",
            str(self.config),
            "--duration",
            duration,
            "--summary-json",
            str(self.summary),
        ]

    def run(self, duration: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(duration),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self, duration: str) -> BotProcess:
        started = len(list(self.summary.parent.glob("output-*.txt")))
        output = self.summary.parent / f"output-{started + 1}.txt"
        return BotProcess(self.command(duration), self.env, output)

    def summary_json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.summary.read_text())
        return result


def live_bot(server: SandboxServer, tmp_path: Path, **live_changes: Any) -> LiveBot:
    """A live config for `server` under `tmp_path` (at the sandbox's speed), and a fresh wallet
    key in the environment."""
    config = yaml.safe_load(sandbox_live_config(server, server.state.settings.speed))
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    config["data_dir"] = str(data_dir)
    config["journal"] = {"path": str(data_dir / "journal.duckdb")}
    config["logging"] = {"dir": str(log_dir)}
    config["status_interval_s"] = 60.0
    config["live"].update(live_changes)
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(config))
    key = "0x" + bytes(Account.create().key).hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYACTOR_")}
    env["POLYACTOR_PRIVATE_KEY"] = key
    return LiveBot(
        config=path,
        data_dir=data_dir,
        log_dir=log_dir,
        summary=tmp_path / "summary.json",
        env=env,
        private_key=key,
    )


@contextmanager
def sandbox(
    paper: PaperSettings | None = None,
    speed: float = SPEED,
    *,
    first_open_s: float | None = None,
    **changes: Any,
) -> Iterator[SandboxServer]:
    """A sandbox whose market runs `speed` times faster than real time.

    With `first_open_s`, its clock waits for the bot: it stands all but still until the bot
    first asks for its API credentials (right before it reads the venue's time to start its own
    clock), then runs at `speed`, and a 15-minute window opens `first_open_s` simulated seconds
    later. The bot's imports and signing then cost no simulated time, and a test waits
    `first_open_s / speed` real seconds for its first tradable window, not for a boundary at
    a random distance (the bot trades only windows it saw open)."""
    settings = SandboxSettings(speed=speed, tick_interval_s=0.02, **changes)
    if paper is not None:
        settings = settings.model_copy(update={"paper": paper})
    if first_open_s is None:
        with serve(settings) as server:
            yield server
        return
    if settings.start_time is not None:
        msg = f"first_open_s ({first_open_s}) sets the start; start_time must be left out"
        raise ValueError(msg)
    start = _boundary_after(time.time() + first_open_s) - first_open_s
    with serve(settings, clock=SimulatedClock(start=start, speed=WAITING_SPEED)) as server:
        server.call(lambda state: _run_clock_from_first_login(state, speed))
        yield server


def _boundary_after(at: float) -> float:
    return math.ceil(at / 900) * 900


def _run_clock_from_first_login(state: SandboxState, speed: float) -> None:
    """Run the clock at `speed` from the first credentials request on (on the server's thread,
    before it answers: the bot reads the venue's time only after that answer)."""
    derive = state.derive_api_key  # creating a key derives it too
    clock = state.clock
    assert isinstance(clock, SimulatedClock)

    def derive_and_start_the_clock(address: str, nonce: int) -> ApiCredentials:
        if clock.speed == WAITING_SPEED:
            clock.set_speed(speed)
        return derive(address, nonce)

    state.derive_api_key = derive_and_start_the_clock  # type: ignore[method-assign]


class BotProcess(subprocess.Popen[str]):
    """The bot started in the background, its output (stdout and stderr) going to a file. A pipe
    nobody reads while the test waits fills up (64 KiB) and blocks the bot's logging, and with
    it the bot: a run through four faults froze for a minute."""

    def __init__(self, command: list[str], env: dict[str, str], output: Path) -> None:
        self.output_path = output
        with output.open("w") as out:
            super().__init__(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
            )

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")


def stop(process: BotProcess, timeout_s: float = 30.0) -> str:
    """SIGTERM, then the output; SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    return process.output()
