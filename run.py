"""polyactor: run the bot, check a config file, or report from the journal.

    python run.py [--config FILE] [--mode paper|live] [--runtime pykka|ray] [--speed X]
                  [--duration D] [--summary-json FILE] [--record FILE]
    python run.py check-config FILE
    python run.py report [--config FILE]

Flags override the YAML; the YAML (config/default.yaml when --config is not given) is the single
source of settings. Exit codes: 0 clean stop, 1 the supervision tree gave up, 2 bad config.
Only this file handles signals and calls sys.exit (a SystemExit inside an actor would stop
every pykka actor in the process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings
    from runtime import Clock, Ref, Runtime
    from supervisors.live import LiveConnection
    from supervisors.tree import Exchange
    from venues.sandbox.server import SandboxServer

from state.report import TOTAL_KEYS

ROOT_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT_DIR / "config" / "default.yaml"

log = logging.getLogger("run")


# --- command line -------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """'90' (seconds), '5s', '30m', '2h', '1h30m', '1d' -> seconds of simulated time."""
    cleaned = text.strip().lower()
    if _SECONDS.fullmatch(cleaned):
        return float(cleaned)
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        msg = f"invalid duration {text!r}: use e.g. 90, 5s, 30m, 2h or 1h30m"
        raise argparse.ArgumentTypeError(msg)
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"YAML settings (default: {DEFAULT_CONFIG.relative_to(ROOT_DIR)})",
    )
    parser.add_argument("--mode", choices=["paper", "live"], help="overrides mode")
    parser.add_argument("--runtime", choices=["pykka", "ray"], help="overrides runtime")
    parser.add_argument("--speed", type=float, help="simulated clock speed (paper mode)")
    parser.add_argument(
        "--duration", type=parse_duration, help="stop after this much simulated time, e.g. 5s, 2h"
    )
    parser.add_argument("--summary-json", type=Path, help="write a JSON summary here at exit")
    parser.add_argument(
        "--record",
        type=Path,
        help="live mode: append every websocket frame received to this file (replayable)",
    )
    sub = parser.add_subparsers(dest="command")
    check = sub.add_parser("check-config", help="validate a YAML file; exit 0 if good, 2 if not")
    check.add_argument("file", type=Path)
    report = sub.add_parser("report", help="totals from the journal (bot not running)")
    report.add_argument("--config", type=Path, default=None, dest="report_config")
    replay = sub.add_parser(
        "replay", help="parse recorded Polymarket websocket frames and count what they hold"
    )
    replay.add_argument(
        "--feed",
        type=Path,
        required=True,
        help="one JSON frame per line, or a directory of JSON files",
    )
    replay.add_argument("--summary-json", type=Path, dest="replay_summary")
    sandbox = sub.add_parser(
        "sandbox", help="a local Polymarket-compatible exchange on 127.0.0.1 (simulated market)"
    )
    sandbox.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sandbox.add_argument(
        "--sandbox-speed",
        type=float,
        default=1.0,
        dest="sandbox_speed",
        help="simulated clock speed of its market",
    )
    sandbox.add_argument(
        "--write-config",
        type=Path,
        dest="sandbox_config",
        help="write a live-mode YAML pointing at this sandbox here (run it with --config)",
    )
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    flags = {
        "mode": args.mode,
        "runtime": args.runtime,
        "speed": args.speed,
        "duration_s": args.duration,
    }
    return {key: value for key, value in flags.items() if value is not None}


# --- running -------------------------------------------------------------------------------------


class _ErrorCounter(logging.Handler):
    """Counts ERROR records for the summary's `errors`."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        del record
        self.count += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    exit_code: int
    reason: str
    wall_seconds: float
    sim_seconds: float
    actors_started: int
    restarts: int
    events_journaled: int
    figures: tuple[tuple[str, int | float], ...] = ()  # what the market actor reported
    totals: tuple[tuple[str, int | Decimal], ...] = ()  # derived from the journal


