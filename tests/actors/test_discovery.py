"""DiscoveryActor: one window actor per listed window of the configured markets, never twice."""

from decimal import Decimal
from functools import partial

import pytest

from actors.discovery import DiscoveryActor, GetDiscoveryStats, window_actor_start
from actors.feed import FeedActor
from actors.messages import (
    BookUpdate,
    Outcome,
    RegisterWindow,
    WindowResolved,
    window_actor,
    window_id,
)
from actors.sim_market import SimMarketActor
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from supervisors.dynamic import DynamicSupervisor
from supervisors.spec import Restart
from supervisors.supervisor import WhichChildren
from venues.sim.market import SimMarket, WindowPhase
from venues.sim.settings import SimAsset, SimSettings
from venues.types import ConditionId, MarketWindow, TokenId, WindowListed

D = Decimal
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Recorder(Actor):
    def __init__(self) -> None:
        self.messages: list[object] = []

    def receive(self, message: object) -> object:
        self.messages.append(message)
        return None


class TinyWindow(Actor):
    """Stands in for the window actor: records its life and what the feed sends it, and stops
    (Normal) once its market resolves, as the real one does after settlement."""

    def __init__(self, *, window: MarketWindow, lives: list, inbox: dict) -> None:
        self.window = window
        self.lives = lives
        self.inbox = inbox

    def on_start(self) -> None:
        self.lives.append((self.ctx.name, self.ctx.incarnation))

    def receive(self, message: object) -> object:
        self.inbox.setdefault(self.ctx.name, []).append(message)
        if isinstance(message, WindowResolved):
            self.ctx.stop_self()
        return None


def listed(asset: str, timeframe_s: int, start: float, n: int) -> WindowListed:
    window = MarketWindow(
        asset=asset,
        timeframe_s=timeframe_s,
        start=start,
        end=start + timeframe_s,
        condition_id=ConditionId(f"0xc{n}"),
        up_token=TokenId(f"up{n}"),
        down_token=TokenId(f"down{n}"),
        slug=f"{asset.lower()}-{n}",
    )
    return WindowListed(window=window, timestamp=start - 300)


class Tree:
    """A windows supervisor, discovery, and either a recorder or the real feed as "feed"."""

    def __init__(
        self, *, assets=("BTC",), timeframes_s=(300,), real_market: SimSettings | None = None
    ):
        self.rt = DeterministicRuntime(ManualClock(START))
        self.lives: list[tuple[str, int]] = []
        self.inbox: dict[str, list] = {}
        self.assets = assets
        self.timeframes_s = timeframes_s
        self.rt.spawn(DynamicSupervisor, name="windows")
        if real_market is None:
            self.feed = Recorder()
            self.rt.spawn(lambda: self.feed, name="feed")
        else:
            self.rt.spawn(lambda: SimMarketActor(real_market), name="market")
            self.rt.spawn(FeedActor, name="feed")
        self.discovery = self.start_discovery()

    def start_discovery(self, incarnation: int = 1):
        start = lambda w: partial(TinyWindow, window=w, lives=self.lives, inbox=self.inbox)  # noqa: E731
        ref = self.rt.spawn(
            lambda: DiscoveryActor(self.assets, self.timeframes_s, start_window=start),
            name="discovery",
            incarnation=incarnation,
        )
        self.rt.run_until_idle()
        return ref

    def tell(self, *messages) -> None:
        for message in messages:
            self.discovery.tell(message)
        self.rt.run_until_idle()

    def children(self):
        return self.rt.lookup("windows").ask(WhichChildren())

    def stats(self):
        return self.discovery.ask(GetDiscoveryStats())


def test_exactly_one_window_actor_per_listed_window_of_a_configured_asset_and_timeframe() -> None:
    tree = Tree()
    btc = listed("BTC", 300, START + 300, 1)
    tree.tell(btc, btc, listed("ETH", 300, START + 300, 2), listed("BTC", 900, START + 900, 3))
    name = window_actor(window_id(btc.window))
    assert [(c.id, c.restart) for c in tree.children()] == [(name, Restart.TRANSIENT)]
    assert tree.lives == [(name, 1)]
    registered = [m for m in tree.feed.messages if isinstance(m, RegisterWindow)]
    assert (
        registered
        == [
            RegisterWindow(
                condition_id=btc.window.condition_id,
                tokens=btc.window.tokens,
                asset="BTC",
                actor_name=name,
            )
        ]
        * 2
    )  # every listing registers again, so a restarted feed is repaired
    stats = tree.stats()
    assert (stats.listings_seen, stats.windows_started, stats.ignored) == (4, 1, 2)


