"""Replay benchmarks (issue 7, item 3) on the deterministic runtime.

1. The bot's own replay: the whole trading tree (simulated market, feed, windows, positions,
   risk, journal, venue gateway over the paper exchange) on a manual clock, as the integration
   scenarios run it: simulated seconds per wall second and market events per second.
2. The peer: NautilusTrader's BacktestEngine (`../shared/bench/nautilus_baseline.py`, installed
   into its own virtual environment outside the repo, never a project dependency) trading the
   `trade` rule on synthetic quotes, against polyactor replaying the *same* ticks (its
   `--dump-ticks` CSV) through the real FeedActor and VenueGatewayActor over the paper exchange
   (zero fees, as the peer), with one bench actor per instrument running the same rule: buy 10
   when mid > 0.55 (and ask < 0.99), exit limit at 0.99, stop at mid <= 0.30. The bot's own
   WindowActor and PositionActor run the bot's strategy, not this rule, so the rule's actor
   stands in for both; it asks the gateway exactly as a position does.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import partial
from pathlib import Path

from actors.feed import FeedActor, GetFeedStats
from actors.journal import Query
from actors.messages import (
    BookUpdate,
    Cancelled,
    CancelOrder,
    OrderEvent,
    Placed,
    PlaceOrder,
    RegisterWindow,
    SpotUpdate,
    WindowOpened,
)
from actors.venue import VenueGatewayActor, paper_venue
from bench.common import Report, Row, summarise
from bench.hot_path import UNPACED, Sink
from config.settings import Settings
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from supervisors.tree import ROOT, root_spec
from venues.paper import PaperSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderStatus,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
    WindowListed,
)

NT_VENV = Path("/tmp/polyactor-bench/nt")
NT_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "nautilus_baseline.py"
TREE_START = 1_795_275_000.0  # a 15-minute boundary
D = Decimal
SIZE = D(10)
EXIT_PRICE = D("0.99")
ENTRY_ABOVE = D("0.55")
STOP_AT = D("0.30")


# --- 1. the whole tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeReplay:
    """One replay of the whole tree, whole and per simulated hour (the last may be shorter)."""

    sim_s_per_wall_s: float
    events_per_s: float
    hourly_sim_s_per_wall_s: tuple[float, ...]
    hourly_events_per_s: tuple[float, ...]
    positions_opened: int  # what the bot traded: hours with no position replay faster


def tree_replay(directory: Path, minutes: int) -> TreeReplay:
    """The real tree replaying `minutes` of the simulated market, timed hour by hour."""
    settings = Settings.model_validate({"journal": {"path": str(directory / "tree.duckdb")}})
    clock = ManualClock(start=TREE_START)
    rt = DeterministicRuntime(clock)
    factory = paper_venue(settings.paper)
    spec = root_spec(settings, None, {}, start_time=TREE_START, venue_factory=factory)
    root = rt.spawn(spec.start, name=ROOT)
    speeds: list[float] = []
    rates: list[float] = []
    try:
        feed = rt.lookup("feed")
        started = time.perf_counter()
        hour_began, hour_events, hour_minutes = started, 0, 0
        for minute in range(1, minutes + 1):
            rt.advance(60.0)
            hour_minutes += 1
            if minute % 60 == 0 or minute == minutes:
                now = time.perf_counter()
                events = feed.ask(GetFeedStats()).events
                speeds.append(hour_minutes * 60 / (now - hour_began))
                rates.append((events - hour_events) / (now - hour_began))
                hour_began, hour_events, hour_minutes = now, events, 0
        wall = time.perf_counter() - started
        events = feed.ask(GetFeedStats()).events
        [(opened,)] = rt.lookup("journal").ask(
            Query(sql="SELECT count(*) FROM events WHERE type = 'PositionOpened'")
        )
    finally:
        root.stop(None)
        rt.shutdown()
    return TreeReplay(
        sim_s_per_wall_s=minutes * 60 / wall,
        events_per_s=events / wall,
        hourly_sim_s_per_wall_s=tuple(speeds),
        hourly_events_per_s=tuple(rates),
        positions_opened=int(opened),
    )


# --- 2. the trade rule, as an actor --------------------------------------------------------------


class Phase(StrEnum):
    FLAT = "flat"
    ENTERING = "entering"
    IN_POSITION = "in_position"


@dataclass(slots=True, kw_only=True)
class RuleCounts:
    entries: int = 0
    exits_placed: int = 0
    exits_filled: int = 0
    stops: int = 0
    cancels: int = 0
    refused: int = 0

    @property
    def orders(self) -> int:
        return self.entries + self.exits_placed + self.stops


class RuleTrader(Actor):
    """One instrument's `trade` rule (the peer's strategy), trading through the real gateway."""

    def __init__(self, token: TokenId, counts: RuleCounts) -> None:
        self._token = token
        self._counts = counts
        self._phase = Phase.FLAT
        self._exit_order: OrderId | None = None
        self._exit_filled = D(0)
        self._seen_trades: set[str] = set()
        self._orders = 0

    def receive(self, message: object) -> object:
        match message:
            case BookUpdate(book=book):
                self._on_quote(book)
            case OrderEvent(event=TradeUpdate() as trade):
                self._on_trade(trade)
            case OrderEvent() | WindowOpened() | SpotUpdate():
                pass  # the trades tell this rule everything; opening and spot do not matter
            case _:
                return super().receive(message)
        return None

    def _on_quote(self, book: BookSnapshot) -> None:
        if not book.bids or not book.asks:
            return
        bid, ask = book.bids[0].price, book.asks[0].price
        mid = (bid + ask) / 2
        if self._phase is Phase.FLAT and mid > ENTRY_ABOVE and ask < EXIT_PRICE:
            if self._place(Side.BUY, ask, SIZE, "entry"):
                self._counts.entries += 1
                self._phase = Phase.IN_POSITION
                self._exit_filled = D(0)
                self._exit_order = self._place(Side.SELL, EXIT_PRICE, SIZE, "exit")
                self._counts.exits_placed += self._exit_order is not None
        elif self._phase is Phase.IN_POSITION and mid <= STOP_AT:
            if self._exit_order is not None:
                reply = self.ctx.runtime.lookup("venue").ask(
                    CancelOrder(order_id=self._exit_order, owner=self.ctx.name)
                )
                self._counts.cancels += isinstance(reply, Cancelled)
            left = SIZE - self._exit_filled
            if left > 0 and self._place(Side.SELL, bid, left, "stop"):
                self._counts.stops += 1
            self._phase = Phase.FLAT
            self._exit_order = None

    def _on_trade(self, trade: TradeUpdate) -> None:
        if trade.status is not TradeStatus.MATCHED or trade.trade_id in self._seen_trades:
            return
        self._seen_trades.add(trade.trade_id)
        if trade.order_id == self._exit_order and self._phase is Phase.IN_POSITION:
            self._exit_filled += trade.size
            if self._exit_filled >= SIZE:
                self._counts.exits_filled += 1
                self._phase = Phase.FLAT
                self._exit_order = None

    def _place(self, side: Side, price: Decimal, size: Decimal, purpose: str) -> OrderId | None:
        self._orders += 1
        request = OrderRequest(
            client_id=f"{self.ctx.name}/{purpose}/{self._orders}",
            token_id=self._token,
            side=side,
            price=price,
            size=size,
        )
        reply = self.ctx.runtime.lookup("venue").ask(
            PlaceOrder(request=request, owner=self.ctx.name)
        )
        if not isinstance(reply, Placed) or reply.result.order_id is None:
            self._counts.refused += 1
            return None
        if purpose != "exit" and reply.result.status is not OrderStatus.MATCHED:
            self._counts.refused += 1  # a marketable order that did not trade at once
        return reply.result.order_id


def _instrument_window(k: int) -> MarketWindow:
    return MarketWindow(
        asset=f"I{k}",
        timeframe_s=900,
        start=0.0,
        end=4_000_000_000.0,
        condition_id=ConditionId(f"0xnt{k}"),
        up_token=TokenId(f"nt{k}"),
        down_token=TokenId(f"nt{k}-no"),
        slug=f"nt-{k}",
    )


def load_ticks(path: Path) -> list[BookSnapshot]:
    """The peer's ticks as one-level books (parsed before timing, as the peer builds its data)."""
    windows: dict[int, MarketWindow] = {}
    snapshots = []
    with path.open(encoding="ascii", newline="") as f:
        for row in csv.DictReader(f):
            k = int(row["instrument"])
            window = windows.get(k) or windows.setdefault(k, _instrument_window(k))
            snapshots.append(
                BookSnapshot(
                    condition_id=window.condition_id,
                    token_id=window.up_token,
                    bids=(BookLevel(D(row["bid"]), D(row["bid_size"])),),
                    asks=(BookLevel(D(row["ask"]), D(row["ask_size"])),),
                    tick_size=D("0.01"),
                    timestamp=int(row["ts_ns"]) / 1e9,
                )
            )
    return snapshots