def run_bot(args: argparse.Namespace) -> int:
    from config.errors import ConfigError
    from config.loader import load_settings
    from config.secrets import load_secrets

    config_path = args.config or DEFAULT_CONFIG
    overrides = overrides_from(args)
    try:
        settings = load_settings(config_path, overrides)
        secrets = load_secrets(settings, os.environ)
    except ConfigError as e:
        print("\n".join(e.errors), file=sys.stderr)
        return 2

    from runtime import SimulatedClock
    from runtime.logs import setup_logging

    if settings.runtime.value == "ray":
        from runtime.ray_backend import init_ray

        # Ray takes 5-30 s to start: a simulated clock anchored before that would open windows
        # (at 60x, half an hour of them) before any window actor exists.
        init_ray()
    live = None
    if settings.mode.value == "live":
        from supervisors.live import connect_live
        from venues.errors import VenueError

        try:
            live = connect_live(settings, secrets, record_path=args.record)
        except (VenueError, ValueError, OSError) as e:
            print(f"cannot connect to {settings.live.clob_host}: {e}", file=sys.stderr)
            return 2
        clock = live.clock  # the venue's time
    else:
        # Paper mode runs on simulated time, and so do its log timestamps and status lines.
        clock = SimulatedClock(start=time.time(), speed=settings.speed)
    del secrets  # only the venue adapter holds them
    logging_handle = setup_logging(
        Path(settings.logging.dir),
        settings.logging.level.value,
        repeat_window_s=settings.logging.repeat_window_s,
        per_window_files=settings.logging.per_window_files,
        clock=clock,
    )
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    try:
        outcome = _run_tree(settings, clock, config_path, overrides, live)
    finally:
        logging.getLogger().removeHandler(errors)
        if live is not None:
            live.close()
    if args.summary_json is not None:
        summary = {
            "mode": settings.mode.value,
            "runtime": settings.runtime.value,
            "wall_seconds": round(outcome.wall_seconds, 3),
            "sim_seconds": round(outcome.sim_seconds, 3),
            "actors_started": outcome.actors_started,
            "restarts": outcome.restarts,
            "events_journaled": outcome.events_journaled,
            "errors": errors.count,
            "exit_reason": outcome.reason,
            **dict(outcome.figures),
            **{k: float(v) if isinstance(v, Decimal) else v for k, v in outcome.totals},
        }
        args.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    if outcome.totals:
        print(format_totals(dict(outcome.totals)))
    log.info("exit %d: %s", outcome.exit_code, outcome.reason)
    logging_handle.close()
    return outcome.exit_code


