"""SimMarketActor: publishes the market's exact event sequence on the runtime clock."""

import time
from dataclasses import dataclass
from decimal import Decimal

import pytest

from actors.sim_market import (
    Feed,
    GetMarketStats,
    SimMarketActor,
    Subscribe,
    Tick,
    Unsubscribe,
)
from runtime.api import Actor
from runtime.clock import ManualClock, SimulatedClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime
from venues.sim.market import SimMarket
from venues.sim.settings import SimAsset, SimSettings
from venues.types import BookSnapshot, PriceChange, SpotPrice, WindowListed

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SETTINGS = SimSettings(
    assets=(
        SimAsset(symbol="BTC", start_price=Decimal(95000), annual_volatility=0.5),
        SimAsset(symbol="ETH", start_price=Decimal(3300), annual_volatility=0.65),
    ),
    timeframes_s=(300,),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRecorded:
    pass


class Recorder(Actor):
    """A subscriber that keeps everything it is told."""

    def __init__(self):
        self.events = []

    def receive(self, message):
        if isinstance(message, GetRecorded):
            return tuple(self.events)
        self.events.append(message)
        return None


def _reference(seconds, start=START, since=None):
    """What a bare SimMarket emits over the same period (optionally only after `since`)."""
    market = SimMarket(SETTINGS, start)
    if since is not None:
        market.advance(since)
    return market.advance(start + seconds)


@pytest.fixture
def runtime():
    rt = DeterministicRuntime(ManualClock(START))
    yield rt
    rt.shutdown()


def test_a_subscriber_receives_exactly_the_markets_event_sequence(runtime):
    feed = runtime.spawn(Recorder, name="feed")
    runtime.spawn(
        lambda: SimMarketActor(SETTINGS, subscribers=(Subscribe(name="feed"),)), name="sim"
    )
    runtime.advance(700)
    received = list(feed.ask(GetRecorded()))
    assert len(received) > 1000
    assert repr(received) == repr(_reference(700))


def test_each_step_runs_once_on_its_own_tick(runtime):
    sim = runtime.spawn(lambda: SimMarketActor(SETTINGS), name="sim")
    runtime.advance(120)
    sim.tell(Tick())  # by hand: runs nothing new and must not start a second timer chain
    runtime.advance(60)
    stats = sim.ask(GetMarketStats())
    assert stats.market.steps == 181
    assert stats.market.simulated_until == START + 180
    live_timers = [due for due in runtime._timers if not due.handle.cancelled]
    assert len(live_timers) == 1


def test_a_late_subscriber_first_gets_a_catch_up_then_the_live_events(runtime):
    feed = runtime.spawn(Recorder, name="feed")
    sim = runtime.spawn(
        lambda: SimMarketActor(SETTINGS, subscribers=(Subscribe(name="feed"),)), name="sim"
    )
    runtime.advance(400)
    late = runtime.spawn(Recorder, name="late")
    sim.tell(Subscribe(name="late"))
    runtime.run_until_idle()
    catch_up = late.ask(GetRecorded())
    assert [type(e) for e in catch_up[:2]] == [SpotPrice, SpotPrice]
    listed = [e.window for e in catch_up if isinstance(e, WindowListed)]
    open_windows = [w for w in listed if w.start <= START + 400 < w.end]
    assert {w.asset for w in open_windows} == {"BTC", "ETH"}
    snapshots = {e.token_id for e in catch_up if isinstance(e, BookSnapshot) and e.bids}
    assert snapshots == {token for w in open_windows for token in w.tokens}
    before = len(feed.ask(GetRecorded()))
    runtime.advance(30)
    assert late.ask(GetRecorded())[len(catch_up) :] == feed.ask(GetRecorded())[before:]


def test_a_dead_subscriber_is_skipped_and_counted_while_others_still_receive(runtime):
    feed = runtime.spawn(Recorder, name="feed")
    sim = runtime.spawn(
        lambda: SimMarketActor(
            SETTINGS, subscribers=(Subscribe(name="ghost"), Subscribe(name="feed"))
        ),
        name="sim",
    )
    runtime.advance(60)
    stats = sim.ask(GetMarketStats())
    received = list(feed.ask(GetRecorded()))
    assert sim.is_alive()
    assert stats.dead_subscribers == ("ghost",)
    assert stats.undelivered_to_dead == len(received) == stats.market.events_total
    assert stats.deliveries == len(received)


def test_a_subscriber_that_comes_back_after_dying_gets_a_catch_up_first(runtime):
    first = runtime.spawn(Recorder, name="feed")
    sim = runtime.spawn(
        lambda: SimMarketActor(SETTINGS, subscribers=(Subscribe(name="feed"),)), name="sim"
    )
    runtime.advance(100)
    first.stop()
    runtime.advance(20)
    assert sim.ask(GetMarketStats()).dead_subscribers == ("feed",)
    second = runtime.spawn(Recorder, name="feed", incarnation=2)
    runtime.advance(1)
    received = list(second.ask(GetRecorded()))
    catch_up = SimMarket(SETTINGS, START)
    catch_up.advance(START + 120)
    assert repr(received) == repr(catch_up.snapshot_events() + _reference(121, since=START + 120))
    assert sim.ask(GetMarketStats()).dead_subscribers == ()


def test_a_subscriber_gets_only_the_feeds_it_asked_for(runtime):
    market_only = runtime.spawn(Recorder, name="market_only")
    spot_only = runtime.spawn(Recorder, name="spot_only")
    everything = runtime.spawn(Recorder, name="everything")
    subscribers = (
        Subscribe(name="market_only", feeds=frozenset({Feed.MARKET})),
        Subscribe(name="spot_only", feeds=frozenset({Feed.SPOT})),
        Subscribe(name="everything"),
    )
    runtime.spawn(lambda: SimMarketActor(SETTINGS, subscribers=subscribers), name="sim")
    runtime.advance(60)
    all_events = list(everything.ask(GetRecorded()))
    assert list(market_only.ask(GetRecorded())) == [
        e for e in all_events if not isinstance(e, SpotPrice)
    ]
    assert list(spot_only.ask(GetRecorded())) == [e for e in all_events if isinstance(e, SpotPrice)]
    assert len(all_events) > len(market_only.ask(GetRecorded())) > 0


def test_unsubscribing_stops_the_events(runtime):
    feed = runtime.spawn(Recorder, name="feed")
    sim = runtime.spawn(
        lambda: SimMarketActor(SETTINGS, subscribers=(Subscribe(name="feed"),)), name="sim"
    )
    runtime.advance(10)
    sim.tell(Unsubscribe(name="feed"))
    count = len(feed.ask(GetRecorded()))
    runtime.advance(10)
    assert len(feed.ask(GetRecorded())) == count
    assert sim.ask(GetMarketStats()).subscribers == ()


def test_a_restarted_market_with_a_start_time_continues_the_same_path(runtime):
    runtime.clock.set(START + 500)
    feed = runtime.spawn(Recorder, name="feed")
    runtime.spawn(
        lambda: SimMarketActor(SETTINGS, subscribers=(Subscribe(name="feed"),), start_time=START),
        name="sim",
        incarnation=2,
    )
    runtime.advance(50)
    received = list(feed.ask(GetRecorded()))
    before_restart = SimMarket(SETTINGS, START)
    before_restart.advance(START + 500)
    expected = before_restart.snapshot_events() + before_restart.advance(START + 550)
    assert repr(received) == repr(expected)


def test_the_stats_report_windows_and_events(runtime):
    sim = runtime.spawn(lambda: SimMarketActor(SETTINGS), name="sim")
    runtime.advance(1200)
    stats = sim.ask(GetMarketStats())
    assert stats.market.windows_opened == 2 * 5
    assert stats.market.windows_resolved == 2 * 3
    assert dict(stats.market.events_by_kind)["WindowListed"] == 2 * 6
    assert stats.deliveries == 0


def test_on_threads_with_an_accelerated_clock_the_books_arrive_consistent():
    runtime = PykkaRuntime(SimulatedClock(start=START, speed=2000.0))
    try:
        feed = runtime.spawn(Recorder, name="feed")
        # start_time pins the step grid to START, as in the reference run.
        runtime.spawn(
            lambda: SimMarketActor(
                SETTINGS, subscribers=(Subscribe(name="feed"),), start_time=START
            ),
            name="sim",
        )
        deadline = time.monotonic() + 10
        received = ()
        while time.monotonic() < deadline:
            received = list(feed.ask(GetRecorded()))
            if sum(isinstance(e, PriceChange) for e in received) > 50:
                break
            time.sleep(0.02)
    finally:
        runtime.shutdown()
    assert sum(isinstance(e, PriceChange) for e in received) > 50
    # Whatever the timer jitter, the events are a prefix of the one deterministic sequence.
    expected = _reference(received[-1].timestamp - START)
    assert repr(list(received)) == repr(expected[: len(received)])
