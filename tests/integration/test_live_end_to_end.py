"""`python run.py --mode live` against the local wire-compatible exchange: the real
py-clob-client-v2 signs and posts, the real websocket-client streams, the sandbox verifies
every signature and header, and the bot trades the simulated market end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.integration.live_harness import FIRST_OPEN_S, ROOT, LiveBot, live_bot, sandbox, stop
from tests.waiting import wait_for
from venues.paper.ledger import Account
from venues.sandbox.auth import ApiCredentials
from venues.sandbox.state import SandboxState

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class LiveRun:
    """What one live run, recording its raw frames, left behind, and what the sandbox saw."""

    bot: LiveBot
    tmp_path: Path
    recording: Path
    done: subprocess.CompletedProcess[str]
    orders_verified: int
    protocol_refusals: list[str]
    heartbeats_seen: bool
    credentials: list[ApiCredentials]


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    """Forty simulated minutes of live trading, the first window opening three minutes in: two
    full rounds of windows trade and settle, and the reconciler's passes after them audit the
    settlements, as fifty minutes from a random start did. The tests of this run share it (one
    costs 45 s)."""
    tmp_path = tmp_path_factory.mktemp("live-run")
    recording = tmp_path / "frames.jsonl"
    with sandbox(first_open_s=FIRST_OPEN_S) as server:
        bot = live_bot(server, tmp_path, record_path=str(recording))
        done = bot.run("40m", timeout_s=200)
        return LiveRun(
            bot=bot,
            tmp_path=tmp_path,
            recording=recording,
            done=done,
            orders_verified=server.state.orders_verified,
            protocol_refusals=list(server.state.protocol_refusals),
            heartbeats_seen=server.call(lambda state: state._heartbeat_deadline is not None),
            credentials=server.call(lambda state: list(state.credentials.values())),
        )


@pytest.mark.timeout(240)
def test_live_mode_trades_several_windows_with_verified_orders_and_no_protocol_error(
    live_run: LiveRun,
) -> None:
    bot, done = live_run.bot, live_run.done
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = bot.summary_json()
    assert summary["mode"] == "live"
    assert summary["windows_traded"] >= 3, summary
    assert summary["orders_placed"] > 0
    assert summary["fills"] > 0
    assert summary["invariant_violations"] == 0
    # No error at all: the settlement audit included (it compares each token we settled with
    # the venue's closed position of that token).
    assert _errors(bot.log_dir) == ""
    # Every order the bot placed was signed by our adapter and verified by the venue; no
    # request was refused for its protocol (auth headers, body, signature, duplicate order).
    assert live_run.orders_verified >= summary["orders_placed"]
    assert live_run.protocol_refusals == []
    assert live_run.heartbeats_seen


@pytest.mark.timeout(240)
def test_no_secret_appears_in_logs_journal_summary_or_output_and_the_recording_replays(
    live_run: LiveRun,
) -> None:
    bot, done, tmp_path = live_run.bot, live_run.done, live_run.tmp_path
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    credentials = live_run.credentials
    assert credentials, "the bot derived no API credentials"
    secrets = {bot.private_key, bot.private_key.removeprefix("0x")}
    for issued in credentials:
        secrets |= {issued.secret, issued.passphrase}
    places = {
        "stdout": done.stdout,
        "stderr": done.stderr,
        "summary": bot.summary.read_text(),
        **{str(p): p.read_text(errors="replace") for p in bot.log_dir.rglob("*") if p.is_file()},
        "journal": _journal_text(bot.data_dir / "journal.duckdb"),
    }
    assert places["journal"], "the journal is empty"
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {where}"
    # The credentials cache holds them, but only its owner can read it.
    cached = bot.data_dir / "clob_credentials.json"
    assert cached.stat().st_mode & 0o077 == 0
    # The raw frames recorded in live mode go back through the same parsers.
    replayed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "replay",
            "--feed",
            str(live_run.recording),
            "--summary-json",
            str(tmp_path / "replay.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    replay = json.loads((tmp_path / "replay.json").read_text())
    assert replay["frames"] > 100
    assert replay["rejected_frames"] == 0


@pytest.mark.timeout(150)
def test_sigterm_while_feeds_stream_and_a_position_is_held_stops_without_a_traceback(
    tmp_path: Path,
) -> None:
    with sandbox(first_open_s=FIRST_OPEN_S) as server:
        bot = live_bot(server, tmp_path)
        process = bot.start("2h")
        try:
            holding = wait_for(lambda: server.call(_holds_a_position), timeout_s=90)
        finally:
            output = stop(process)
    assert holding, output[-3000:]
    assert process.returncode == 0, output[-3000:]
    # Every feed was still streaming into its actor as the tree stopped: frames that landed
    # after their actor stopped are dropped on purpose, never a feed dying with a traceback.
    assert "Traceback" not in output, output[-3000:]
    assert _errors(bot.log_dir) == ""
    assert "exit 0: signal SIGTERM" in output


def _holds_a_position(state: SandboxState) -> bool:
    return any(
        state.exchange.holding(Account.US, token) > 0
        for window in state.windows.values()
        for token in window.tokens
    )


def _journal_text(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT type, stream_id, CAST(payload AS VARCHAR) FROM events"
        ).fetchall()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def _errors(log_dir: Path) -> str:
    errors = log_dir / "errors.log"
    text = errors.read_text() if errors.exists() else ""
    return "\n".join(re.findall(r".*ERROR.*", text))
