"""Hot-path benchmarks (issue 7, items 1 and 2) on pykka threads, through the real actors:
FeedActor -> WindowActor -> PositionActor -> VenueGatewayActor -> PaperExchange.

Each of N windows holds two filled positions (UP and DOWN, 20 shares at 0.50, exit plan at 0.99
resting). A market event entering the feed that drops a token's book below the stop floor makes
the position journal its stop durably and sell: the time from `feed.tell(event)` to the sell
reaching `Venue.place_order` (a thin wrapper that records the time, then delegates to the real
paper exchange) is the tick-to-order latency. Sustained throughput is market events per second
told into the feed (books that move nothing) until the stop orders that follow them in the same
mailboxes have reached the venue.

Baselines measured in the same run: a bare chain of four actors on the same runtime that only
forward (the same hops doing no work), and one `queue.SimpleQueue` hop between two threads.
"""

from __future__ import annotations

import itertools
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from operator import contains
from pathlib import Path
from typing import Any

from actors.feed import FeedActor, GetFeedStats
from actors.journal import AppendDurable, Flush, JournalActor
from actors.messages import (
    GetOpenOrders,
    Granted,
    Outcome,
    RegisterWindow,
    Reserve,
    position_actor,
    position_id,
    window_actor,
    window_id,
)
from actors.position import GetPosition, PositionActor
from actors.venue import VenueGatewayActor, paper_venue
from actors.window import WindowActor
from bench.common import Report, Row, percentile, summarise
from runtime.api import Actor, ActorDead, AskTimeout, Ref, StartFailed
from runtime.clock import ManualClock
from runtime.pykka_backend import PykkaRuntime
from state.journal_store import JournalStore
from state.position import PositionSettings
from state.trading_events import CapitalReserved, EntryDecided
from state.window import initial_state
from strategy.settings import StrategySettings
from supervisors import ChildSpec, Flags, Restart, StartChild
from supervisors.dynamic import DynamicSupervisor
from venues.paper import PaperSettings
from venues.settings import VenueSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketWindow,
    OrderRequest,
    OrderResult,
    Side,
    TokenId,
    WindowListed,
)

T0 = 1_795_275_000.0  # the windows' start, a 15-minute boundary
D = Decimal
ASSETS = ("BTC", "ETH", "SOL", "XRP")
HOPS = 4  # feed, window, position, gateway


# --- instrumentation ---------------------------------------------------------------------------


class TimedVenue:
    """The venue interface, timed: records when each order reaches it, then delegates."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.placed: dict[TokenId, float] = {}  # token -> first SELL placement time
        self.sells = 0

    def place_order(self, request: OrderRequest) -> OrderResult:
        self._note(request, time.perf_counter())
        result: OrderResult = self._inner.place_order(request)
        return result

    def place_orders(self, requests: tuple[OrderRequest, ...]) -> tuple[OrderResult, ...]:
        now = time.perf_counter()
        for request in requests:
            self._note(request, now)
        results: tuple[OrderResult, ...] = self._inner.place_orders(requests)
        return results

    def _note(self, request: OrderRequest, at: float) -> None:
        # An exit plan is a SELL at 0.99; a stop sells below it.
        if request.side is Side.SELL and request.price < D("0.99"):
            self.placed.setdefault(request.token_id, at)
            self.sells += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class GrantAll(Actor):
    """Risk stand-in: grants every reservation (capital is not what is measured here)."""

    def __init__(self) -> None:
        self._granted = itertools.count(1)

    def receive(self, message: object) -> object:
        match message:
            case Reserve(amount=amount):
                return Granted(reservation_id=f"bench-{next(self._granted)}", amount=amount)
            case _:
                return None


class Sink(Actor):
    """Stand-in for the market, discovery and position supervisor: takes anything, does nothing."""

    def receive(self, message: object) -> object:
        return None


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, *, poll_s: float = 0.0002
) -> None:
    """Poll `condition`; a condition that asks actors polls slowly (`poll_s`), or its asks
    would crowd out the work it waits for."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            msg = f"benchmark harness: timed out after {timeout_s}s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(poll_s)