def polyactor_replay(ticks: list[BookSnapshot], instruments: int) -> tuple[float, RuleCounts]:
    """Ticks per wall second through feed -> rule actor -> gateway -> paper exchange."""
    clock = ManualClock(start=ticks[0].timestamp)
    rt = DeterministicRuntime(clock)
    counts = RuleCounts()
    paper = PaperSettings(fee_rate=D(0), starting_collateral=D(1_000_000))
    factory = paper_venue(paper)
    venue = rt.spawn(lambda: VenueGatewayActor(factory, UNPACED, market=None), name="venue")
    for name in ("market", "discovery"):
        rt.spawn(Sink, name=name)
    feed = rt.spawn(FeedActor, name="feed")
    for k in range(instruments):
        window = _instrument_window(k)
        name = f"rule/{k}"
        rt.spawn(partial(RuleTrader, window.up_token, counts), name=name)
        venue.tell(WindowListed(window=window, timestamp=ticks[0].timestamp))
        feed.tell(WindowListed(window=window, timestamp=ticks[0].timestamp))
        feed.tell(
            RegisterWindow(
                condition_id=window.condition_id,
                tokens=window.tokens,
                asset=window.asset,
                actor_name=name,
            )
        )
    rt.run_until_idle()
    try:
        started = time.perf_counter()
        for tick in ticks:
            clock.set(tick.timestamp)
            venue.tell(tick)  # the exchange sees the market first, as the market actor does
            feed.tell(tick)
            rt.run_until_idle()
        wall = time.perf_counter() - started
    finally:
        rt.shutdown()
    return len(ticks) / wall, counts