def _run_tree(
    settings: object,
    clock: Clock,
    config_path: Path,
    overrides: dict[str, object],
    live: LiveConnection | None,
) -> Outcome:
    from actors.journal import AppendDurable, Stats
    from config.settings import Settings
    from runtime import StartFailed, make_runtime
    from state.events import CollateralBaseRecorded, RunStarted, RunStopped
    from supervisors.supervisor import tree_stats
    from supervisors.tree import JOURNAL, ROOT, root_spec

    assert isinstance(settings, Settings)
    wall_start = time.monotonic()
    sim_start = clock.now()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    Path(settings.journal.path).parent.mkdir(parents=True, exist_ok=True)
    if settings.mode.value == "paper":
        archive_paper_journal(Path(settings.journal.path), Path(settings.data_dir) / "runs")
    runtime = make_runtime(settings.runtime.value, clock)

    stop = StopRequest()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        stop.request(f"signal {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    exchange, new_base = _live_exchange(settings, live) if live is not None else (None, None)
    spec = root_spec(settings, config_path, overrides, start_time=sim_start, exchange=exchange)
    try:
        root = runtime.spawn(spec.start, name=ROOT)
    except StartFailed as e:
        log.error(
            "the supervision tree failed to start: %s\n%s", e.reason.error, e.reason.traceback
        )
        runtime.shutdown()
        return Outcome(
            exit_code=1,
            reason=f"start failed: {e.reason.error}",
            wall_seconds=time.monotonic() - wall_start,
            sim_seconds=0.0,
            actors_started=0,
            restarts=0,
            events_journaled=0,
        )
    started = restarts = journaled = 0
    figures: tuple[tuple[str, int | float], ...] = ()
    totals: tuple[tuple[str, int | Decimal], ...] = ()
    # The tree is shut down and the signal handlers restored whatever happens in between.
    try:
        journal = runtime.address(JOURNAL)
        digest = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]
        journal.ask(
            AppendDurable(
                events=(
                    RunStarted(
                        stream_id="run",
                        ts=clock.now(),
                        mode=settings.mode.value,
                        runtime=settings.runtime.value,
                        config_digest=digest,
                    ),
                    *(
                        ()
                        if new_base is None
                        else (
                            CollateralBaseRecorded(
                                stream_id="run", ts=clock.now(), collateral=new_base
                            ),
                        )
                    ),
                )
            ),
            10.0,
        )
        log.info(
            "polyactor started: mode=%s runtime=%s speed=%s duration=%s",
            settings.mode.value,
            settings.runtime.value,
            settings.speed,
            settings.duration_s,
        )

        # The duration counts from a started tree: on Ray starting it takes 10-20 s, which a
        # 60x clock would otherwise take out of a 30-minute run.
        exit_code, reason = supervise(
            root, clock, settings.duration_s, stop, started_at=clock.now()
        )

        if exit_code == 0:
            stats = tree_stats(runtime, ROOT)
            started, restarts = stats.started + 1, stats.restarts
            journal.ask(
                AppendDurable(
                    events=(
                        RunStopped(
                            stream_id="run",
                            ts=clock.now(),
                            reason=reason,
                            exit_code=exit_code,
                            wall_seconds=time.monotonic() - wall_start,
                            sim_seconds=clock.now() - sim_start,
                        ),
                    )
                ),
                10.0,
            )
            journaled = journal.ask(Stats(), 10.0).appended
            figures = _market_figures(runtime) if settings.mode.value == "paper" else ()
            root.stop(timeout_s=None)  # children stop in reverse order; the journal flushes last
    finally:
        runtime.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if exit_code == 0:
        totals = tuple(journal_totals(Path(settings.journal.path)).items())
    return Outcome(
        exit_code=exit_code,
        reason=reason,
        wall_seconds=time.monotonic() - wall_start,
        sim_seconds=clock.now() - sim_start,
        actors_started=started,
        restarts=restarts,
        events_journaled=journaled,
        figures=figures,
        totals=totals,
    )


def _live_exchange(settings: Settings, live: LiveConnection) -> tuple[Exchange, Decimal | None]:
    """What the tree trades on in live mode, and the collateral base if this start is the
    first on this journal (to be journaled; later starts read it back, so equity keeps one
    base across restarts)."""
    base = recorded_collateral_base(Path(settings.journal.path))
    if base is not None:
        return live.exchange(settings, base), None
    balance = live.venue.refresh_balance()
    return live.exchange(settings, balance), balance


def recorded_collateral_base(path: Path) -> Decimal | None:
    """The collateral live equity counts from, if this journal recorded one (the bot has not
    opened the journal yet)."""
    if not path.exists():
        return None
    from state.journal_store import JournalStore
    from state.recovery import collateral_base

    with JournalStore(path, read_only=True) as store:
        return collateral_base(store.query)