def _longer_than(items: list[float], count: int) -> bool:
    return len(items) > count


def _book(window: MarketWindow, token: TokenId, bid: str, ask: str, ts: float) -> BookSnapshot:
    return BookSnapshot(
        condition_id=window.condition_id,
        token_id=token,
        bids=(BookLevel(D(bid), D(100)),),
        asks=(BookLevel(D(ask), D(100)),),
        tick_size=D("0.01"),
        timestamp=ts,
    )


# --- the real-actor harness ----------------------------------------------------------------------

# The defaults, ask timeouts included: 2,000 positions filled at once ask the journal for a
# durable commit each, which share commits (group commit) instead of queueing for one each.
POSITION_SETTINGS = PositionSettings()


# The gateway's placement pacing (10/s, bursts of 20) is a deliberate limit on the runtime
# clock, which stands still here; it is opened wide so the figures are the actors' own cost.
UNPACED = VenueSettings(orders_per_second=1_000_000.0, order_burst=1_000_000)


def spawn_gateway(rt: PykkaRuntime, venue: TimedVenue) -> Ref:
    return rt.spawn(
        lambda: VenueGatewayActor(lambda _clock: venue, UNPACED, market=None),
        name="venue",
    )


def spawn_stand_ins(rt: PykkaRuntime, *, supervised_positions: bool = False) -> None:
    """Risk grants everything; market and discovery are sinks (the harness plays them). The
    position supervisor is real when a benchmark crashes positions, a sink otherwise."""
    for name in ("market", "discovery"):
        rt.spawn(Sink, name=name)
    if supervised_positions:
        flags = Flags(intensity=1_000, period_s=1.0)
        rt.spawn(lambda: DynamicSupervisor(flags), name="positions")
    else:
        rt.spawn(Sink, name="positions")
    rt.spawn(GrantAll, name="risk")


def position_start(window: MarketWindow, outcome: Outcome) -> Callable[[], PositionActor]:
    """What the window starts for an entry of 20 shares at 0.50 (reservation r-<position>)."""
    pid = position_id(window_id(window), outcome)
    return partial(
        PositionActor,
        position_id=pid,
        window=window,
        outcome=outcome,
        reservation_id=f"r-{pid}",
        entry_price=D("0.50"),
        entry_size=D(20),
        purpose="entry",
        settings=POSITION_SETTINGS,
    )


def start_position(
    rt: PykkaRuntime, window: MarketWindow, outcome: Outcome, *, supervised: bool
) -> None:
    name = position_actor(position_id(window_id(window), outcome))
    start = position_start(window, outcome)
    if supervised:
        spec = ChildSpec(id=name, start=start, restart=Restart.TRANSIENT)
        rt.lookup("positions").ask(StartChild(spec=spec), 30.0)
    else:
        rt.spawn(start, name=name)


