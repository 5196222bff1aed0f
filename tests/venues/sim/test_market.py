"""SimMarket: window lifecycle, resolution, books that consumers can rebuild, determinism."""

import math
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.sim.market import SimMarket, WindowPhase
from venues.sim.settings import SimAsset, SimSettings, timeframe_label
from venues.types import (
    BookSnapshot,
    LastTrade,
    MarketResolved,
    PriceChange,
    Side,
    SpotPrice,
    TickSizeChange,
    WindowListed,
)

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of every timeframe
BTC = SimAsset(symbol="BTC", start_price=Decimal(95000), annual_volatility=0.5)
# Volatile enough that most windows run to an extreme and change tick size.
WILD = SimAsset(symbol="WILD", start_price=Decimal(100), annual_volatility=3.0, jumps_per_hour=20)


def _run(settings, seconds, start=START, chunk=1.0):
    market = SimMarket(settings, start)
    events = []
    t = start
    while t < start + seconds:
        t = min(t + chunk, start + seconds)
        events.extend(market.advance(t))
    return market, events


class BookReplica:
    """What a consumer (the paper exchange) rebuilds from the events alone."""

    def __init__(self):
        self.bids = defaultdict(dict)
        self.asks = defaultdict(dict)
        self.ticks = {}
        self.windows = {}
        self.awaiting_snapshot = set()

    def apply(self, event):
        match event:
            case WindowListed(window=window):
                self.windows[window.condition_id] = window
                self.ticks.update(dict.fromkeys(window.tokens, window.tick_size))
            case BookSnapshot(token_id=token):
                assert event.condition_id in self.windows, "a book arrived before its listing"
                assert event.tick_size == self.ticks[token]
                self.bids[token] = {lv.price: lv.size for lv in event.bids}
                self.asks[token] = {lv.price: lv.size for lv in event.asks}
                self.awaiting_snapshot.discard(token)
            case PriceChange(changes=changes):
                for change in changes:
                    assert change.token_id not in self.awaiting_snapshot
                    side = self.bids if change.side is Side.BUY else self.asks
                    if change.size == 0:
                        del side[change.token_id][change.price]
                    else:
                        side[change.token_id][change.price] = change.size
                for change in changes:
                    assert change.best_bid == self.best_bid(change.token_id)
                    assert change.best_ask == self.best_ask(change.token_id)
            case TickSizeChange(token_id=token):
                assert event.old_tick_size == self.ticks[token]
                self.ticks[token] = event.new_tick_size
                self.awaiting_snapshot.add(token)
            case LastTrade() | MarketResolved() | SpotPrice():
                pass
            case _:
                raise AssertionError(f"unexpected event {event!r}")

    def best_bid(self, token):
        return max(self.bids[token], default=None)

    def best_ask(self, token):
        return min(self.asks[token], default=None)

    def book(self, token):
        return (
            sorted(self.bids[token].items(), reverse=True),
            sorted(self.asks[token].items()),
        )


def _levels(snapshot):
    return (
        [(lv.price, lv.size) for lv in snapshot.bids],
        [(lv.price, lv.size) for lv in snapshot.asks],
    )


# --- windows: alignment, listing, lifecycle ------------------------------------------------------


@pytest.mark.parametrize("timeframe_s", [300, 900, 3600])
def test_windows_are_aligned_to_wall_clock_multiples_of_their_length(timeframe_s):
    sim = SimSettings(assets=(BTC,), timeframes_s=(timeframe_s,), listing_lead_s=60)
    start = START + 1234
    _, events = _run(sim, 2 * timeframe_s, start=start, chunk=97.0)
    listed = [e.window for e in events if isinstance(e, WindowListed)]
    assert listed[0].start == START + 1234 - 1234 % timeframe_s  # the one in progress
    assert len(listed) >= 3
    for window in listed:
        assert window.start % timeframe_s == 0
        assert window.end - window.start == timeframe_s
        assert window.slug == f"btc-updown-{timeframe_label(timeframe_s)}-{int(window.start)}"
    assert [w.start for w in listed] == [
        listed[0].start + i * timeframe_s for i in range(len(listed))
    ]


def test_windows_are_listed_listing_lead_before_they_open_and_open_at_their_start():
    sim = SimSettings(assets=(BTC,), timeframes_s=(300,), listing_lead_s=120)
    _, events = _run(sim, 1800)
    listed_at = {e.window.condition_id: e.timestamp for e in events if isinstance(e, WindowListed)}
    first_snapshot_at = {}
    for e in events:
        if isinstance(e, BookSnapshot):
            first_snapshot_at.setdefault(e.condition_id, e.timestamp)
    windows = {e.window.condition_id: e.window for e in events if isinstance(e, WindowListed)}
    for condition_id, window in windows.items():
        if window.start > START:
            assert listed_at[condition_id] == window.start - 120
        else:
            assert listed_at[condition_id] == START  # in progress when the simulation began
        if window.start <= START + 1800:
            assert first_snapshot_at[condition_id] == max(window.start, START)