def test_a_window_that_has_already_ended_gets_no_actor() -> None:
    tree = Tree()
    tree.rt.advance(600)
    tree.tell(listed("BTC", 300, START, 1))
    assert tree.children() == ()
    assert tree.stats().ended == 1


def test_a_window_that_finished_is_never_started_again() -> None:
    tree = Tree()
    btc = listed("BTC", 300, START + 300, 1)
    tree.tell(btc)
    name = window_actor(window_id(btc.window))
    tree.rt.lookup(name).tell(
        WindowResolved(
            condition_id=btc.window.condition_id, winner=Outcome.UP, timestamp=START + 630
        )
    )
    tree.rt.run_until_idle()
    tree.tell(btc)  # e.g. the listing replayed to a restarted discovery
    assert tree.lives == [(name, 1)]
    assert tree.children() == ()  # finished for good: the dynamic supervisor forgot it


def test_a_restarted_discovery_gets_the_listings_again_and_starts_nothing_twice() -> None:
    sim = SimSettings(
        assets=(
            SimAsset(symbol="BTC", start_price=D(95000), annual_volatility=0.5),
            SimAsset(symbol="ETH", start_price=D(3300), annual_volatility=0.65),
        ),
        timeframes_s=(300,),
    )
    tree = Tree(real_market=sim)
    tree.rt.advance(60)
    started = list(tree.lives)
    assert started  # the current window and the next one, for BTC only
    assert all(name.startswith("window/BTC-5m-") for name, _ in started)
    tree.rt.lookup("discovery").stop()
    tree.discovery = tree.start_discovery(incarnation=2)
    assert tree.lives == started
    assert tree.stats().already_running == len(started)


def test_end_to_end_windows_hear_their_own_market_and_stop_after_resolution() -> None:
    sim = SimSettings(
        assets=(
            SimAsset(symbol="BTC", start_price=D(95000), annual_volatility=0.5),
            SimAsset(symbol="ETH", start_price=D(3300), annual_volatility=0.65),
        ),
        timeframes_s=(300,),
    )
    tree = Tree(real_market=sim)
    tree.rt.advance(15 * 60)
    twin = SimMarket(sim, START)
    twin.advance(tree.rt.clock.now())
    btc_windows = [w.window for w in twin.windows() if w.window.asset == "BTC"]
    expected = [window_actor(window_id(w)) for w in btc_windows]
    assert sorted(name for name, _ in tree.lives) == sorted(expected)  # each exactly once
    phases = {w.window.condition_id: w.phase for w in twin.windows()}
    for window in btc_windows:
        name = window_actor(window_id(window))
        books = {m.book.token_id for m in tree.inbox.get(name, []) if isinstance(m, BookUpdate)}
        if phases[window.condition_id] is WindowPhase.LISTED:
            assert books == set()
        else:
            assert books == set(window.tokens)  # both of its tokens, and nobody else's
    resolved = [
        w.window
        for w in twin.windows()
        if w.window.asset == "BTC" and w.phase is WindowPhase.RESOLVED
    ]
    assert resolved
    alive = {c.id: c.is_alive for c in tree.children()}
    for window in resolved:
        name = window_actor(window_id(window))
        assert name not in alive  # stopped after resolution, and forgotten
        assert isinstance(tree.inbox[name][-1], WindowResolved)


def test_the_default_start_builds_the_real_window_actor_with_the_given_settings() -> None:
    module = pytest.importorskip("actors.window")
    settings_module = pytest.importorskip("strategy.settings")
    window = listed("BTC", 300, START, 1).window
    chosen = settings_module.StrategySettings()
    factory = window_actor_start(chosen)(window)
    assert factory.func is module.WindowActor
    assert factory.keywords == {"window": window, "settings": chosen}
    assert window_actor_start()(window).keywords["settings"] == settings_module.StrategySettings()


def test_a_start_that_found_no_supervisor_is_retried_until_the_window_runs() -> None:
    tree = Tree()
    tree.rt.lookup("windows").stop()
    btc = listed("BTC", 300, START + 300, 1)
    tree.tell(btc)
    assert tree.stats().retrying == 1
    tree.rt.spawn(DynamicSupervisor, name="windows", incarnation=2)
    tree.rt.advance(5)
    name = window_actor(window_id(btc.window))
    assert tree.lives == [(name, 1)]
    assert tree.stats().retrying == 0
    assert [m.actor_name for m in tree.feed.messages if isinstance(m, RegisterWindow)] == [name]
    tree.rt.advance(60)
    assert tree.lives == [(name, 1)]