class Harness:
    """N windows with two filled positions each, wired on pykka with a ManualClock."""

    def __init__(self, windows: int, directory: Path, *, supervised: bool = False) -> None:
        self.supervised = supervised
        self.clock = ManualClock(T0 + 10)
        self.rt = PykkaRuntime(self.clock)
        self.windows = [self._window(i) for i in range(windows)]
        # As many windows again, watched but holding nothing: the background traffic goes to
        # them, so it loads every hop without overwriting a measured token's book.
        self.quiet_windows = [self._window(i) for i in range(windows, 2 * windows)]
        self.path = directory / f"hot-{windows}-{time.perf_counter_ns()}.duckdb"
        try:
            self._build(self.path)
        except BaseException:
            self.rt.shutdown()
            raise

    @staticmethod
    def _window(i: int) -> MarketWindow:
        # One window per asset and start makes an actor name; numbered assets keep N distinct.
        asset = f"{ASSETS[i % len(ASSETS)]}{i // len(ASSETS)}"
        return MarketWindow(
            asset=asset,
            timeframe_s=900,
            start=T0,
            end=T0 + 900,
            condition_id=ConditionId(f"0xhot{i}"),
            up_token=TokenId(f"up{i}"),
            down_token=TokenId(f"down{i}"),
            slug=f"{asset.lower()}-updown-15m-{int(T0)}-{i}",
        )

    def _build(self, path: Path) -> None:
        rt, now = self.rt, T0 + 10
        journal = rt.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
        self.venue_timed = TimedVenue(
            paper_venue(PaperSettings(starting_collateral=D(10_000_000)))(self.clock)
        )
        venue = spawn_gateway(rt, self.venue_timed)
        spawn_stand_ins(rt, supervised_positions=self.supervised)
        facts: list[Any] = []
        for window in self.windows:
            wid = window_id(window)
            venue.tell(WindowListed(window=window, timestamp=T0))
            for outcome, token in (
                (Outcome.UP, window.up_token),
                (Outcome.DOWN, window.down_token),
            ):
                venue.tell(_book(window, token, "0.48", "0.52", T0))
                pid = position_id(wid, outcome)
                facts.append(
                    CapitalReserved(
                        stream_id="risk",
                        ts=now,
                        reservation_id=f"r-{pid}",
                        owner=pid,
                        window_id=wid,
                        asset=window.asset,
                        amount=D(10),
                        purpose="entry",
                    )
                )
                facts.append(
                    EntryDecided(
                        stream_id=initial_state(window).stream_id,
                        ts=now,
                        window_id=wid,
                        position_id=pid,
                        outcome=outcome.value,
                        price=D("0.50"),
                        size=D(20),
                        purpose="entry",
                        reservation_id=f"r-{pid}",
                    )
                )
        journal.ask(AppendDurable(events=tuple(facts)), 60.0)
        for window in self.windows:
            for outcome in (Outcome.UP, Outcome.DOWN):
                start_position(rt, window, outcome, supervised=self.supervised)
        count = 2 * len(self.windows)
        wait_until(
            lambda: len(venue.ask(GetOpenOrders(), 30.0)) == count,
            300,
            "entries resting",
            poll_s=0.05,
        )
        for window in self.windows:
            for token in window.tokens:
                venue.tell(
                    LastTrade(
                        condition_id=window.condition_id,
                        token_id=token,
                        price=D("0.50"),
                        size=D(20),
                        side=Side.SELL,
                        timestamp=now,
                    )
                )
        positions = [
            rt.lookup(position_actor(position_id(window_id(w), o)))
            for w in self.windows
            for o in (Outcome.UP, Outcome.DOWN)
        ]
        wait_until(
            lambda: all(p.ask(GetPosition(), 30.0).size == 20 for p in positions),
            300,
            "fills",
            poll_s=0.05,
        )
        self.clock.advance(65)  # the exit plan follows a minute after the first fill
        wait_until(
            lambda: sum(o.price == D("0.99") for o in venue.ask(GetOpenOrders(), 30.0)) == count,
            300,
            "exit plans",
            poll_s=0.05,
        )
        # The exit plans' commits may still queue at the journal: let them drain before the
        # windows start (each reads its stream there, with a 5 s timeout).
        journal.ask(Flush(), 300.0)
        self.feed = rt.spawn(FeedActor, name="feed")
        strategy = StrategySettings()
        for window in self.windows + self.quiet_windows:
            name = window_actor(window_id(window))
            rt.spawn(partial(WindowActor, window=window, settings=strategy), name=name)
            self.feed.tell(WindowListed(window=window, timestamp=T0))
            self.feed.tell(
                RegisterWindow(
                    condition_id=window.condition_id,
                    tokens=window.tokens,
                    asset=window.asset,
                    actor_name=name,
                )
            )
            for token in window.tokens:
                self.feed.tell(_book(window, token, "0.48", "0.52", T0 + 70))
        self.feed.ask(GetFeedStats(), 30.0)
        self.venue = venue

    def quiet_events(self, count: int) -> list[BookSnapshot]:
        """Books of the quiet windows that move their market (mid stays near 0.50)."""
        tokens = [(w, t) for w in self.quiet_windows for t in w.tokens]
        quotes = (("0.47", "0.53"), ("0.48", "0.52"), ("0.49", "0.51"))
        return [
            _book(w, t, *quotes[i % len(quotes)], T0 + 75)
            for i, (w, t) in zip(range(count), itertools.cycle(tokens), strict=False)
        ]

    def stop_tick(self, window: MarketWindow, token: TokenId) -> BookSnapshot:
        low = _book(window, token, "0.13", "0.15", T0 + 80)
        self.venue.tell(low)  # the exchange sees the market first, as the market actor does
        return low

    def shutdown(self) -> None:
        self.rt.shutdown(5.0)