def test_several_timeframes_run_side_by_side():
    sim = SimSettings(assets=(BTC,), timeframes_s=(300, 900, 3600))
    market, events = _run(sim, 3600, chunk=600.0)
    slugs = {e.window.slug.split("-")[2] for e in events if isinstance(e, WindowListed)}
    assert slugs == {"5m", "15m", "1h"}
    assert market.stats.windows_resolved == 11 + 3  # 5m and 15m windows ended + 30 s ago


def test_a_window_is_listed_opened_closed_and_resolved_in_that_order():
    sim = SimSettings(assets=(BTC,), timeframes_s=(300,), resolution_delay_s=30)
    market, events = _run(sim, 700)
    window = next(e.window for e in events if isinstance(e, WindowListed))
    mine = [e for e in events if getattr(e, "condition_id", None) == window.condition_id]
    assert isinstance(mine[0], BookSnapshot)
    assert mine[0].timestamp == START
    closing = [e for e in mine if isinstance(e, BookSnapshot) and e.timestamp == window.end]
    assert [(s.bids, s.asks) for s in closing] == [((), ()), ((), ())]
    after_end = [e for e in mine if e.timestamp > window.end]
    assert [type(e) for e in after_end] == [MarketResolved]
    assert after_end[0].timestamp == window.end + 30
    assert market.window(window.condition_id).phase is WindowPhase.RESOLVED
    assert not [e for e in mine if window.end < e.timestamp < window.end + 30]


def test_books_are_empty_before_a_window_opens_and_after_it_closes():
    sim = SimSettings(assets=(BTC,), timeframes_s=(300,), listing_lead_s=200)
    market, events = _run(sim, 150)
    upcoming = next(
        e.window for e in events if isinstance(e, WindowListed) and e.window.start > START
    )
    assert market.book(upcoming.up_token).bids == ()
    assert market.window(upcoming.condition_id).phase is WindowPhase.LISTED
    market.advance(START + 300)
    assert market.book(upcoming.up_token).bids != ()
    market.advance(START + 600)
    assert market.book(upcoming.up_token).bids == ()
    assert market.window(upcoming.condition_id).phase is WindowPhase.CLOSED


# --- resolution ---------------------------------------------------------------------------------


def test_the_price_to_beat_is_the_spot_at_the_start_and_up_wins_at_or_above_it():
    sim = SimSettings(timeframes_s=(300,))
    market, events = _run(sim, 2400)
    spot = {(e.asset, e.timestamp): e.price for e in events if isinstance(e, SpotPrice)}
    resolutions = {e.condition_id: e for e in events if isinstance(e, MarketResolved)}
    assert len(resolutions) == 4 * 7
    outcomes = set()
    for condition_id, resolved in resolutions.items():
        view = market.window(condition_id)
        window = view.window
        assert view.price_to_beat == spot[(window.asset, window.start)]
        assert view.final_price == spot[(window.asset, window.end)]
        is_up = view.final_price >= view.price_to_beat
        assert resolved.winning_outcome == view.winning_outcome == ("Up" if is_up else "Down")
        assert resolved.winning_token == (window.up_token if is_up else window.down_token)
        assert resolved.timestamp == window.end + sim.resolution_delay_s
        outcomes.add(resolved.winning_outcome)
    assert outcomes == {"Up", "Down"}


def test_a_tie_resolves_up():
    frozen = BTC.model_copy(update={"annual_volatility": 0.0, "jumps_per_hour": 0.0})
    sim = SimSettings(assets=(frozen,), timeframes_s=(300,))
    market, events = _run(sim, 400)
    (resolved,) = [e for e in events if isinstance(e, MarketResolved)]
    view = market.window(resolved.condition_id)
    assert view.price_to_beat == view.final_price
    assert resolved.winning_outcome == "Up"
    assert resolved.winning_token == view.window.up_token


# --- books ---------------------------------------------------------------------------------------


