"""LiveVenue on the REAL py-clob-client-v2 against the sandbox exchange (127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from py_clob_client_v2.order_builder.helpers import round_down

from runtime.clock import ManualClock
from tests.venues.live.conftest import START, sandbox_settings, window_of
from venues.errors import (
    BelowMinimumSize,
    InvalidOrderType,
    InvalidPrice,
    Maintenance,
    MarketNotResolved,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    RejectedError,
    ServerError,
    VenueTimeout,
    classify,
)
from venues.live import clob
from venues.live.clob import LiveVenue, _client_float
from venues.paper.faults import FaultSettings
from venues.paper.fees import taker_fee
from venues.paper.settings import PaperSettings
from venues.port import ALREADY_GONE, Venue
from venues.sandbox import SandboxServer, serve
from venues.sandbox.state import SandboxState
from venues.types import (
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TickSizeChange,
    TokenId,
)

MakeVenue = Callable[..., LiveVenue]
TICK = Decimal("0.01")


def _below_bid(venue: LiveVenue, token: TokenId, ticks: int = 5) -> Decimal:
    bid = venue.book(token).best_bid
    assert bid is not None
    return bid - ticks * TICK


def _rest(client_id: str, token: TokenId, price: Decimal, size: str = "10") -> OrderRequest:
    return OrderRequest(
        client_id=client_id, token_id=token, side=Side.BUY, price=price, size=Decimal(size)
    )


def _market_buy(client_id: str, venue: LiveVenue, token: TokenId, amount: str) -> OrderRequest:
    ask = venue.book(token).best_ask
    assert ask is not None
    return OrderRequest(
        client_id=client_id,
        token_id=token,
        side=Side.BUY,
        price=ask + 2 * TICK,
        size=Decimal(0),
        order_type=OrderType.FOK,
        amount=Decimal(amount),
    )


def test_it_satisfies_the_port_and_reads_market_data(
    server: SandboxServer, venue: LiveVenue
) -> None:
    assert isinstance(venue, Venue)
    token = window_of(server).up_token
    book = venue.book(token)
    assert book.best_bid is not None
    assert book.best_ask is not None
    assert venue.midpoint(token) == book.midpoint
    assert venue.tick_size(token) == TICK
    assert venue.server_time() == pytest.approx(START, abs=2)
    assert venue.balance() == Decimal(1000)


def test_a_signed_gtc_order_rests_under_the_id_we_computed_and_carries_its_client_id(
    server: SandboxServer, venue: LiveVenue
) -> None:
    token = window_of(server).up_token
    result = venue.place_order(_rest("c-1", token, _below_bid(venue, token)))
    # The sandbox verified the EIP-712 signature and names the order by its digest.
    assert result.status is OrderStatus.LIVE
    found = venue.order_by_client_id("c-1")
    assert found is not None
    assert found.order_id == result.order_id
    snapshot = venue.get_order(result.order_id)
    assert snapshot is not None
    assert snapshot.client_id == "c-1"
    assert [o.client_id for o in venue.open_orders(window_of(server).condition_id)] == ["c-1"]


def test_placing_the_same_request_again_sends_the_same_signed_order(
    server: SandboxServer, venue: LiveVenue
) -> None:
    token = window_of(server).up_token
    request = _rest("c-dup", token, _below_bid(venue, token))
    venue.place_order(request)
    with pytest.raises(RejectedError, match="duplicate"):
        venue.place_order(request)  # a resend after a lost answer cannot trade twice
    assert len(venue.open_orders()) == 1
    with pytest.raises(RejectedError, match="c-dup"):
        venue.place_order(_rest("c-dup", token, _below_bid(venue, token, 6)))


def test_the_orders_it_remembers_are_bounded_and_the_oldest_go_first(
    server: SandboxServer, venue: LiveVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clob, "REMEMBERED_ORDERS", 2)
    token = window_of(server).up_token
    for n in range(3):
        venue.place_order(_rest(f"c-{n}", token, _below_bid(venue, token, 5 + n)))
    # A run of days must not grow without bound: the oldest signed order is forgotten...
    assert venue.order_by_client_id("c-0") is None
    assert [venue.order_by_client_id(c) is not None for c in ("c-1", "c-2")] == [True, True]
    # ...while the exchange still has it, under its own id.
    assert len(venue.open_orders()) == 3


def test_a_gtd_order_rests_until_its_expiration(server: SandboxServer, venue: LiveVenue) -> None:
    token = window_of(server).up_token
    request = OrderRequest(
        client_id="gtd",
        token_id=token,
        side=Side.BUY,
        price=_below_bid(venue, token),
        size=Decimal(10),
        order_type=OrderType.GTD,
        expiration=START + 600,
    )
    assert venue.place_order(request).status is OrderStatus.LIVE
    assert venue.open_orders()[0].order_type is OrderType.GTD


def test_a_matched_market_buy_returns_at_once_and_its_fill_carries_the_schedules_fee(
    server: SandboxServer, venue: LiveVenue
) -> None:
    window = window_of(server)
    token = window.up_token
    venue.prepare_market(window.condition_id)
    request = _market_buy("fok", venue, token, "20")
    started = time.monotonic()
    result = venue.place_order(request)
    elapsed = time.monotonic() - started
    # The client would poll /data/trades for 30 s here (tradeIDs without transaction hashes).
    assert elapsed < 2.0, f"a matched order took {elapsed:.2f} s to answer"
    assert result.status is OrderStatus.MATCHED
    (fill,) = venue.trades(window.condition_id)
    assert (fill.order_id, fill.is_maker, fill.side) == (result.order_id, False, Side.BUY)
    paper = PaperSettings()
    expected = taker_fee(
        side=Side.BUY,
        shares=fill.size,
        price=fill.price,
        rate=paper.fee_rate,
        exponent=paper.fee_exponent,
    )
    assert fill.fee == expected > 0
    found = venue.order_by_client_id("fok")
    assert found is not None
    assert (found.status, found.size_matched) == ("MATCHED", fill.size)


def test_a_fak_sell_sells_what_we_hold(server: SandboxServer, venue: LiveVenue) -> None:
    token = window_of(server).up_token
    venue.place_order(_market_buy("buy", venue, token, "20"))
    held = venue.balance(token)
    assert held > 0
    bid = venue.book(token).best_bid
    assert bid is not None
    sell = OrderRequest(
        client_id="fak",
        token_id=token,
        side=Side.SELL,
        price=bid - 2 * TICK,
        size=Decimal(5),
        order_type=OrderType.FAK,
    )
    assert venue.place_order(sell).status is OrderStatus.MATCHED
    assert venue.balance(token) == held - 5


def test_sizes_the_clients_float_rounding_would_cut_by_a_cent_reach_the_venue_whole(
    server: SandboxServer, venue: LiveVenue
) -> None:
    # float(16.99) * 100 is 1698.9999999999998: the client's round_down made it 16.98.
    token = window_of(server).up_token
    sizes = ("16.99", "32.16", "8.03", "5.02")
    for index, size in enumerate(sizes):
        venue.place_order(_rest(f"cent-{index}", token, _below_bid(venue, token), size=size))
    resting = sorted(o.original_size for o in venue.open_orders())
    assert resting == sorted(Decimal(size) for size in sizes)


def test_the_float_given_to_the_client_rounds_down_to_the_decimal_we_meant() -> None:
    for cents in range(1, 100_001):
        size = Decimal(cents).scaleb(-2)
        assert round_down(_client_float(size, 2), 2) == float(size), size
    for mils in range(1, 1000):
        price = Decimal(mils).scaleb(-3)
        assert round_down(_client_float(price, 3), 3) == float(price), price
    assert round_down(_client_float(Decimal("16.995"), 2), 2) == float(Decimal("16.99"))


def test_post_only_refusals(server: SandboxServer, venue: LiveVenue) -> None:
    token = window_of(server).up_token
    ask = venue.book(token).best_ask
    assert ask is not None
    crossing = OrderRequest(
        client_id="po", token_id=token, side=Side.BUY, price=ask, size=Decimal(10), post_only=True
    )
    with pytest.raises(PostOnlyWouldCross):
        venue.place_order(crossing)
    resting = OrderRequest(
        client_id="po2",
        token_id=token,
        side=Side.BUY,
        price=_below_bid(venue, token),
        size=Decimal(10),
        post_only=True,
    )
    assert venue.place_order(resting).status is OrderStatus.LIVE
    fok = _market_buy("po3", venue, token, "10")
    with pytest.raises(InvalidOrderType):
        venue.place_order(replace(fok, post_only=True))


def test_a_batch_with_bad_legs_places_the_good_ones(
    server: SandboxServer, venue: LiveVenue
) -> None:
    token = window_of(server).up_token
    price = _below_bid(venue, token)
    legs = (
        _rest("b-1", token, price),
        _rest("b-bad-price", token, Decimal("0.999")),  # refused by the client before sending
        _rest("b-too-small", token, price, size="1"),  # refused by the venue
        replace(_rest("b-4", token, price - TICK), post_only=True),
    )
    results = venue.place_orders(legs)
    assert [r.client_id for r in results] == ["b-1", "b-bad-price", "b-too-small", "b-4"]
    assert results[0].order_id is not None
    assert results[3].order_id is not None
    assert isinstance(classify(400, results[1].error or ""), InvalidPrice)
    assert isinstance(classify(400, results[2].error or ""), BelowMinimumSize)
    assert sorted(o.client_id or "" for o in venue.open_orders()) == ["b-1", "b-4"]


def test_cancels_one_many_all_and_by_market(server: SandboxServer, venue: LiveVenue) -> None:
    window = window_of(server)
    token = window.up_token
    ids = [
        venue.place_order(_rest(f"k-{i}", token, _below_bid(venue, token, 3 + i))).order_id
        for i in range(5)
    ]
    assert all(ids)
    first = venue.cancel(ids[0])  # type: ignore[arg-type]
    assert first.canceled == (ids[0],)
    again = venue.cancel(ids[0])  # type: ignore[arg-type]
    assert again.not_canceled[ids[0]] == ALREADY_GONE  # type: ignore[index]
    assert venue.get_order(ids[0]) is None  # type: ignore[arg-type]
    many = venue.cancel_orders((ids[1], ids[2]))  # type: ignore[arg-type]
    assert set(many.canceled) == {ids[1], ids[2]}
    assert set(venue.cancel_market(window.condition_id).canceled) == {ids[3], ids[4]}
    venue.place_order(_rest("k-last", token, _below_bid(venue, token)))
    assert len(venue.cancel_all().canceled) == 1
    assert venue.open_orders() == ()


def test_a_cancel_the_venue_answers_404_is_order_not_found(
    make_venue: MakeVenue, sandbox_clock: ManualClock
) -> None:
    paper = PaperSettings(faults=FaultSettings(cancel_not_found=True))
    with serve(sandbox_settings(paper=paper), clock=sandbox_clock) as running:
        venue = make_venue(running)
        token = window_of(running).up_token
        order_id = venue.place_order(_rest("nf", token, _below_bid(venue, token))).order_id
        assert order_id is not None
        venue.cancel(order_id)
        with pytest.raises(OrderNotFound):
            venue.cancel(order_id)


def test_open_orders_and_trades_follow_the_cursor_over_small_pages(
    server: SandboxServer, venue: LiveVenue
) -> None:
    token = window_of(server).up_token  # the sandbox pages by 2 here
    for i in range(5):
        venue.place_order(_rest(f"p-{i}", token, _below_bid(venue, token, 3 + i)))
    assert sorted(o.client_id or "" for o in venue.open_orders()) == [f"p-{i}" for i in range(5)]
    for i in range(3):
        venue.place_order(_market_buy(f"t-{i}", venue, token, "10"))
    assert len(venue.trades()) == 3


def test_balance_lags_a_fill_until_refreshed_after_the_lag(
    make_venue: MakeVenue, sandbox_clock: ManualClock
) -> None:
    paper = PaperSettings(faults=FaultSettings(balance_lag_s=5))
    with serve(sandbox_settings(paper=paper), clock=sandbox_clock) as running:
        venue = make_venue(running)
        token = window_of(running).up_token
        venue.place_order(_market_buy("lag", venue, token, "20"))
        assert venue.balance() == Decimal(1000)  # the fill is not visible yet
        sandbox_clock.advance(6)
        assert venue.refresh_balance() < Decimal(1000)
        assert venue.refresh_balance(token) > 0


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        (FaultSettings(maintenance_windows=((START - 1, START + 60),)), Maintenance),
        (FaultSettings(reject_rates={"server_error": 1.0}), ServerError),
        (FaultSettings(reject_rates={"timeout": 1.0}), VenueTimeout),  # the venue's 504
    ],
)
def test_venue_failures_map_to_typed_retryable_errors(
    make_venue: MakeVenue, sandbox_clock: ManualClock, faults: FaultSettings, error: type
) -> None:
    paper = PaperSettings(faults=faults)
    with serve(sandbox_settings(paper=paper), clock=sandbox_clock) as running:
        venue = make_venue(running)
        token = window_of(running).up_token
        with pytest.raises(error):
            venue.place_order(_rest("f", token, _below_bid(venue, token)))


def test_a_slow_venue_times_out_within_the_request_timeout(
    server: SandboxServer, make_venue: MakeVenue
) -> None:
    venue = make_venue(server, request_timeout_s=0.3)
    token = window_of(server).up_token
    venue.book(token)
    stall = threading.Thread(target=lambda: server.call(lambda _: time.sleep(1.5)))
    stall.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(VenueTimeout):
        venue.book(token)
    elapsed = time.monotonic() - started
    stall.join()
    assert elapsed < 1.0, f"the call took {elapsed:.2f} s with a 0.3 s timeout"


def test_the_client_side_rate_limit_refuses_without_sending(
    server: SandboxServer, make_venue: MakeVenue
) -> None:
    venue = make_venue(server, orders_per_second=1.0, order_burst=2)
    token = window_of(server).up_token
    price = _below_bid(venue, token)
    venue.place_order(_rest("r-1", token, price))
    venue.place_order(_rest("r-2", token, price))
    with pytest.raises(RateLimited, match="orders_per_second"):
        venue.place_order(_rest("r-3", token, price))
    assert len(venue.open_orders()) == 2
    venue._clock.advance(1.0)  # type: ignore[attr-defined]
    venue.place_order(_rest("r-3", token, price))


def test_a_tick_size_change_resigns_on_the_new_grid_without_asking(
    server: SandboxServer, venue: LiveVenue
) -> None:
    window = window_of(server)
    token = window.up_token
    assert venue.tick_size(token) == TICK
    fine = Decimal("0.001")
    change = TickSizeChange(
        condition_id=window.condition_id,
        token_id=token,
        old_tick_size=TICK,
        new_tick_size=fine,
        timestamp=START,
    )
    server.call(lambda state: state.exchange.on_market_event(change))
    price = _below_bid(venue, token) + Decimal("0.003")
    venue.place_order(_rest("stale", token, price))  # the cached 0.01 grid rounds the price
    venue.on_tick_size_change(token, fine)
    assert venue.tick_size(token) == fine
    venue.place_order(_rest("fresh", token, price))
    prices = {o.client_id: o.price for o in venue.open_orders()}
    assert prices == {"stale": price.quantize(TICK), "fresh": price}


@pytest.mark.slow
def test_heartbeats_keep_orders_alive_and_their_absence_lets_the_venue_cancel_them(
    make_venue: MakeVenue, sandbox_clock: ManualClock
) -> None:
    with serve(sandbox_settings(heartbeat_timeout_s=0.6), clock=sandbox_clock) as running:
        venue = make_venue(running, heartbeat=True, heartbeat_interval_s=0.1)
        token = window_of(running).up_token
        venue.place_order(_rest("hb", token, _below_bid(venue, token)))
        time.sleep(1.5)  # well past the venue's timeout, with heartbeats
        running.step()
        assert venue.heartbeats_sent >= 5
        assert len(venue.open_orders()) == 1
        venue.close()
        deadline = time.monotonic() + 5
        while venue.open_orders() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert venue.open_orders() == ()


def test_redeem_refuses_before_resolution_and_then_values_the_winning_shares(
    server: SandboxServer, venue: LiveVenue, sandbox_clock: ManualClock
) -> None:
    window = window_of(server)
    venue.place_order(_market_buy("up", venue, window.up_token, "20"))
    venue.place_order(_market_buy("down", venue, window.down_token, "20"))
    with pytest.raises(MarketNotResolved):
        venue.redeem(window.condition_id)
    sandbox_clock.advance(window.end - START + 60)  # past the end and the resolution delay
    server.step()
    winner = server.call(lambda state: SandboxState.winner(state, window.condition_id))
    assert winner is not None
    assert venue.redeem(window.condition_id) == venue.balance(winner) > 0


def test_streams_must_be_given_to_subscribe(venue: LiveVenue) -> None:
    with pytest.raises(RuntimeError, match="user_stream"):
        venue.subscribe_user(lambda _: None)
    with pytest.raises(RuntimeError, match="market_stream"):
        venue.subscribe_market(lambda _: None)


def test_an_order_whose_answer_was_lost_is_found_by_client_id_and_not_sent_twice(
    make_venue: MakeVenue, sandbox_clock: ManualClock
) -> None:
    # The injected timeout is the worst case: the venue placed the order, the answer is lost.
    paper = PaperSettings(faults=FaultSettings(reject_rates={"timeout": 1.0}))
    with serve(sandbox_settings(paper=paper), clock=sandbox_clock) as running:
        venue = make_venue(running)
        token = window_of(running).up_token
        request = _rest("lost", token, _below_bid(venue, token))
        with pytest.raises(VenueTimeout):
            venue.place_order(request)
        found = venue.order_by_client_id("lost")
        with pytest.raises(RejectedError, match="duplicate"):
            venue.place_order(request)  # a blind resend is the same signed order
        assert venue.order_by_client_id("never-placed") is None
    assert found is not None
    assert (found.client_id, found.status) == ("lost", "LIVE")