Tick = tuple[MarketWindow, TokenId]


def held_tokens(h: Harness) -> list[Tick]:
    return [(w, t) for w in h.windows for t in w.tokens]


def stop_latencies_us(h: Harness, ticks: list[Tick], background_per_s: float) -> list[float]:
    """One stop tick at a time into the feed, under a background of quiet events."""
    for w, t in ticks:
        h.stop_tick(w, t)  # exchange books first; the feed has not seen them yet
    h.venue.ask(GetOpenOrders(), 30.0)
    background = h.quiet_events(10_000)
    stop = threading.Event()

    def hum() -> None:
        for event in itertools.cycle(background):
            if stop.is_set():
                return
            h.feed.tell(event)
            time.sleep(1.0 / background_per_s)

    humming = threading.Thread(target=hum, name="bench-background", daemon=True)
    humming.start()
    latencies = []
    try:
        for w, t in ticks:
            low = _book(w, t, "0.13", "0.15", T0 + 80)
            sent = time.perf_counter()
            h.feed.tell(low)
            wait_until(partial(contains, h.venue_timed.placed, t), 30, f"the stop of {t}")
            latencies.append((h.venue_timed.placed[t] - sent) * 1e6)
    finally:
        stop.set()
        humming.join()
    return sorted(latencies)


def events_per_s_of(h: Harness, ticks: list[Tick], count: int) -> float:
    """Quiet events as fast as one producer can tell them, then a stop for each of `ticks`
    (which reaches the venue only after the feed has worked through everything before it)."""
    events = h.quiet_events(count)
    lows = [h.stop_tick(w, t) for w, t in ticks]
    h.venue.ask(GetOpenOrders(), 30.0)
    feed = h.feed
    started = time.perf_counter()
    for event in events:
        feed.tell(event)
    for low in lows:
        feed.tell(low)
    tokens = [t for _, t in ticks]
    wait_until(lambda: all(t in h.venue_timed.placed for t in tokens), 300, "every stop")
    last = max(h.venue_timed.placed[t] for t in tokens)
    return (count + len(lows)) / (last - started)


def tick_to_order_us(windows: int, directory: Path, background_per_s: float) -> list[float]:
    """Tick-to-stop-order latencies of every held token, in a harness of its own."""
    h = Harness(windows, directory)
    try:
        return stop_latencies_us(h, held_tokens(h), background_per_s)
    finally:
        h.shutdown()


def events_per_s(windows: int, directory: Path, count: int) -> float:
    """Sustained events per second, a stop for every held token, in a harness of its own."""
    h = Harness(windows, directory)
    try:
        return events_per_s_of(h, held_tokens(h), count)
    finally:
        h.shutdown()


def sampled_latency_and_rate(
    windows: int, directory: Path, background_per_s: float, count: int, every: int
) -> tuple[list[float], float, float]:
    """Both figures from one harness: the latency of every `every`-th held token, then the
    throughput with a stop for each of the others (a harness of 1,000 windows takes tens of
    seconds to build; two per repeat would not fit make bench's budget). Also returns the
    harness's build time in seconds."""
    building = time.perf_counter()
    h = Harness(windows, directory)
    built_s = time.perf_counter() - building
    try:
        held = held_tokens(h)
        sampled = held[::every]
        latencies = stop_latencies_us(h, sampled, background_per_s)
        measured = {token for _, token in sampled}
        rest = [(w, t) for w, t in held if t not in measured]
        return latencies, events_per_s_of(h, rest, count), built_s
    finally:
        h.shutdown()


