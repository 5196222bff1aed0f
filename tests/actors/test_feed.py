"""FeedActor: keeps the market's books and routes market data to the registered windows."""

from decimal import Decimal

import pytest

from actors.feed import FeedActor, GetBook, GetFeedStats, ReplayListings
from actors.messages import (
    BookUpdate,
    Outcome,
    RegisterWindow,
    SpotUpdate,
    WindowOpened,
    WindowResolved,
)
from actors.sim_market import ALL_FEEDS, SimMarketActor, Subscribe
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from venues.sim.market import SimMarket, WindowPhase
from venues.sim.settings import SimAsset, SimSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    PriceChange,
    PriceLevelChange,
    Side,
    SpotPrice,
    TickSizeChange,
    TokenId,
    WindowListed,
)

D = Decimal
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Recorder(Actor):
    """Keeps every message it is told."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    def receive(self, message: object) -> object:
        self.messages.append(message)
        return None

    def of(self, kind: type) -> list:
        return [m for m in self.messages if isinstance(m, kind)]


def make_window(asset: str, start: float, n: int) -> MarketWindow:
    return MarketWindow(
        asset=asset,
        timeframe_s=300,
        start=start,
        end=start + 300,
        condition_id=ConditionId(f"0xc{n}"),
        up_token=TokenId(f"up{n}"),
        down_token=TokenId(f"down{n}"),
        slug=f"{asset.lower()}-updown-5m-{int(start)}",
    )


def book(window: MarketWindow, token: TokenId, bids=(), asks=(), ts=START, tick="0.01"):
    return BookSnapshot(
        condition_id=window.condition_id,
        token_id=token,
        bids=tuple(BookLevel(D(p), D(s)) for p, s in bids),
        asks=tuple(BookLevel(D(p), D(s)) for p, s in asks),
        tick_size=D(tick),
        timestamp=ts,
    )


def level(token: TokenId, price: str, size: int, side: Side) -> PriceLevelChange:
    return PriceLevelChange(
        token_id=token, price=D(price), size=D(size), side=side, best_bid=None, best_ask=None
    )


class Hand:
    """A feed driven by hand: a recorder stands in for the market, discovery and two windows."""

    def __init__(self) -> None:
        self.rt = DeterministicRuntime(ManualClock(START))
        self.market = Recorder()
        self.discovery = Recorder()
        self.btc = Recorder()
        self.eth = Recorder()
        self.rt.spawn(lambda: self.market, name="market")
        self.rt.spawn(lambda: self.discovery, name="discovery")
        self.rt.spawn(lambda: self.btc, name="window/btc")
        self.rt.spawn(lambda: self.eth, name="window/eth")
        self.feed = self.rt.spawn(FeedActor, name="feed")
        self.w_btc = make_window("BTC", START, 1)
        self.w_eth = make_window("ETH", START, 2)
        for window in (self.w_btc, self.w_eth):
            self.tell(WindowListed(window=window, timestamp=START - 60))

    def tell(self, *messages: object) -> None:
        for message in messages:
            self.feed.tell(message)
        self.rt.run_until_idle()

    def register(self, window: MarketWindow, name: str) -> None:
        self.tell(
            RegisterWindow(
                condition_id=window.condition_id,
                tokens=window.tokens,
                asset=window.asset,
                actor_name=name,
            )
        )


@pytest.fixture
def hand() -> Hand:
    return Hand()


def test_the_feed_subscribes_to_every_market_feed_and_forwards_listings_to_discovery(hand) -> None:
    assert hand.market.messages == [Subscribe(name="feed", feeds=ALL_FEEDS)]
    assert [m.window for m in hand.discovery.of(WindowListed)] == [hand.w_btc, hand.w_eth]


def test_a_registered_window_gets_its_books_spot_and_resolution_and_nothing_of_others(
    hand,
) -> None:
    hand.register(hand.w_btc, "window/btc")
    up, down = hand.w_btc.tokens
    hand.tell(
        SpotPrice(asset="BTC", price=D(95000), timestamp=START),
        SpotPrice(asset="ETH", price=D(3300), timestamp=START),
        book(hand.w_btc, up, bids=[("0.49", 10)], asks=[("0.51", 10)]),
        book(hand.w_btc, down, bids=[("0.49", 10)], asks=[("0.51", 10)]),
        book(hand.w_eth, hand.w_eth.up_token, bids=[("0.30", 1)]),
        MarketResolved(
            condition_id=hand.w_eth.condition_id,
            winning_token=hand.w_eth.up_token,
            winning_outcome="Up",
            timestamp=START + 330,
        ),
        MarketResolved(
            condition_id=hand.w_btc.condition_id,
            winning_token=down,
            winning_outcome="Down",
            timestamp=START + 330,
        ),
    )
    kinds = [type(m).__name__ for m in hand.btc.messages]
    assert kinds == ["SpotUpdate", "WindowOpened", "BookUpdate", "BookUpdate", "WindowResolved"]
    assert hand.btc.of(SpotUpdate) == [SpotUpdate(asset="BTC", price=D(95000), timestamp=START)]
    assert {m.book.token_id for m in hand.btc.of(BookUpdate)} == {up, down}
    assert hand.btc.of(WindowOpened) == [WindowOpened(window=hand.w_btc)]
    assert hand.btc.of(WindowResolved) == [
        WindowResolved(
            condition_id=hand.w_btc.condition_id, winner=Outcome.DOWN, timestamp=START + 330
        )
    ]
    assert hand.eth.messages == []


def test_a_burst_of_changes_reaches_the_window_as_one_book_update_with_the_final_state(
    hand,
) -> None:
    up = hand.w_btc.up_token
    hand.register(hand.w_btc, "window/btc")
    hand.tell(book(hand.w_btc, up, bids=[("0.49", 10)], asks=[("0.51", 10)]))
    hand.btc.messages.clear()
    # One market step: a trade and two level changes, all in the mailbox before the feed runs.
    hand.feed.tell(
        PriceChange(
            condition_id=hand.w_btc.condition_id,
            changes=(level(up, "0.49", 4, Side.BUY),),
            timestamp=START + 1,
        )
    )
    hand.feed.tell(
        LastTrade(
            condition_id=hand.w_btc.condition_id,
            token_id=up,
            price=D("0.49"),
            size=D(4),
            side=Side.SELL,
            timestamp=START + 1,
        )
    )
    hand.feed.tell(
        PriceChange(
            condition_id=hand.w_btc.condition_id,
            changes=(level(up, "0.49", 0, Side.BUY), level(up, "0.48", 7, Side.BUY)),
            timestamp=START + 1,
        )
    )
    hand.rt.run_until_idle()
    updates = hand.btc.of(BookUpdate)
    assert len(updates) == 1
    assert updates[0].book.bids == (BookLevel(D("0.48"), D(7)),)
    assert updates[0].book.asks == (BookLevel(D("0.51"), D(10)),)


def test_changes_between_a_tick_size_change_and_the_next_snapshot_are_not_applied(hand) -> None:
    up = hand.w_btc.up_token
    cid = hand.w_btc.condition_id
    hand.tell(
        book(hand.w_btc, up, bids=[("0.96", 10)], asks=[("0.97", 10)]),
        TickSizeChange(
            condition_id=cid,
            token_id=up,
            old_tick_size=D("0.01"),
            new_tick_size=D("0.001"),
            timestamp=START + 1,
        ),
        PriceChange(
            condition_id=cid, changes=(level(up, "0.965", 5, Side.BUY),), timestamp=START + 1
        ),
    )
    stale = hand.feed.ask(GetBook(token_id=up))
    assert D("0.965") not in [lvl.price for lvl in stale.bids]
    assert hand.feed.ask(GetFeedStats()).changes_ignored == 1
    hand.tell(
        book(hand.w_btc, up, bids=[("0.961", 3)], asks=[("0.962", 3)], tick="0.001"),
        PriceChange(
            condition_id=cid, changes=(level(up, "0.960", 5, Side.BUY),), timestamp=START + 2
        ),
    )
    fresh = hand.feed.ask(GetBook(token_id=up))
    assert fresh.bids == (BookLevel(D("0.961"), D(3)), BookLevel(D("0.960"), D(5)))
    assert fresh.tick_size == D("0.001")


def test_a_window_registered_after_its_market_opened_is_caught_up_at_once(hand) -> None:
    up, down = hand.w_btc.tokens
    hand.tell(
        SpotPrice(asset="BTC", price=D(95001), timestamp=START + 5),
        book(hand.w_btc, up, bids=[("0.49", 10)], ts=START + 5),
        book(hand.w_btc, down, asks=[("0.51", 10)], ts=START + 5),
    )
    hand.register(hand.w_btc, "window/btc")
    kinds = [type(m).__name__ for m in hand.btc.messages]
    assert kinds == ["WindowOpened", "BookUpdate", "BookUpdate", "SpotUpdate"]
    hand.register(hand.w_btc, "window/btc")  # discovery repeats itself on every listing
    assert len(hand.btc.messages) == 4


def test_a_resolved_market_is_forgotten_books_and_route(hand) -> None:
    up = hand.w_btc.up_token
    hand.register(hand.w_btc, "window/btc")
    hand.tell(
        book(hand.w_btc, up, bids=[("0.49", 10)]),
        MarketResolved(
            condition_id=hand.w_btc.condition_id,
            winning_token=up,
            winning_outcome="Up",
            timestamp=START + 330,
        ),
    )
    assert hand.feed.ask(GetBook(token_id=up)) is None
    stats = hand.feed.ask(GetFeedStats())
    assert stats.windows_routed == 0
    assert stats.books == 0
    hand.btc.messages.clear()
    hand.tell(ReplayListings(to="discovery"))
    assert [m.window for m in hand.discovery.of(WindowListed)][-1:] == [hand.w_eth]


def test_updates_for_a_window_that_is_not_alive_are_counted(hand) -> None:
    hand.register(hand.w_btc, "window/gone")
    hand.tell(SpotPrice(asset="BTC", price=D(1), timestamp=START))
    assert hand.feed.ask(GetFeedStats()).undeliverable == 1


# --- against the simulated market ------------------------------------------------------------

SIM = SimSettings(
    assets=(
        SimAsset(symbol="BTC", start_price=D(95000), annual_volatility=0.5),
        SimAsset(symbol="ETH", start_price=D(3300), annual_volatility=0.65),
    ),
    timeframes_s=(300,),
    # A tick boundary near 0.5 makes the tick size change often, so the comparison covers it.
    fine_tick_above=0.53,
    coarse_tick_within=0.52,
)


def _assert_books_match(rt, feed, twin: SimMarket) -> int:
    compared = 0
    for sim_window in twin.windows():
        for token in sim_window.window.tokens:
            ours = feed.ask(GetBook(token_id=token))
            match sim_window.phase:
                case WindowPhase.LISTED | WindowPhase.RESOLVED:
                    assert ours is None, (sim_window.phase, token)
                case WindowPhase.OPEN | WindowPhase.CLOSED:
                    theirs = twin.book(token)
                    assert ours is not None, token
                    assert (ours.bids, ours.asks, ours.tick_size) == (
                        theirs.bids,
                        theirs.asks,
                        theirs.tick_size,
                    ), (token, rt.clock.now())
                    compared += 1
    return compared


def test_the_feeds_books_are_the_simulated_markets_own_books_at_every_checkpoint() -> None:
    rt = DeterministicRuntime(ManualClock(START))
    rt.spawn(lambda: SimMarketActor(SIM), name="market")
    rt.spawn(Recorder, name="discovery")
    feed = rt.spawn(FeedActor, name="feed")
    twin = SimMarket(SIM, START)
    compared = 0
    tick_changes = 0
    for _ in range(40):  # 20 simulated minutes: windows listed, opened, closed and resolved
        rt.advance(30)
        events = twin.advance(rt.clock.now())
        tick_changes += sum(isinstance(e, TickSizeChange) for e in events)
        compared += _assert_books_match(rt, feed, twin)
    assert compared > 100
    assert tick_changes > 0
    assert twin.stats.windows_resolved >= 4


def test_a_restarted_feed_gets_the_books_back_from_the_markets_catch_up() -> None:
    rt = DeterministicRuntime(ManualClock(START))
    rt.spawn(lambda: SimMarketActor(SIM), name="market")
    discovery = Recorder()
    rt.spawn(lambda: discovery, name="discovery")
    rt.spawn(FeedActor, name="feed")
    twin = SimMarket(SIM, START)
    rt.advance(400)
    rt.lookup("feed").stop()
    rt.advance(20)  # the market skips the dead subscriber
    feed = rt.spawn(FeedActor, name="feed", incarnation=2)
    rt.run_until_idle()
    twin.advance(rt.clock.now())
    assert _assert_books_match(rt, feed, twin) > 0
    # The listings come again through the catch-up, so discovery can register the windows.
    listed = [m.window.condition_id for m in discovery.of(WindowListed)]
    unresolved = [
        w.window.condition_id for w in twin.windows() if w.phase is not WindowPhase.RESOLVED
    ]
    assert set(unresolved) <= set(listed[-len(unresolved) :])
