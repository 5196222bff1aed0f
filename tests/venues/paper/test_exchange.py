"""The paper exchange follows Polymarket's rules: matching, fees, statuses, balances, streams."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from venues.errors import (
    BatchTooLarge,
    BelowMinimumNotional,
    BelowMinimumSize,
    InsufficientAllowance,
    InsufficientBalance,
    InvalidExpiration,
    InvalidOrderType,
    InvalidPrice,
    InvalidSize,
    MarketClosed,
    MarketNotResolved,
    OrderNotFilled,
    PostOnlyWouldCross,
    VenueError,
    classify,
)
from venues.paper import PaperSettings
from venues.paper.ledger import COLLATERAL, Account
from venues.port import ALREADY_GONE, CancelResult, Venue
from venues.types import (
    BookSnapshot,
    LastTrade,
    OrderId,
    OrderStatus,
    OrderType,
    OrderUpdateKind,
    PriceChange,
    Side,
    TickSizeChange,
    TradeStatus,
    TradeUpdate,
)

D = Decimal
NO_FEES = PaperSettings(fee_rate=D(0))


# --- the port ---------------------------------------------------------------------------------


def test_the_paper_exchange_satisfies_the_venue_port(harness: Any) -> None:
    venue: Venue = harness.exchange  # checked statically by mypy too
    assert isinstance(venue, Venue)


def test_a_cancel_result_is_read_only_and_knows_which_orders_are_done() -> None:
    reasons = {OrderId("b"): ALREADY_GONE, OrderId("c"): "market closed"}
    result = CancelResult(canceled=(OrderId("a"),), not_canceled=reasons)
    reasons.clear()
    assert dict(result.not_canceled) == {"b": ALREADY_GONE, "c": "market closed"}
    assert result.is_done(OrderId("a"))
    assert result.is_done(OrderId("b"))
    assert not result.is_done(OrderId("c"))
    with pytest.raises(TypeError):
        result.not_canceled["d"] = "x"  # type: ignore[index]


# --- resting and taking -----------------------------------------------------------------------


def test_a_resting_buy_answers_live_and_shows_in_open_orders_and_the_book(harness: Any) -> None:
    result = harness.place(price="0.45", size=10)
    assert result.status is OrderStatus.LIVE
    (order,) = harness.exchange.open_orders()
    assert (order.order_id, order.status, order.size_matched) == (result.order_id, "LIVE", 0)
    assert harness.exchange.get_order(result.order_id) == order
    book = harness.exchange.book(harness.up)
    assert [(level.price, level.size) for level in book.bids] == [(D("0.48"), 100), (D("0.45"), 10)]
    (placement,) = harness.order_updates()
    assert (placement.kind, placement.status) == (OrderUpdateKind.PLACEMENT, "LIVE")


def test_a_crossing_buy_takes_the_book_best_level_first_and_rests_the_rest(
    make_harness: Callable[..., Any],
) -> None:
    harness = make_harness(NO_FEES)
    harness.set_book(
        harness.up, bids=[("0.48", 100)], asks=[("0.52", 10), ("0.53", 20), ("0.60", 50)]
    )
    result = harness.place(price="0.53", size=50)
    assert result.status is OrderStatus.MATCHED
    assert (result.making_amount, result.taking_amount) == (D("15.80"), D(30))
    fills = harness.trade_updates(TradeStatus.MATCHED)
    assert [(fill.price, fill.size, fill.is_maker) for fill in fills] == [
        (D("0.52"), 10, False),
        (D("0.53"), 20, False),
    ]
    (rest,) = harness.exchange.open_orders()
    assert (rest.status, rest.size_matched, rest.original_size) == ("LIVE", 30, 50)
    assert harness.exchange.balance(harness.up) == 30
    # 1000 - 15.80 spent; 20 x 0.53 stays reserved by the resting part, not spent
    assert harness.exchange.balance() == D("984.20")


def test_consumed_liquidity_is_not_offered_again_until_the_next_snapshot(harness: Any) -> None:
    harness.place(price="0.52", size=60, order_type=OrderType.FAK)
    with pytest.raises(OrderNotFilled):
        harness.place(price="0.52", size=60, order_type=OrderType.FOK)
    assert harness.exchange.book(harness.up).asks[0].size == 40
    harness.change_level(harness.up, Side.SELL, "0.52", 100)  # the market re-states its total
    assert harness.exchange.book(harness.up).asks[0].size == 40
    harness.set_book(harness.up, bids=[("0.48", 100)], asks=[("0.52", 100)])
    harness.place(price="0.52", size=60, order_type=OrderType.FOK)


def test_a_taker_buy_pays_its_fee_in_shares(make_harness: Callable[..., Any]) -> None:
    harness = make_harness(PaperSettings(fee_rate=D("0.25"), fee_exponent=2))
    harness.set_book(harness.up, asks=[("0.50", 100)])
    harness.place(price="0.50", size=100, order_type=OrderType.FOK)
    (fill,) = harness.trade_updates(TradeStatus.MATCHED)
    assert fill.fee == D("3.125")  # $1.5625 at 0.50
    assert harness.exchange.balance(harness.up) == D("96.875")
    assert harness.exchange.balance() == 950
    assert harness.exchange.holding(Account.FEES, harness.up) == D("3.125")


def test_a_taker_sell_pays_its_fee_in_collateral(make_harness: Callable[..., Any]) -> None:
    harness = make_harness(PaperSettings(fee_rate=D("0.25"), fee_exponent=2))
    _give_us_tokens(harness, 100)
    harness.set_book(harness.up, bids=[("0.50", 100)])
    before = harness.exchange.balance()
    harness.place(side=Side.SELL, price="0.50", size=50, order_type=OrderType.FOK)
    (fill,) = [f for f in harness.trade_updates(TradeStatus.MATCHED) if f.side is Side.SELL]
    assert fill.fee == D("0.78125")
    assert harness.exchange.balance() == before + 25 - D("0.78125")


def test_a_market_trade_fills_our_resting_bid_at_our_price_without_fee(harness: Any) -> None:
    result = harness.place(price="0.50", size=30)
    harness.market_trade(harness.up, Side.SELL, "0.49", 20)
    (fill,) = harness.trade_updates(TradeStatus.MATCHED)
    assert (fill.price, fill.size, fill.fee, fill.is_maker) == (D("0.50"), 20, 0, True)
    update = harness.order_updates()[-1]
    assert (update.kind, update.size_matched, update.status) == (OrderUpdateKind.UPDATE, 20, "LIVE")
    assert harness.exchange.get_order(result.order_id).size_matched == 20


def test_a_market_trade_that_does_not_reach_our_price_leaves_our_order(harness: Any) -> None:
    harness.place(price="0.45", size=30)
    harness.market_trade(harness.up, Side.SELL, "0.46", 20)
    harness.market_trade(harness.up, Side.BUY, "0.40", 20)  # a buyer never fills our bid
    assert harness.trade_updates() == []


def test_a_market_trade_fills_resting_orders_best_price_first_up_to_its_size(harness: Any) -> None:
    low = harness.place(price="0.47", size=10)
    high = harness.place(price="0.49", size=10)
    harness.market_trade(harness.up, Side.SELL, "0.47", 15)
    assert harness.exchange.get_order(high.order_id) is None  # fully matched, no longer active
    assert harness.exchange.get_order(low.order_id).size_matched == 5


def test_the_book_moving_onto_our_ask_fills_it_at_our_price(harness: Any) -> None:
    _give_us_tokens(harness, 20)
    result = harness.place(side=Side.SELL, price="0.55", size=20)
    harness.change_level(harness.up, Side.BUY, "0.56", 8)  # a bid appears above our ask
    fill = harness.trade_updates(TradeStatus.MATCHED)[-1]
    assert (fill.price, fill.size, fill.is_maker) == (D("0.55"), 8, True)
    assert harness.exchange.get_order(result.order_id).size_matched == 8
    assert all(level.price != D("0.56") for level in harness.exchange.book(harness.up).bids)


def test_a_fok_fills_completely_or_not_at_all(harness: Any) -> None:
    with pytest.raises(OrderNotFilled) as refused:
        harness.place(price="0.52", size=101, order_type=OrderType.FOK)
    assert refused.value.rule == "fok_fill_or_kill"
    assert harness.trade_updates() == []
    assert harness.exchange.balance() == 1000
    (killed,) = harness.order_updates()
    assert killed.kind is OrderUpdateKind.CANCELLATION
    assert killed.status.startswith("CANCELED_order couldn't be fully filled")
    result = harness.place(price="0.52", size=100, order_type=OrderType.FOK)
    assert (result.status, result.taking_amount) == (OrderStatus.MATCHED, 100)


def test_a_fak_fills_what_is_there_and_drops_the_rest(harness: Any) -> None:
    result = harness.place(price="0.52", size=150, order_type=OrderType.FAK)
    assert result.taking_amount == 100
    assert harness.exchange.open_orders() == ()
    with pytest.raises(OrderNotFilled) as refused:
        harness.place(price="0.52", size=10, order_type=OrderType.FAK)
    assert refused.value.rule == "fak_no_match"


def test_a_market_buy_by_amount_spends_at_most_the_amount_within_its_limit(
    make_harness: Callable[..., Any],
) -> None:
    harness = make_harness(NO_FEES)
    harness.set_book(harness.up, asks=[("0.40", 10), ("0.50", 100), ("0.70", 100)])
    result = harness.place(price="0.50", amount="25", size=0, order_type=OrderType.FOK)
    assert result.making_amount <= 25
    assert result.making_amount > D("24.99")
    assert result.taking_amount == D(10) + D(42)  # $4 at 0.40, then $21 at 0.50
    assert all(fill.price <= D("0.50") for fill in harness.trade_updates())
    with pytest.raises(OrderNotFilled):  # only $25 more is reachable at or below 0.50
        harness.place(price="0.50", amount="30", size=0, order_type=OrderType.FOK)


def test_a_gtd_order_is_cancelled_a_security_threshold_before_its_expiration(harness: Any) -> None:
    expiration = harness.clock.now() + 300
    result = harness.place(price="0.45", order_type=OrderType.GTD, expiration=expiration)
    harness.advance(300 - 60 - 1)
    assert harness.exchange.get_order(result.order_id) is not None
    harness.advance(1)
    assert harness.exchange.get_order(result.order_id) is None
    cancellation = harness.order_updates()[-1]
    assert (cancellation.kind, cancellation.status) == (
        OrderUpdateKind.CANCELLATION,
        "CANCELED_EXPIRED_ORDER",
    )


def test_resolution_cancels_resting_orders_and_redemption_pays_the_winners(harness: Any) -> None:
    harness.place(price="0.52", size=50, order_type=OrderType.FOK)
    held = harness.exchange.balance(harness.up)
    resting = harness.place(price="0.40", size=10)
    with pytest.raises(MarketNotResolved):
        harness.exchange.redeem(harness.condition_id)
    harness.advance(900)
    harness.resolve(harness.up)
    assert harness.exchange.open_orders() == ()
    cancellation = harness.order_updates()[-1]
    assert (cancellation.order_id, cancellation.status) == (
        resting.order_id,
        "CANCELED_MARKET_RESOLVED",
    )
    before = harness.exchange.balance()
    assert harness.exchange.redeem(harness.condition_id) == held
    assert harness.exchange.balance() == before + held
    assert harness.exchange.balance(harness.up) == 0
    assert harness.exchange.redeem(harness.condition_id) == 0
    assert harness.exchange.audit() == ()


def test_losing_tokens_redeem_for_nothing(harness: Any) -> None:
    harness.place(price="0.52", size=50, order_type=OrderType.FOK)
    harness.resolve(harness.down)
    before = harness.exchange.balance()
    assert harness.exchange.redeem(harness.condition_id) == 0
    assert harness.exchange.balance() == before
    assert harness.exchange.balance(harness.up) == 0


def test_a_tick_size_change_moves_the_price_grid(harness: Any) -> None:
    with pytest.raises(InvalidPrice):
        harness.place(price="0.985", size=10)
    harness.feed(
        TickSizeChange(
            condition_id=harness.condition_id,
            token_id=harness.up,
            old_tick_size=D("0.01"),
            new_tick_size=D("0.001"),
            timestamp=harness.clock.now(),
        )
    )
    assert harness.exchange.tick_size(harness.up) == D("0.001")
    with pytest.raises(InsufficientBalance):  # valid price now; only the money is missing
        harness.place(price="0.985", size=2000)
    assert harness.place(price="0.451", size=10).status is OrderStatus.LIVE


# --- cancels ---------------------------------------------------------------------------------


def test_cancelling_a_live_order_cancels_it_and_a_second_cancel_finds_it_gone(harness: Any) -> None:
    order_id = harness.place(price="0.45").order_id
    first = harness.exchange.cancel(order_id)
    assert first.canceled == (order_id,)
    assert harness.order_updates()[-1].kind is OrderUpdateKind.CANCELLATION
    second = harness.exchange.cancel(order_id)
    assert dict(second.not_canceled) == {order_id: ALREADY_GONE}
    assert second.is_done(order_id)
    assert harness.exchange.get_order(order_id) is None


def test_cancelling_a_matched_order_reports_it_gone_not_an_error(harness: Any) -> None:
    order_id = harness.place(price="0.52", size=10, order_type=OrderType.FOK).order_id
    assert dict(harness.exchange.cancel(order_id).not_canceled) == {order_id: ALREADY_GONE}


def test_cancel_orders_all_and_market_cancel_exactly_the_live_orders(harness: Any) -> None:
    a, b, c = (harness.place(price=p).order_id for p in ("0.41", "0.42", "0.43"))
    down = harness.place(token_id=harness.down, price="0.40").order_id
    some = harness.exchange.cancel_orders((a, OrderId("0xunknown")))
    assert (some.canceled, dict(some.not_canceled)) == ((a,), {"0xunknown": ALREADY_GONE})
    assert set(harness.exchange.cancel_market(harness.condition_id).canceled) == {b, c, down}
    assert harness.exchange.cancel_all() == CancelResult()


def test_a_cancelled_buy_releases_its_reserved_collateral(harness: Any) -> None:
    order_id = harness.place(price="0.50", size=2000).order_id
    with pytest.raises(InsufficientBalance):
        harness.place(price="0.45", size=20)
    harness.exchange.cancel(order_id)
    assert harness.place(price="0.45", size=20).status is OrderStatus.LIVE


def test_open_sells_reserve_the_tokens_they_offer(harness: Any) -> None:
    _give_us_tokens(harness, 20)
    harness.place(side=Side.SELL, price="0.60", size=15)
    with pytest.raises(InsufficientBalance) as refused:
        harness.place(side=Side.SELL, price="0.61", size=10)
    assert refused.value.rule == "token_balance"
    harness.place(side=Side.SELL, price="0.61", size=5)


# --- batches ----------------------------------------------------------------------------------


def test_a_batch_places_the_good_legs_and_reports_the_bad_one(harness: Any) -> None:
    requests = (
        harness.request(price="0.45"),
        harness.request(price="0.455"),
        harness.request(price="0.44", size=3),
    )
    good, off_grid, too_small = harness.exchange.place_orders(requests)
    assert good.status is OrderStatus.LIVE
    assert (off_grid.order_id, off_grid.status) == (None, None)
    assert type(classify(400, off_grid.error)) is InvalidPrice
    assert type(classify(400, too_small.error)) is BelowMinimumSize
    assert len(harness.exchange.open_orders()) == 1


def test_a_batch_of_more_than_fifteen_is_refused_whole(harness: Any) -> None:
    requests = tuple(harness.request(price="0.40") for _ in range(16))
    with pytest.raises(BatchTooLarge) as refused:
        harness.exchange.place_orders(requests)
    assert (refused.value.rule, refused.value.value) == ("batch_limit", 16)
    assert harness.exchange.open_orders() == ()


# --- reads and streams ------------------------------------------------------------------------


def test_trades_lists_our_fills_by_market_and_time(harness: Any) -> None:
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    harness.advance(5)
    cutoff = harness.clock.now()
    harness.advance(5)
    harness.place(price="0.52", size=20, order_type=OrderType.FOK)
    assert [t.size for t in harness.exchange.trades()] == [10, 20]
    assert [t.size for t in harness.exchange.trades(after=cutoff)] == [20]
    assert harness.exchange.trades(condition_id=harness.condition_id + "x") == ()
    assert {t.status for t in harness.exchange.trades()} == {TradeStatus.CONFIRMED}


def test_a_trade_goes_matched_mined_confirmed(harness: Any) -> None:
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    statuses = [event.status for event in harness.trade_updates()]
    assert statuses == [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED]


def test_the_market_stream_shows_our_orders_and_what_we_consumed(harness: Any) -> None:
    harness.market_events.clear()
    harness.place(price="0.45", size=10)
    (change,) = harness.market_events
    assert isinstance(change, PriceChange)
    (level,) = change.changes
    assert (level.price, level.size, level.side, level.best_bid) == (
        D("0.45"),
        D(10),
        Side.BUY,
        D("0.48"),
    )
    harness.market_events.clear()
    harness.place(price="0.52", size=30, order_type=OrderType.FOK)
    trade, consumed = harness.market_events
    assert isinstance(trade, LastTrade)
    assert (trade.price, trade.size, trade.side) == (D("0.52"), D(30), Side.BUY)
    assert isinstance(consumed, PriceChange)
    assert consumed.changes[0].size == 70
    harness.market_events.clear()
    harness.change_level(harness.up, Side.SELL, "0.52", 90)  # the market's new total
    (restated,) = harness.market_events
    assert isinstance(restated, PriceChange)
    assert restated.changes[0].size == 60  # minus the 30 we took


def test_a_republished_snapshot_includes_our_resting_orders(harness: Any) -> None:
    harness.place(price="0.45", size=10)
    harness.market_events.clear()
    harness.set_book(harness.up, bids=[("0.47", 5)], asks=[("0.53", 5)])
    (snapshot,) = harness.market_events
    assert isinstance(snapshot, BookSnapshot)
    assert [(level.price, level.size) for level in snapshot.bids] == [
        (D("0.47"), D(5)),
        (D("0.45"), D(10)),
    ]


def test_a_callback_may_place_an_order_while_being_notified(harness: Any) -> None:
    placed: list[Any] = []

    def buy_on_first_fill(event: Any) -> None:
        if isinstance(event, TradeUpdate) and event.status is TradeStatus.CONFIRMED and not placed:
            placed.append(harness.place(price="0.40"))

    harness.exchange.subscribe_user(buy_on_first_fill)
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    assert placed[0].status is OrderStatus.LIVE
    assert harness.order_updates()[-1].order_id == placed[0].order_id


def test_an_unsubscribed_callback_hears_nothing_more(harness: Any) -> None:
    heard: list[Any] = []
    unsubscribe = harness.exchange.subscribe_user(heard.append)
    harness.place(price="0.45")
    unsubscribe()
    harness.place(price="0.44")
    assert len(heard) == 1


def test_reads_answer_the_book_midpoint_tick_and_time(harness: Any) -> None:
    assert harness.exchange.midpoint(harness.up) == D("0.50")
    assert harness.exchange.tick_size(harness.up) == D("0.01")
    assert harness.exchange.server_time() == harness.clock.now()
    assert harness.exchange.allowance() > 10**70
    with pytest.raises(MarketClosed):
        harness.exchange.book("unknown-token")


def test_the_house_side_keeps_money_and_shares_conserved_through_a_busy_session(
    harness: Any,
) -> None:
    harness.place(price="0.52", size=40, order_type=OrderType.FOK)
    harness.place(token_id=harness.down, price="0.52", size=30, order_type=OrderType.FAK)
    harness.place(side=Side.SELL, price="0.48", size=20, order_type=OrderType.FOK)
    harness.place(price="0.49", size=25)
    harness.market_trade(harness.up, Side.SELL, "0.49", 10)
    harness.resolve(harness.down)
    harness.exchange.redeem(harness.condition_id)
    assert harness.exchange.audit() == ()
    total = sum(
        harness.exchange.holding(account, COLLATERAL)
        for account in (Account.US, Account.HOUSE, Account.FEES, Account.ESCROW)
    )
    locked = harness.exchange.holding("market:" + harness.condition_id, COLLATERAL)
    assert total + locked == D(1000) + PaperSettings().house_collateral


# --- every rule violation is refused with a typed error naming the rule and the value ------------


def _outside_window(harness: Any) -> None:
    harness.clock.advance(900)


def _resolved(harness: Any) -> None:
    harness.resolve(harness.up)


VIOLATIONS = [
    ("price off the tick grid", {"price": "0.505"}, None, InvalidPrice, "tick_grid", "0.505"),
    ("price below one tick", {"price": "0.00"}, None, InvalidPrice, "price_range", "0.00"),
    ("price above 1 - tick", {"price": "0.995"}, None, InvalidPrice, "price_range", "0.995"),
    ("price of 1", {"price": "1"}, None, InvalidPrice, "price_range", "1"),
    ("size of zero", {"size": "0"}, None, InvalidSize, "size_positive", "0"),
    ("size with 3 decimals", {"size": "10.001"}, None, InvalidSize, "size_precision", "10.001"),
    ("size below the minimum", {"size": "4.99"}, None, BelowMinimumSize, "min_order_size", "4.99"),
    (
        "marketable buy under $1",
        {"price": "0.10", "size": "5"},
        "cheap asks",
        BelowMinimumNotional,
        "min_notional",
        "0.50",
    ),
    (
        "market buy amount under $1",
        {"price": "0.52", "amount": "0.99", "order_type": OrderType.FOK},
        None,
        BelowMinimumNotional,
        "min_notional",
        "0.99",
    ),
    (
        "amount with 3 decimals",
        {"price": "0.52", "amount": "5.001", "order_type": OrderType.FAK},
        None,
        InvalidSize,
        "amount_precision",
        "5.001",
    ),
    (
        "amount on a GTC",
        {"amount": "5"},
        None,
        InvalidOrderType,
        "amount_only_for_market_buy",
        "5",
    ),
    (
        "post-only FOK",
        {"post_only": True, "order_type": OrderType.FOK},
        None,
        InvalidOrderType,
        "post_only_order_type",
        "FOK",
    ),
    (
        "post-only crossing the book",
        {"price": "0.52", "post_only": True},
        None,
        PostOnlyWouldCross,
        "post_only",
        "0.52",
    ),
    (
        "GTD expiring too soon",
        {"order_type": OrderType.GTD, "expiration": 1_767_225_600.0 + 179},
        None,
        InvalidExpiration,
        "gtd_min_lead",
        "1767225779.0",
    ),
    (
        "GTD without expiration",
        {"order_type": OrderType.GTD},
        None,
        InvalidExpiration,
        "gtd_expiration_required",
        "None",
    ),
    (
        "expiration on a GTC",
        {"expiration": 1_767_225_600.0 + 600},
        None,
        InvalidExpiration,
        "expiration_only_for_gtd",
        "1767226200.0",
    ),
    (
        "buy beyond the collateral",
        {"price": "0.50", "size": "2001"},
        None,
        InsufficientBalance,
        "collateral_balance",
        "1000.50",
    ),
    (
        "sell of tokens we lack",
        {"side": Side.SELL, "price": "0.60", "size": "5"},
        None,
        InsufficientBalance,
        "token_balance",
        "5",
    ),
    (
        "buy beyond the allowance",
        {"price": "0.40", "size": "100"},
        "allowance 30",
        InsufficientAllowance,
        "collateral_allowance",
        "40.00",
    ),
    (
        "FOK larger than the book",
        {"price": "0.52", "size": "101", "order_type": OrderType.FOK},
        None,
        OrderNotFilled,
        "fok_fill_or_kill",
        "101",
    ),
    (
        "FAK with nothing to match",
        {"price": "0.51", "size": "10", "order_type": OrderType.FAK},
        None,
        OrderNotFilled,
        "fak_no_match",
        "10",
    ),
    (
        "order after the window ended",
        {},
        "window over",
        MarketClosed,
        "market_closed",
        "0xcondition",
    ),
    ("order on a resolved market", {}, "resolved", MarketClosed, "market_resolved", "0xcondition"),
    (
        "order on an unknown token",
        {"token_id": "nobody-lists-this"},
        None,
        MarketClosed,
        "market_not_found",
        "nobody-lists-this",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "situation", "error_class", "rule", "value"),
    [case[1:] for case in VIOLATIONS],
    ids=[case[0] for case in VIOLATIONS],
)
def test_every_rule_violation_is_refused_with_a_typed_error_naming_rule_and_value(
    make_harness: Callable[..., Any],
    overrides: dict[str, Any],
    situation: str | None,
    error_class: type[VenueError],
    rule: str,
    value: str,
) -> None:
    settings = PaperSettings(collateral_allowance=D(30)) if situation == "allowance 30" else None
    harness = make_harness(settings)
    if situation == "cheap asks":
        harness.set_book(harness.up, asks=[("0.10", 100)])
    elif situation == "window over":
        _outside_window(harness)
    elif situation == "resolved":
        _resolved(harness)
    balance_before = harness.exchange.balance()
    with pytest.raises(error_class) as refused:
        harness.place(**overrides)
    error = refused.value
    assert (error.rule, str(error.value)) == (rule, value)
    assert rule in str(error)
    assert value in str(error)
    assert type(classify(400, str(error))) is error_class
    assert harness.exchange.open_orders() == ()
    assert harness.trade_updates() == []
    assert harness.exchange.balance() == balance_before


# --- helpers ----------------------------------------------------------------------------------


def _give_us_tokens(harness: Any, shares: int) -> None:
    """Fill a resting UP bid from a market seller: a maker fill, so exactly `shares` and no fee."""
    harness.place(price="0.50", size=shares)
    harness.market_trade(harness.up, Side.SELL, "0.50", shares)
    assert harness.exchange.balance(harness.up) == shares
    harness.user_events.clear()