# --- baselines -----------------------------------------------------------------------------------


class _Hop(Actor):
    """Bare chain link: forwards to the next name, or records the arrival time at the end."""

    def __init__(self, next_name: str | None, arrivals: list[float]) -> None:
        self._next: Ref | None = None
        self._next_name = next_name
        self._arrivals = arrivals

    def receive(self, message: object) -> object:
        if self._next_name is None:
            self._arrivals.append(time.perf_counter())
            return None
        if self._next is None:
            self._next = self.ctx.runtime.lookup(self._next_name)
        self._next.tell(message)
        return None


def _bare_chain() -> tuple[PykkaRuntime, Ref, list[float]]:
    runtime = PykkaRuntime(ManualClock(T0))
    arrivals: list[float] = []
    names = [f"hop{i}" for i in range(HOPS)]
    for i in reversed(range(HOPS)):
        following = names[i + 1] if i + 1 < HOPS else None
        runtime.spawn(partial(_Hop, following, arrivals), name=names[i])
    return runtime, runtime.lookup(names[0]), arrivals


def bare_chain_latency_us(samples: int) -> list[float]:
    runtime, head, arrivals = _bare_chain()
    try:
        latencies = []
        for i in range(samples):
            sent = time.perf_counter()
            head.tell(i)
            wait_until(partial(_longer_than, arrivals, i), 10, "the bare chain")
            latencies.append((arrivals[i] - sent) * 1e6)
        return sorted(latencies)
    finally:
        runtime.shutdown()


def bare_chain_per_s(count: int) -> float:
    runtime, head, arrivals = _bare_chain()
    try:
        started = time.perf_counter()
        for i in range(count):
            head.tell(i)
        wait_until(lambda: len(arrivals) == count, 120, "the bare chain")
        return count / (arrivals[-1] - started)
    finally:
        runtime.shutdown()


def simple_queue_latency_us(samples: int) -> list[float]:
    inbox: queue.SimpleQueue[float | None] = queue.SimpleQueue()
    arrivals: list[float] = []

    def consume() -> None:
        while inbox.get() is not None:
            arrivals.append(time.perf_counter())

    consumer = threading.Thread(target=consume, name="bench-queue", daemon=True)
    consumer.start()
    latencies = []
    for i in range(samples):
        sent = time.perf_counter()
        inbox.put(sent)
        wait_until(partial(_longer_than, arrivals, i), 10, "the queue hop")
        latencies.append((arrivals[i] - sent) * 1e6)
    inbox.put(None)
    consumer.join()
    return sorted(latencies)


# --- the report ----------------------------------------------------------------------------------


def _p(values: list[float]) -> tuple[float, float]:
    return percentile(values, 0.5), percentile(values, 0.99)