def archive_paper_journal(path: Path, archive_dir: Path) -> Path | None:
    """Move an earlier paper run's journal aside: each paper run trades a new simulated market
    and a new paper exchange, so actors rebuilding from the journal must not find the orders,
    reservations and positions of a world that no longer exists. Nothing is deleted."""
    if not path.exists():
        return None
    archive_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(path.stat().st_mtime))
    target = archive_dir / f"{path.stem}-{stamp}{path.suffix}"
    n = 1
    while target.exists():
        target = archive_dir / f"{path.stem}-{stamp}-{n}{path.suffix}"
        n += 1
    path.rename(target)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(target.with_name(target.name + ".wal"))
    log.info("the previous paper run's journal was moved to %s", target)
    return target


def journal_totals(path: Path) -> dict[str, int | Decimal]:
    """The last run's trading totals, read from the journal file (the bot has let go of it)."""
    from state.journal_store import JournalStore
    from state.report import last_run_start, trading_totals

    with JournalStore(path, read_only=True) as store:
        return trading_totals(store.query, last_run_start(store.query))


def format_totals(totals: dict[str, int | Decimal]) -> str:
    """The human-readable P&L summary printed at the end of a run and by `report`."""
    lines = [
        f"realized P&L {totals['realized_pnl']:+} after fees {totals['fees_paid']} "
        f"on {totals['positions_settled']} settled of {totals['positions_opened']} positions",
        f"windows seen {totals['windows_seen']}, traded {totals['windows_traded']}; "
        f"orders placed {totals['orders_placed']}, rejected {totals['orders_rejected']}; "
        f"fills {totals['fills']}",
        f"reversals {totals['reversals']}, stop losses {totals['stop_losses']}, "
        f"scale-ins {totals['scale_ins']}, risk refusals {totals['risk_refusals']}, "
        f"invariant violations {totals['invariant_violations']}",
    ]
    return "\n".join(lines)


def _market_figures(runtime: Runtime) -> tuple[tuple[str, int | float], ...]:
    from actors.sim_market import GetMarketStats
    from supervisors.tree import MARKET

    stats = runtime.lookup(MARKET).ask(GetMarketStats(), 10.0).market
    return (
        ("windows_listed", stats.windows_listed),
        ("windows_opened", stats.windows_opened),
        ("windows_resolved", stats.windows_resolved),
        ("market_events", stats.events_total),
        ("market_steps", stats.steps),
    )