def _assert_sane_books(market):
    for view in market.windows():
        if view.phase is not WindowPhase.OPEN:
            continue
        up = market.book(view.window.up_token)
        down = market.book(view.window.down_token)
        tick = view.tick_size
        for book in (up, down):
            assert book.tick_size == tick
            prices = [lv.price for lv in book.bids + book.asks]
            assert prices
            assert all(tick <= p <= 1 - tick and p % tick == 0 for p in prices)
            # A taker can empty the one level left next to 0 or 1 until the next requote.
            if book.bids and book.asks:
                assert book.bids[0].price < book.asks[0].price
        assert [(1 - lv.price, lv.size) for lv in up.asks] == _levels(down)[0]
        assert [(1 - lv.price, lv.size) for lv in up.bids] == _levels(down)[1]


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    seconds=st.integers(1, 700),
    chunk=st.sampled_from([1.0, 7.0, 60.0]),
)
def test_books_sit_on_the_grid_inside_the_edges_with_down_mirroring_up(seed, seconds, chunk):
    sim = SimSettings(seed=seed, assets=(BTC, WILD), timeframes_s=(300,))
    market = SimMarket(sim, START)
    t = START
    while t < START + seconds:
        t = min(t + chunk, START + seconds)
        market.advance(t)
        _assert_sane_books(market)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), seconds=st.integers(1, 900))
def test_a_consumer_rebuilds_every_book_exactly_from_the_events(seed, seconds):
    sim = SimSettings(seed=seed, assets=(BTC, WILD), timeframes_s=(300,))
    market, events = _run(sim, seconds)
    replica = BookReplica()
    for event in events:
        replica.apply(event)
    assert not replica.awaiting_snapshot
    for view in market.windows():
        for token in view.window.tokens:
            assert replica.book(token) == _levels(market.book(token))


def test_a_trade_crosses_at_the_best_price_of_its_token_and_depletes_it():
    sim = SimSettings(assets=(BTC, WILD), timeframes_s=(300,))
    _, events = _run(sim, 900)
    replica = BookReplica()
    trades = 0
    for index, event in enumerate(events):
        if isinstance(event, LastTrade):
            trades += 1
            token = event.token_id
            if event.side is Side.BUY:
                best, book = replica.best_ask(token), replica.asks[token]
            else:
                best, book = replica.best_bid(token), replica.bids[token]
            assert event.price == best
            assert 0 < event.size <= book[best]
            follow_up = events[index + 1]
            assert isinstance(follow_up, PriceChange)
            (mine,) = [c for c in follow_up.changes if c.token_id == token]
            assert mine.price == best
            assert mine.size == book[best] - event.size
        replica.apply(event)
    assert trades > 100
    sides = {e.side for e in events if isinstance(e, LastTrade)}
    assert sides == {Side.BUY, Side.SELL}


def test_book_mids_track_the_fair_value():
    sim = SimSettings(timeframes_s=(900,))
    market = SimMarket(sim, START)
    pairs = []
    for second in range(1, 2 * 900):
        market.advance(START + second)
        for view in market.windows():
            if view.phase is WindowPhase.OPEN and view.fair_up_probability is not None:
                mid = market.book(view.window.up_token).midpoint
                if mid is not None:  # None while a taker has emptied an edge level
                    pairs.append((view.fair_up_probability, float(mid)))
    fairs, mids = zip(*pairs, strict=True)
    mean_fair, mean_mid = sum(fairs) / len(fairs), sum(mids) / len(mids)
    covariance = sum((f - mean_fair) * (m - mean_mid) for f, m in pairs)
    correlation = covariance / math.sqrt(
        sum((f - mean_fair) ** 2 for f in fairs) * sum((m - mean_mid) ** 2 for m in mids)
    )
    mean_error = sum(abs(f - m) for f, m in pairs) / len(pairs)
    assert correlation > 0.97
    assert mean_error < 0.03
    assert max(abs(f - m) for f, m in pairs) < 0.3  # lag near the end; never a different market


def test_a_tick_size_change_is_followed_by_fresh_snapshots_on_the_new_grid():
    sim = SimSettings(assets=(WILD,), timeframes_s=(300,))
    _, events = _run(sim, 3600)
    changes = [i for i, e in enumerate(events) if isinstance(e, TickSizeChange)]
    assert len(changes) >= 4
    directions = set()
    for index in changes:
        change = events[index]
        directions.add((change.old_tick_size, change.new_tick_size))
        later = events[index + 1 : index + 5]
        snapshot = next(
            e for e in later if isinstance(e, BookSnapshot) and e.token_id == change.token_id
        )
        assert snapshot.timestamp == change.timestamp
        assert snapshot.tick_size == change.new_tick_size
        assert all(lv.price % change.new_tick_size == 0 for lv in snapshot.bids + snapshot.asks)
    assert directions == {
        (Decimal("0.01"), Decimal("0.001")),
        (Decimal("0.001"), Decimal("0.01")),
    }