def run(*, tiny: bool = False) -> Report:
    sizes = (2,) if tiny else (10, 100, 1_000)
    repeats = 2 if tiny else 3
    # 1,000 windows (2,000 positions, 4,000 window actors, ~6,000 threads) take tens of seconds
    # to set up on two cores: one harness per repeat serves both figures, the latency on every
    # tenth held token (200 stops one after another), the throughput on the 1,800 others.
    every_at = {1_000: 10}
    events = 500 if tiny else 20_000
    background_per_s = 1_000.0
    report = Report(name="hot_path")
    chain_p = [_p(bare_chain_latency_us(200 if tiny else 2_000)) for _ in range(repeats)]
    queue_p = [_p(simple_queue_latency_us(200 if tiny else 2_000)) for _ in range(repeats)]
    chain_rate = summarise([bare_chain_per_s(events * 5) for _ in range(repeats)])
    chain50 = summarise([p[0] for p in chain_p])
    chain99 = summarise([p[1] for p in chain_p])
    queue50 = summarise([p[0] for p in queue_p])
    queue99 = summarise([p[1] for p in queue_p])
    report.add(
        Row(
            benchmark="hot_path",
            case=f"bare {HOPS}-actor chain, p50 / p99 us",
            figure=f"{chain50.text('{:,.0f}')} / {chain99.text('{:,.0f}')}",
        )
    )
    report.add(
        Row(
            benchmark="hot_path",
            case="bare SimpleQueue hop, p50 / p99 us",
            figure=f"{queue50.text('{:,.0f}')} / {queue99.text('{:,.0f}')}",
        )
    )
    report.add(
        Row(
            benchmark="hot_path",
            case=f"bare {HOPS}-actor chain, messages/s",
            figure=chain_rate.text("{:,.0f}"),
        )
    )
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-hot-") as tmp:
        directory = Path(tmp)
        for windows in sizes:
            every = every_at.get(windows, 1)
            try:
                if every == 1:
                    runs = [
                        _p(tick_to_order_us(windows, directory, background_per_s))
                        for _ in range(repeats)
                    ]
                    rates = [events_per_s(windows, directory, events) for _ in range(repeats)]
                else:
                    both = [
                        sampled_latency_and_rate(
                            windows, directory, background_per_s, events, every
                        )
                        for _ in range(repeats)
                    ]
                    runs = [_p(latencies) for latencies, _, _ in both]
                    rates = [rate for _, rate, _ in both]
                    builds = summarise([built for _, _, built in both])
                    report.note(
                        f"{windows:,} windows: one harness per repeat (built in "
                        f"{builds.text('{:,.0f}')} s: spawning, entries filled, exit plans "
                        "resting) for both figures: the latency of every "
                        f"{every}th held token ({2 * windows // every:,} stops one after "
                        f"another), then the throughput with stops for the "
                        f"{2 * windows - 2 * windows // every:,} others."
                    )
                rate = summarise(rates)
            except (TimeoutError, ActorDead, AskTimeout, StartFailed) as e:
                if windows < 1_000:
                    raise
                # The largest size can outgrow a loaded machine: say so rather than stop the run.
                report.note(f"{windows:,} windows not measured this run: {e!r}")
                continue
            p50 = summarise([r[0] for r in runs])
            p99 = summarise([r[1] for r in runs])
            sampled = "" if every == 1 else f", every {every}th token"
            report.add(
                Row(
                    benchmark="hot_path",
                    case=(
                        f"tick-to-stop-order, {windows} windows x 2 positions{sampled}, "
                        "p50 / p99 us"
                    ),
                    figure=f"{p50.text('{:,.0f}')} / {p99.text('{:,.0f}')}",
                    baseline=f"chain p50 {chain50.median:,.0f}, queue p50 {queue50.median:,.0f}",
                    ratio=(
                        f"{p50.median / chain50.median:,.1f}x chain, "
                        f"{p50.median / queue50.median:,.0f}x queue (p50)"
                    ),
                    data={"p50_us": p50, "p99_us": p99},
                )
            )
            report.add(
                Row(
                    benchmark="hot_path",
                    case=f"sustained market events/s into the feed, {windows} windows",
                    figure=rate.text("{:,.0f}"),
                    baseline=f"bare chain max {chain_rate.median:,.0f}",
                    ratio=f"{rate.median / chain_rate.median:.2f}x",
                    data={"events_per_s": rate},
                )
            )
    report.note(
        f"Latency: stop ticks one at a time, each under a background of quiet book events told "
        f"to the feed at up to {background_per_s:,.0f}/s. Between the tick and the sell the "
        "position decides the stop, cancels its exit plan at the venue, checks the venue for a "
        "fill of it, and journals the stop, the cancel and the sell's intent in one DuckDB "
        "commit (see the journal's durable append latency; it may share that commit with "
        "other positions') before the sell. The feed "
        "coalesces a burst into one update per token, so events/s can exceed what the hops "
        "below it carry."
    )
    return report