def nautilus(ticks: int, instruments: int, repeats: int) -> dict[str, object] | str:
    """The peer's JSON line, or why it could not run (never a made-up figure)."""
    python = NT_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run(
            ["python3", "-m", "venv", str(NT_VENV)], capture_output=True, text=True, check=False
        )
        if made.returncode == 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "nautilus_trader"],
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
    if not python.exists() or not NT_SCRIPT.exists():
        return f"NautilusTrader could not be installed into {NT_VENV} (or {NT_SCRIPT} is missing)"
    out = subprocess.run(
        [
            str(python),
            str(NT_SCRIPT),
            "--ticks",
            str(ticks),
            "--instruments",
            str(instruments),
            "--strategy",
            "trade",
            "--repeats",
            str(repeats),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return f"NautilusTrader run failed: {out.stderr[-300:]}"
    result: dict[str, object] = json.loads(lines[-1])
    return result


def dump_ticks(path: Path, ticks: int, instruments: int) -> bool:
    """The peer's exact ticks (its `--dump-ticks` needs numpy, which its venv has)."""
    python = NT_VENV / "bin" / "python"
    if not python.exists() or not NT_SCRIPT.exists():
        return False
    done = subprocess.run(
        [
            str(python),
            str(NT_SCRIPT),
            "--ticks",
            str(ticks),
            "--instruments",
            str(instruments),
            "--dump-ticks",
            str(path),
        ],
        check=False,
        capture_output=True,
        timeout=300,
    )
    return done.returncode == 0


def walk_ticks(path: Path, ticks: int, instruments: int) -> None:
    """Stand-in ticks of the same shape (reflecting cent walk, 1-tick spread, round-robin, 1 ms
    apart) when the peer's generator cannot run; never reported as the peer's data."""
    rng = random.Random(12345)
    prices = [rng.randint(40, 60) for _ in range(instruments)]
    with path.open("w", encoding="ascii") as f:
        f.write("instrument,ts_ns,bid,ask,bid_size,ask_size\n")
        for i in range(ticks):
            k = i % instruments
            prices[k] = min(99, max(1, prices[k] + rng.choice((-1, 0, 1))))
            p = prices[k]
            ts = 1_735_689_600 * 10**9 + i * 1_000_000
            bid_size, ask_size = rng.randint(100, 1999), rng.randint(100, 1999)
            f.write(f"{k},{ts},{p / 100:.2f},{min(p + 1, 99) / 100:.2f},{bid_size},{ask_size}\n")


# --- the report ----------------------------------------------------------------------------------


def run(*, tiny: bool = False) -> Report:
    day_minutes = 3 if tiny else 24 * 60
    ticks, repeats = (300, 1) if tiny else (20_000, 3)
    instrument_counts = (1, 4) if tiny else (1, 4, 100)
    report = Report(name="replay")
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-replay-") as tmp:
        directory = Path(tmp)
        day = tree_replay(directory, day_minutes)
        speed = summarise(day.hourly_sim_s_per_wall_s)
        rate = summarise(day.hourly_events_per_s)
        report.add(
            Row(
                benchmark="replay",
                case=(
                    f"whole tree, 4 assets x 15m, a simulated day ({day_minutes:,} min, 1 run, "
                    f"{speed.repeats} simulated hours): sim s per wall s"
                ),
                figure=speed.text("{:,.0f}"),
                baseline=f"market events/s {rate.text('{:,.0f}')}",
                ratio=(
                    f"the day in {day_minutes / day.sim_s_per_wall_s:,.1f} min wall "
                    f"({day.sim_s_per_wall_s:,.0f} sim s per wall s over the whole day)"
                ),
                data={
                    "sim_s_per_wall_s": speed,
                    "events_per_s": rate,
                    "whole_day_sim_s_per_wall_s": day.sim_s_per_wall_s,
                    "whole_day_events_per_s": day.events_per_s,
                    "positions_opened": day.positions_opened,
                },
            )
        )
        report.note(f"Over the simulated day the bot opened {day.positions_opened} positions.")
        for instruments in instrument_counts:
            path = directory / f"ticks-{instruments}.csv"
            if tiny or not dump_ticks(path, ticks, instruments):
                walk_ticks(path, ticks, instruments)
                report.note(f"{instruments} instruments: ticks from polyactor's own walk")
            snapshots = load_ticks(path)
            ours = [polyactor_replay(snapshots, instruments) for _ in range(repeats)]
            mine = summarise([o[0] for o in ours])
            counts = ours[0][1]
            peer = nautilus(ticks, instruments, repeats) if not tiny else "not run in --tiny"
            if isinstance(peer, str):
                report.note(f"{instruments} instruments: {peer}")
                baseline, ratio, peer_orders = "not measured", "", "?"
            else:
                agg = peer["agg"]
                assert isinstance(agg, dict)
                nt = agg["ticks_per_s"]
                baseline = f"NautilusTrader {nt['median']:,.0f} ({nt['min']:,.0f}-{nt['max']:,.0f})"
                ratio = f"{mine.median / nt['median']:.3f}x"
                det = peer["deterministic"]
                assert isinstance(det, dict)
                peer_orders = (
                    f"{det['orders_submitted']} (entries {det['entries']}, exits filled "
                    f"{det['take_profits']}, stops {det['stop_losses']})"
                )
            report.add(
                Row(
                    benchmark="replay",
                    case=f"trade rule on {ticks:,} peer ticks, {instruments} instruments: ticks/s",
                    figure=mine.text("{:,.0f}"),
                    baseline=baseline,
                    ratio=ratio,
                    data={"polyactor": mine, "counts": counts, "peer": peer},
                )
            )
            report.add(
                Row(
                    benchmark="replay",
                    case=f"orders, {instruments} instruments (polyactor / peer)",
                    figure=(
                        f"{counts.orders} (entries {counts.entries}, exits filled "
                        f"{counts.exits_filled}, stops {counts.stops}, refused {counts.refused})"
                    ),
                    baseline=peer_orders,
                )
            )
    report.note(
        "The whole tree (every real actor, the strategy and the simulated market publishing "
        "both tokens' books of every window, on the deterministic runtime) replays one "
        "simulated day; its figure is the median (min-max) of the day's simulated hours, timed "
        "one by one (a day per repeat would not fit make bench's 15 minutes)."
    )
    report.note(
        "Peer comparison: the bot's WindowActor and PositionActor run the bot's own strategy, "
        "not the peer's rule, so one bench actor per instrument runs the rule and asks the real "
        "gateway as a position does; the ticks enter through the real FeedActor. NautilusTrader "
        "runs in its own venv (/tmp/polyactor-bench/nt), timed by its own script (engine.run "
        "only); polyactor's figure times the replay loop only, books built beforehand."
    )
    return report