def test_fine_ticks_only_appear_near_certainty():
    sim = SimSettings(assets=(WILD,), timeframes_s=(300,))
    market = SimMarket(sim, START)
    for second in range(1, 1200):
        market.advance(START + second)
        for view in market.windows():
            if view.phase is WindowPhase.OPEN and view.tick_size == Decimal("0.001"):
                mid = market.book(view.window.up_token).midpoint
                assert not Decimal("0.1") < mid < Decimal("0.9")


# --- determinism ---------------------------------------------------------------------------------


def test_the_same_seed_and_settings_give_the_same_events_bit_for_bit():
    sim = SimSettings(timeframes_s=(300,))
    _, first = _run(sim, 700)
    _, second = _run(sim, 700)
    assert len(first) > 3000
    assert repr(first) == repr(second)


def test_another_seed_gives_other_events():
    _, first = _run(SimSettings(seed=1), 600)
    _, second = _run(SimSettings(seed=2), 600)
    assert repr(first) != repr(second)


def test_how_time_is_chunked_does_not_change_the_events():
    sim = SimSettings(assets=(BTC, WILD), timeframes_s=(300,))
    _, by_second = _run(sim, 700)
    _, by_odd_chunks = _run(sim, 700, chunk=13.7)
    _, at_once = _run(sim, 700, chunk=700.0)
    assert repr(by_second) == repr(by_odd_chunks) == repr(at_once)


def test_skipping_ahead_follows_the_same_path_as_advancing():
    sim = SimSettings(assets=(BTC, WILD), timeframes_s=(300,))
    advanced, _ = _run(sim, 2000, chunk=2000.0)
    skipped = SimMarket(sim, START)
    skipped.skip_to(START + 2000)
    assert skipped.stats == advanced.stats
    assert repr(skipped.snapshot_events()) == repr(advanced.snapshot_events())
    assert repr(skipped.advance(START + 2100)) == repr(advanced.advance(START + 2100))


def test_advance_runs_nothing_twice_and_nothing_before_its_time():
    market = SimMarket(SimSettings(), START + 0.5)
    assert market.advance(START + 0.9) == []
    assert market.next_step_at == START + 1
    assert market.advance(START + 1) != []
    assert market.advance(START + 1) == []
    assert market.advance(START + 0.5) == []


# --- stats, snapshots, lookups -------------------------------------------------------------------


def test_stats_count_every_event_and_window_transition():
    sim = SimSettings(timeframes_s=(300,))
    market, events = _run(sim, 1200, chunk=50.0)
    stats = market.stats
    kinds = defaultdict(int)
    for event in events:
        kinds[type(event).__name__] += 1
    assert dict(stats.events_by_kind) == kinds
    assert stats.events_total == len(events)
    assert stats.steps == 1201
    assert stats.simulated_until == START + 1200
    # Listed: starts 0..1500 (1500 is within the lead at 1200); opened: 0..1200; closed: those
    # ended by 1200; resolved: those ended by 1170.
    assert stats.windows_listed == kinds["WindowListed"] == 4 * 6
    assert stats.windows_opened == 4 * 5
    assert stats.windows_closed == 4 * 4
    assert stats.windows_resolved == kinds["MarketResolved"] == 4 * 3


def test_snapshot_events_let_a_late_consumer_rebuild_the_current_state():
    sim = SimSettings(assets=(BTC, WILD), timeframes_s=(300,))
    market, events = _run(sim, 1000)
    replica = BookReplica()
    catch_up = market.snapshot_events()
    for event in catch_up:
        replica.apply(event)
    unresolved = [v for v in market.windows() if v.phase is not WindowPhase.RESOLVED]
    assert set(replica.windows) == {v.window.condition_id for v in unresolved}
    for view in unresolved:
        assert replica.ticks[view.window.up_token] == view.tick_size
        for token in view.window.tokens:
            assert replica.book(token) == _levels(market.book(token))
    spots = {e.asset: e.price for e in catch_up if isinstance(e, SpotPrice)}
    last = {e.asset: e.price for e in events if isinstance(e, SpotPrice)}
    assert spots == last
    assert market.stats.events_total == len(events)


def test_a_market_that_has_not_stepped_has_nothing_to_catch_up_on():
    assert SimMarket(SimSettings(), START).snapshot_events() == []


def test_unknown_ids_are_refused_naming_them():
    market = SimMarket(SimSettings(), START)
    with pytest.raises(KeyError, match="unknown token id '42'"):
        market.book("42")
    with pytest.raises(KeyError, match="unknown condition id '0xnope'"):
        market.window("0xnope")