class StopRequest:
    """Set from a signal handler, read by the main loop.

    A plain attribute, not a threading.Event: a handler runs on the main thread between two
    bytecodes, possibly while that thread is inside `Event.wait` holding the Event's lock, and
    `Event.set` would then wait for that lock forever (a SIGTERM that never stopped the bot).
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        self.reason = reason


def supervise(
    root: Ref, clock: Clock, duration_s: float | None, stop: StopRequest, *, started_at: float
) -> tuple[int, str]:
    """Wait for a stop request, the end of the duration, or the root giving up (exit code 1)."""
    sim_start = started_at
    while stop.reason is None:
        if not root.is_alive():
            return 1, "the supervision tree gave up"
        if duration_s is not None and clock.now() - sim_start >= duration_s:
            return 0, "duration reached"
        time.sleep(0.05)
    return 0, stop.reason


# --- report --------------------------------------------------------------------------------------


def report(config: Path | None) -> int:
    from config.errors import ConfigError
    from config.loader import load_settings
    from state.journal_store import JournalStore

    try:
        settings = load_settings(config or DEFAULT_CONFIG)
    except ConfigError as e:
        print("\n".join(e.errors), file=sys.stderr)
        return 2
    path = Path(settings.journal.path)
    if not path.exists():
        print(f"no journal at {path}: nothing has run with this config yet", file=sys.stderr)
        return 2
    import duckdb

    try:
        store = JournalStore(path, read_only=True)
    except duckdb.IOException as e:
        print(f"cannot open {path} ({e}); a running bot holds it: stop it first", file=sys.stderr)
        return 2
    try:
        rows = store.query("SELECT type, count(*) FROM events GROUP BY type ORDER BY type")
        runs = store.query("SELECT count(*) FROM events WHERE type = 'RunStarted'")
    finally:
        store.close()
    totals = journal_totals(path)
    print(f"journal {path}: {runs[0][0]} runs")
    print("last run:")
    print(format_totals(totals))
    for key in TOTAL_KEYS:
        print(f"  {key:<22} {totals[key]}")
    print("events, all runs:")
    for event_type, count in rows:
        print(f"  {event_type:<22} {count}")
    return 0


def replay(feed: Path, summary_json: Path | None) -> int:
    """Recorded frames through the live parser. (Pushing them on through the actors on the
    deterministic runtime comes with the live feed actors.)"""
    from venues.live.replay import replay_frames

    if not feed.exists():
        print(f"no feed at {feed}", file=sys.stderr)
        return 2
    result = replay_frames(feed)
    summary = result.summary()
    print(
        f"replayed {summary['frames']} frames: {summary['events']} events, "
        f"{summary['rejected_frames']} rejected frames"
    )
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def sandbox_live_config(server: SandboxServer, speed: float) -> str:
    """A live-mode YAML that trades against `server` (its market's assets and timeframes, its
    clock speed), with its own data directory so the paper run's journal is left alone."""
    import yaml

    sim = server.state.settings.sim
    config = {
        "mode": "live",
        "speed": speed,
        "data_dir": "data/sandbox",
        "journal": {"path": "data/sandbox/journal.duckdb"},
        "logging": {"dir": "logs/sandbox"},
        "live": {
            "clob_host": server.url,
            "gamma_host": f"{server.url}/gamma",
            "data_host": f"{server.url}/data-api",
            "ws_market_url": f"{server.ws_url}market",
            "ws_user_url": f"{server.ws_url}user",
            "rtds_url": server.rtds_url,
            "discovery": {
                "assets": [a.symbol for a in sim.assets],
                "timeframes_s": list(sim.timeframes_s),
                # Polls and resolution checks in the sandbox's (faster) seconds.
                "interval_s": max(5.0, speed / 2),
                "resolution_check_after_s": max(60.0, sim.resolution_delay_s * 2),
            },
        },
    }
    header = (
        "# Live mode against a local sandbox (python run.py sandbox). Any private key works:\n"
        "# POLYACTOR_PRIVATE_KEY=0x$(openssl rand -hex 32) python run.py --config THIS_FILE\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False)


def sandbox(port: int, speed: float, config_file: Path | None = None) -> int:
    """Serve the local exchange until SIGINT/SIGTERM; a live config pointing at its URLs dry-runs
    the whole live stack (CLOB host, websockets, Gamma at /gamma, Data API at /data-api)."""
    from venues.sandbox.server import serve
    from venues.sandbox.settings import SandboxSettings

    stop = StopRequest()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        stop.request(f"signal {signal.Signals(signum).name}")

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    server = serve(SandboxSettings(speed=speed), port=port)
    print(f"sandbox CLOB {server.url}", flush=True)
    print(f"sandbox websockets {server.ws_url}market and {server.ws_url}user", flush=True)
    print(
        f"sandbox price stream {server.rtds_url}; Gamma {server.url}/gamma; "
        f"Data API {server.url}/data-api",
        flush=True,
    )
    if config_file is not None:
        config_file.write_text(sandbox_live_config(server, speed))
        print(f"live config for this sandbox written to {config_file}", flush=True)
    try:
        while stop.reason is None:
            time.sleep(0.1)
    finally:
        server.stop()
    print(f"sandbox stopped: {stop.reason}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    match args.command:
        case "check-config":
            from config.loader import check_config

            code, text = check_config(args.file)
            print(text, file=sys.stdout if code == 0 else sys.stderr)
            return code
        case "report":
            return report(args.report_config or args.config)
        case "replay":
            return replay(args.feed, args.replay_summary)
        case "sandbox":
            return sandbox(args.port, args.sandbox_speed, args.sandbox_config)
        case _:
            return run_bot(args)


if __name__ == "__main__":
    sys.exit(main())
