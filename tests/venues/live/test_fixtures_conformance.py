"""Conformance with payloads nobody on this team wrote: every CLOB websocket and REST payload in
shared/fixtures/polymarket/ (real captures and publishers' shape samples, see its README) parses
into the expected domain values. Runs whenever that folder exists; it is never copied here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from venues.live.wire import (
    BalanceAllowance,
    Identity,
    parse_balance_allowance,
    parse_book,
    parse_cancel_response,
    parse_clob_market,
    parse_error_body,
    parse_frame,
    parse_gamma_market,
    parse_message,
    parse_open_order,
    parse_open_orders_page,
    parse_order_response,
    parse_positions,
    parse_trade,
    parse_trades_page,
    up_down_window,
)
from venues.port import ALREADY_GONE
from venues.types import (
    BestBidAsk,
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    NewMarket,
    OrderId,
    OrderStatus,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    PriceChange,
    Side,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeStatus,
    TradeUpdate,
)

FIXTURES = Path(__file__).parents[4] / "shared" / "fixtures" / "polymarket"
WS = FIXTURES / "ws_messages"
HTTP = FIXTURES / "http_responses"

pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"shared Polymarket fixtures not present at {FIXTURES}"
)

# The publisher's account in the captured user-channel messages (order_placement.json).
PUBLISHER = Identity.of(
    api_keys=["3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"],
    addresses=["0xa3D82Ed56F4c68d2328Fb8c29e568Ba2cAF7d7c8"],
)
# The account of nautilus_trader's synthetic user messages (anvil's first address).
ANVIL = Identity.of(
    api_keys=["00000000-0000-0000-0000-000000000001"],
    addresses=["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"],
)
EITHER = Identity(
    api_keys=PUBLISHER.api_keys | ANVIL.api_keys, addresses=PUBLISHER.addresses | ANVIL.addresses
)
TRUMP_MARKET = ConditionId("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917")
TRUMP_YES = TokenId("21742633143463906290569050155826241533067272736897614950488156847949938836455")
TRUMP_NO = TokenId("48331043336612883890938759509493159234755048973500640148014422747788308965732")
SYNTHETIC_TOKEN = TokenId(
    "71321045679252212594626385532706912750332728571942532289631379312455583992563"
)
NVDA_MARKET = ConditionId("0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1")
NVDA_YES = TokenId("76043073756653678226373981964075571318267289248134717369284518995922789326425")
NVDA_NO = TokenId("31690934263385727664202099278545688007799199447969475608906331829650099442770")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def ws_events(name: str, identity: Identity = PUBLISHER) -> tuple[object, ...]:
    parsed = parse_frame((WS / name).read_text(encoding="utf-8"), identity)
    assert parsed.errors == ()
    return parsed.events


def single(name: str, identity: Identity = PUBLISHER) -> object:
    events = ws_events(name, identity)
    assert len(events) == 1
    return events[0]


def iso(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- websocket: market channel -------------------------------------------------------------


def test_the_captured_book_is_best_first_with_its_full_depth() -> None:
    book = single("book.json")

    assert isinstance(book, BookSnapshot)
    assert book.condition_id == TRUMP_MARKET
    assert book.token_id == TRUMP_NO
    assert (len(book.bids), len(book.asks)) == (76, 86)
    assert book.bids[0] == BookLevel(Decimal("0.511"), Decimal("1304.72"))
    assert book.asks[0] == BookLevel(Decimal("0.514"), Decimal("20230.87"))
    assert book.asks[-1] == BookLevel(Decimal("0.999"), Decimal(10500100))
    assert all(a.price > b.price for a, b in zip(book.bids, book.bids[1:], strict=False))
    assert all(a.price < b.price for a, b in zip(book.asks, book.asks[1:], strict=False))
    assert book.timestamp == 1728799418.26


@pytest.mark.parametrize(
    ("name", "bid", "ask"),
    [
        ("rs_ws_market_book_msg.json", "0.50", "0.51"),  # sent best-first by its publisher
        ("rs_ws_book_snapshot.json", "0.50", "0.51"),  # wire order, event_type stripped
    ],
)
def test_the_synthetic_books_have_the_right_top_whatever_their_order(
    name: str, bid: str, ask: str
) -> None:
    book = single(name)

    assert isinstance(book, BookSnapshot)
    assert book.token_id == SYNTHETIC_TOKEN
    assert book.best_bid == Decimal(bid)
    assert book.best_ask == Decimal(ask)


def test_the_legacy_price_change_is_one_ask_level_of_the_no_token() -> None:
    change = single("price_change.json")

    assert isinstance(change, PriceChange)
    assert change.condition_id == TRUMP_MARKET
    (level,) = change.changes
    assert (level.token_id, level.side, level.price, level.size) == (
        TRUMP_NO,
        Side.SELL,
        Decimal("0.514"),
        Decimal("21574.08"),
    )
    assert change.timestamp == 1723967931.411


def test_the_current_price_change_lists_three_bid_levels_with_the_top() -> None:
    change = single("price_change_v2.json")

    assert isinstance(change, PriceChange)
    assert [(c.price, c.size, c.side) for c in change.changes] == [
        (Decimal("0.6"), Decimal(3300), Side.BUY),
        (Decimal("0.5"), Decimal(3400), Side.BUY),
        (Decimal("0.7"), Decimal(3400), Side.BUY),
    ]
    assert {(c.best_bid, c.best_ask) for c in change.changes} == {(Decimal("0.6"), Decimal("0.7"))}


def test_a_price_change_can_touch_both_tokens() -> None:
    change = single("rs_ws_quotes.json")

    assert isinstance(change, PriceChange)
    assert [(c.side, c.best_bid, c.best_ask) for c in change.changes] == [
        (Side.BUY, Decimal("0.51"), Decimal("0.52")),
        (Side.SELL, Decimal("0.48"), Decimal("0.49")),
    ]
    assert len({c.token_id for c in change.changes}) == 2
    assert single("rs_ws_market_price_change_msg.json") == PriceChange(
        condition_id=change.condition_id, changes=change.changes[:1], timestamp=change.timestamp
    )


def test_last_trade_prices_carry_the_taker_side() -> None:
    captured = single("last_trade_price.json")

    assert captured == LastTrade(
        condition_id=TRUMP_MARKET,
        token_id=TRUMP_YES,
        price=Decimal("0.491"),
        size=Decimal("85.36"),
        side=Side.SELL,
        timestamp=1724564136.087,
    )
    for name in ("rs_ws_last_trade.json", "rs_ws_market_last_trade_msg.json"):
        synthetic = single(name)
        assert isinstance(synthetic, LastTrade)
        assert (synthetic.price, synthetic.size, synthetic.side) == (
            Decimal("0.51"),
            Decimal(25),
            Side.BUY,
        )


def test_tick_size_changes_give_old_and_new_ticks() -> None:
    captured = single("tick_size_change.json")

    assert isinstance(captured, TickSizeChange)
    assert (captured.old_tick_size, captured.new_tick_size) == (Decimal("0.01"), Decimal("0.001"))
    assert captured.timestamp == 1739068041.853
    for name in ("rs_ws_tick_size_change.json", "rs_ws_market_tick_size_msg.json"):
        synthetic = single(name)
        assert isinstance(synthetic, TickSizeChange)
        assert (synthetic.old_tick_size, synthetic.new_tick_size) == (
            Decimal("0.1"),
            Decimal("0.01"),
        )


def test_best_bid_ask_new_market_and_market_resolved_are_read() -> None:
    top = single("rs_ws_market_best_bid_ask_msg.json")
    new = single("rs_ws_market_new_market_msg.json")
    resolved = single("rs_ws_market_resolved_msg.json")

    assert isinstance(top, BestBidAsk)
    assert (top.best_bid, top.best_ask) == (Decimal("0.73"), Decimal("0.77"))
    assert new == NewMarket(
        condition_id=NVDA_MARKET,
        slug="nvda-above-240-on-january-30-2026",
        question="Will NVIDIA (NVDA) close above $240 end of January?",
        token_ids=(NVDA_YES, NVDA_NO),
        outcomes=("Yes", "No"),
        tick_size=Decimal("0.01"),
        active=True,
        timestamp=1766790415.55,
    )
    assert resolved == MarketResolved(
        condition_id=NVDA_MARKET,
        winning_token=NVDA_YES,
        winning_outcome="Yes",
        timestamp=1766790415.55,
    )


def test_rtds_price_messages_become_spot_prices() -> None:
    dump = ws_events("rs_rtds_crypto_prices_subscribe.json")
    update = single("rs_rtds_crypto_prices_update.json")
    equity = single("rs_rtds_equity_prices_update.json")

    assert [(p.asset, p.price) for p in dump if isinstance(p, SpotPrice)] == [
        ("BTC", Decimal("61164.12")),
        ("BTC", Decimal("61161.07")),
        ("BTC", Decimal("61150.89")),
    ]
    assert update == SpotPrice(asset="BTC", price=Decimal("61035.86000000"), timestamp=1780730269.0)
    assert equity == SpotPrice(asset="AAPL", price=Decimal("198.4523"), timestamp=1711382400.0)


# --- websocket: user channel ---------------------------------------------------------------


def test_the_captured_order_placement_and_cancellation_are_order_updates() -> None:
    placement = single("order_placement.json")
    cancel = single("order_cancel.json")

    assert placement == OrderUpdate(
        kind=OrderUpdateKind.PLACEMENT,
        order_id=OrderId("0x0f76f4dc6eaf3332f4100f2e8a0b4a927351dd64646b7bb12f37df775c657a78"),
        condition_id=TRUMP_MARKET,
        token_id=TRUMP_YES,
        side=Side.BUY,
        price=Decimal("0.513"),
        original_size=Decimal(5),
        size_matched=Decimal(0),
        status="LIVE",
        timestamp=1725842520.99,
    )
    assert isinstance(cancel, OrderUpdate)
    assert (cancel.kind, cancel.status, cancel.side, cancel.size_matched) == (
        OrderUpdateKind.CANCELLATION,
        "CANCELED",
        Side.SELL,
        Decimal(5),
    )


@pytest.mark.parametrize(
    ("name", "kind", "status", "matched"),
    [
        ("rs_ws_user_order_msg.json", OrderUpdateKind.PLACEMENT, "LIVE", "0"),
        ("rs_ws_user_order_placement.json", OrderUpdateKind.PLACEMENT, "LIVE", "0"),
        ("rs_ws_user_order_update.json", OrderUpdateKind.UPDATE, "LIVE", "25"),
        ("rs_ws_user_order_matched.json", OrderUpdateKind.UPDATE, "MATCHED", "100"),
        ("rs_ws_user_order_cancellation.json", OrderUpdateKind.CANCELLATION, "CANCELED", "0"),
        ("rs_ws_user_order_venue_cancel.json", OrderUpdateKind.CANCELLATION, "INVALID", "0"),
        (
            "rs_ws_user_order_fok_killed.json",
            OrderUpdateKind.CANCELLATION,
            "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.",
            "0",
        ),
    ],
)
def test_every_synthetic_order_event_keeps_its_kind_status_and_matched_size(
    name: str, kind: OrderUpdateKind, status: str, matched: str
) -> None:
    update = single(name, ANVIL)

    assert isinstance(update, OrderUpdate)
    assert (update.kind, update.status, update.size_matched) == (kind, status, Decimal(matched))


def test_as_taker_the_captured_trade_is_our_buy() -> None:
    fill = single("user_trade2.json")

    assert fill == TradeUpdate(
        trade_id="f50e8ab2-652d-4dc8-9c82-8e46197fe98d",
        order_id=OrderId("0x5b605a0e8e40f3402d3cb3bc19edad6733ed23fbc079d2a09ee399c3487ace81"),
        condition_id=TRUMP_MARKET,
        token_id=TRUMP_YES,
        side=Side.BUY,
        price=Decimal("0.52"),
        size=Decimal(5),
        fee=Decimal(0),
        status=TradeStatus.MATCHED,
        is_maker=False,
        timestamp=1725958682.125,
    )


def test_as_one_maker_among_six_our_fill_is_only_our_order() -> None:
    fill = single("user_trade1.json")

    assert isinstance(fill, TradeUpdate)
    assert fill.order_id == "0xab679e56242324e15e59cfd488cd0f12e4fd71b153b9bfb57518898b9983145e"
    assert (fill.size, fill.price, fill.token_id) == (Decimal(5), Decimal("0.518"), TRUMP_YES)
    assert fill.side is Side.SELL  # the taker bought 1096.87 shares; we sold our 5 into it
    assert fill.is_maker
    assert fill.status is TradeStatus.MINED


def test_as_maker_with_an_explicit_side_our_fill_takes_that_side() -> None:
    fill = single("user_trade3.json")

    assert isinstance(fill, TradeUpdate)
    assert fill.order_id == "0x3ad09f225ebe141dfbdb3824f31cb457e8e0301ca4e0a06311e543f5328b9dea"
    assert (fill.side, fill.price, fill.size) == (Side.BUY, Decimal("0.513"), Decimal(5))
    assert fill.status is TradeStatus.CONFIRMED


def test_two_of_our_maker_orders_in_one_trade_are_two_fills_with_their_own_prices() -> None:
    fills = ws_events("user_trade4.json")

    assert [(f.order_id[:10], f.price, f.size) for f in fills if isinstance(f, TradeUpdate)] == [
        ("0x3ad09f22", Decimal("0.4"), Decimal(5)),
        ("0x67b598ca", Decimal("0.3"), Decimal(5)),
    ]
    assert len({f.trade_id for f in fills if isinstance(f, TradeUpdate)}) == 2


def test_another_account_is_not_credited_with_our_maker_fills() -> None:
    stranger = Identity.of(
        api_keys=["stranger"], addresses=["0x0000000000000000000000000000000000000001"]
    )

    parsed = parse_frame((WS / "user_trade1.json").read_text(encoding="utf-8"), stranger)

    assert parsed.events == ()
    assert parsed.rejected_count == 1


@pytest.mark.parametrize("name", ["rs_ws_user_trade.json", "rs_ws_user_trade_msg.json"])
def test_the_synthetic_taker_trades_are_our_confirmed_buy(name: str) -> None:
    fill = single(name, ANVIL)

    assert isinstance(fill, TradeUpdate)
    assert (fill.side, fill.size, fill.price, fill.status, fill.is_maker) == (
        Side.BUY,
        Decimal(25),
        Decimal("0.5"),
        TradeStatus.CONFIRMED,
        False,
    )
    assert fill.timestamp == 1703875200.0


def test_the_rest_shaped_trade_object_is_our_taker_fill_at_its_last_update() -> None:
    fill = single("trades.json")

    assert isinstance(fill, TradeUpdate)
    assert fill.order_id == "0x4505aada9831d06078a005c8ec96396a78c8f06035bf763b40fc16d27a250043"
    assert (fill.size, fill.price, fill.status) == (
        Decimal(5),
        Decimal("0.489"),
        TradeStatus.CONFIRMED,
    )
    assert fill.timestamp == 1726043282.0


def test_every_websocket_fixture_parses_without_a_rejection() -> None:
    names = sorted(path.name for path in WS.glob("*.json"))

    rejected = {
        name: parse_frame((WS / name).read_text(encoding="utf-8"), EITHER).errors for name in names
    }

    assert {name: errors for name, errors in rejected.items() if errors} == {}
    assert len(names) >= 36


# --- REST ----------------------------------------------------------------------------------


def test_the_captured_rest_book_is_best_first() -> None:
    book = parse_book(load(HTTP / "book.json"))

    assert (book.best_bid, book.best_ask) == (Decimal("0.1"), Decimal("0.14"))
    assert book.bids[-1] == BookLevel(Decimal("0.01"), Decimal(1000))
    assert book.asks[-1] == BookLevel(Decimal("0.98"), Decimal(5000))
    assert book.timestamp == 1728799418.26
    synthetic = parse_book(load(HTTP / "rs_clob_book_response.json"))
    assert (synthetic.best_bid, synthetic.best_ask) == (Decimal("0.50"), Decimal("0.51"))


def test_the_clob_markets_give_tokens_ticks_and_winners() -> None:
    trump = parse_clob_market(load(HTTP / "market.json"))
    closed_no_won = parse_clob_market(
        load(HTTP / "rs_clob_market_closed_binary_accepting_false.json")
    )
    closed_yes_won = parse_clob_market(
        load(HTTP / "rs_clob_market_closed_binary_accepting_true.json")
    )

    assert [t.token_id for t in trump.tokens] == [TRUMP_YES, TRUMP_NO]
    assert (trump.tick_size, trump.min_order_size, trump.neg_risk) == (
        Decimal("0.001"),
        Decimal(5),
        True,
    )
    assert trump.winning_token is None
    assert trump.end == iso("2024-11-05T00:00:00")
    assert closed_no_won.winning_token == closed_no_won.tokens[1].token_id
    assert (closed_no_won.closed, closed_no_won.accepting_orders) == (True, False)
    assert closed_yes_won.winning_token == closed_yes_won.tokens[0].token_id
    assert closed_yes_won.tick_size == Decimal("0.01")


def test_the_clob_markets_page_parses_all_hundred_markets() -> None:
    page = load(HTTP / "markets.json")

    markets = [parse_clob_market(item, f"$.data[{i}]") for i, item in enumerate(page["data"])]

    assert len(markets) == 100
    assert page["next_cursor"] == "MTAw"
    assert all(len(m.tokens) == 2 for m in markets)
    assert sum(1 for m in markets if m.winning_token is not None) == 24


def test_the_up_down_gamma_market_gives_its_window_and_tokens() -> None:
    market = parse_gamma_market(load(HTTP / "rs_gamma_market.json"))

    assert market.slug == "btc-updown-5m-1773307200"
    assert market.outcomes == ("Up", "Down")
    assert market.token_ids == (
        "104239898038807136052399800151408521467737075933964991162589336683346093173875",
        "71183960810705820955071415844881728181970340514894896943812046065452395013351",
    )
    assert market.outcome_prices == (Decimal("0.505"), Decimal("0.495"))
    assert market.window_start == 1773307200.0
    assert market.end == 1773307500.0
    assert market.tick_size == Decimal("0.01")
    assert market.min_order_size == Decimal(5)
    assert market.is_hydrated
    assert (market.active, market.closed, market.accepting_orders) == (True, False, True)
    window = up_down_window(market)
    assert window is not None
    assert (window.asset, window.timeframe_s, window.start, window.end) == (
        "BTC",
        300,
        1773307200.0,
        1773307500.0,
    )
    assert (window.up_token, window.down_token) == market.token_ids


@pytest.mark.parametrize(
    ("name", "prices"),
    [
        ("rs_gamma_market_closed_binary_accepting_false.json", ("0", "1")),
        ("rs_gamma_market_closed_binary_accepting_true.json", ("1", "0")),
        ("rs_gamma_market_closed_zero_zero_legacy.json", ("0", "0")),
        ("rs_gamma_market_sports_market_map_handicap.json", ("1", "0")),
        ("rs_gamma_market_sports_market_money_line.json", ("1", "0")),
    ],
)
def test_closed_gamma_markets_show_their_resolution_prices(
    name: str, prices: tuple[str, str]
) -> None:
    market = parse_gamma_market(load(HTTP / name))

    assert market.closed
    assert market.outcome_prices == tuple(Decimal(p) for p in prices)
    assert len(market.token_ids) == 2


def test_gamma_markets_inside_events_lists_and_plain_arrays_parse() -> None:
    nested = load(HTTP / "rs_gamma_event.json")[0]["markets"]
    legacy = parse_gamma_market(load(HTTP / "rs_gamma_market_closed_nonbinary_legacy.json"))
    slug = parse_gamma_market(load(HTTP / "market_slug.json"))
    listed = [parse_gamma_market(m) for m in load(HTTP / "markets_list.json")]

    assert [parse_gamma_market(m).outcomes for m in nested] == [("Yes", "No"), ("Yes", "No")]
    assert legacy.outcomes == ("Long", "Short")
    assert legacy.outcome_prices[0] == Decimal("0.5843311669077693146635445446077281")
    assert legacy.tick_size is None
    # clobTokenIds is a plain array in this edited capture (live Gamma sends a string).
    assert slug.token_ids[0].startswith("4173124550477716")
    assert [m.slug for m in listed] == [
        "fed-rate-hike-in-2025",
        "btc-price-above-100k",
        "eth-price-above-5k",
    ]


def test_data_api_positions_parse_with_exact_decimals() -> None:
    positions = parse_positions(load(HTTP / "rs_data_api_positions_response.json"))

    assert len(positions) == 4
    first = positions[0]
    assert (first.size, first.avg_price, first.current_price) == (
        Decimal("150.5"),
        Decimal("0.55"),
        Decimal("0.6"),
    )
    assert first.outcome == "Yes"
    assert not first.redeemable


def test_balance_allowance_answers_parse_in_whole_units() -> None:
    collateral = parse_balance_allowance(load(HTTP / "rs_http_balance_allowance_collateral.json"))
    balance_only = parse_balance_allowance(
        load(HTTP / "rs_http_balance_allowance_no_allowance.json")
    )

    assert collateral == BalanceAllowance(
        balance=Decimal(1000), allowances={"": Decimal(999999999)}
    )
    assert balance_only == BalanceAllowance(balance=Decimal("250.5"))


def test_cancel_answers_tell_cancelled_from_already_gone() -> None:
    ok = parse_cancel_response(load(HTTP / "rs_http_cancel_response_ok.json"))
    failed = parse_cancel_response(load(HTTP / "rs_http_cancel_response_failed.json"))
    batch = parse_cancel_response(load(HTTP / "rs_http_batch_cancel_response.json"))

    assert len(ok.canceled) == 1
    assert ok.not_canceled == {}
    assert failed.canceled == ()
    assert list(failed.not_canceled.values()) == [ALREADY_GONE]
    assert all(failed.is_done(order_id) for order_id in failed.not_canceled)
    assert (len(batch.canceled), len(batch.not_canceled)) == (2, 1)


def test_order_answers_give_the_id_or_the_reason() -> None:
    ok = parse_order_response(load(HTTP / "rs_http_order_response_ok.json"), "c-1")
    refused = parse_order_response(load(HTTP / "rs_http_order_response_failed.json"), "c-2")

    assert ok.order_id == "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef12"
    assert ok.error is None
    assert (refused.order_id, refused.error) == (None, "Insufficient balance")
    assert parse_error_body(load(HTTP / "rs_http_order_response_error_500.json")) == (
        "Internal server error"
    )


def test_open_orders_parse_alone_and_in_a_page() -> None:
    resting = parse_open_order(load(HTTP / "rs_http_open_order.json"))
    killed = parse_open_order(load(HTTP / "rs_http_open_order_sell_fok.json"))
    page = parse_open_orders_page(load(HTTP / "rs_http_open_orders_page.json"))

    assert (resting.status, resting.order_type) == ("LIVE", OrderType.GTC)
    assert (killed.status, killed.order_type, killed.side) == ("MATCHED", OrderType.FOK, Side.SELL)
    assert page.is_last
    assert [(o.side, o.order_type, o.size_matched) for o in page.items] == [
        (Side.BUY, OrderType.GTC, Decimal(0)),
        (Side.SELL, OrderType.GTD, Decimal(50)),
    ]
    assert page.items[0].created_at == 1703875200.0


def test_trades_parse_alone_and_in_a_page() -> None:
    page = parse_trades_page(load(HTTP / "rs_http_trades_page.json"), ANVIL)
    report = parse_trade(load(HTTP / "rs_http_trade_report.json"), ANVIL)

    assert page.is_last
    (fill,) = page.items
    assert (fill.status, fill.size, fill.side, fill.is_maker) == (
        TradeStatus.MINED,
        Decimal(10),
        Side.BUY,
        False,
    )
    assert fill.timestamp == iso("2024-01-01T00:00:10")
    (taker,) = report
    assert (taker.size, taker.price, taker.status) == (
        Decimal(25),
        Decimal("0.5"),
        TradeStatus.CONFIRMED,
    )


def test_an_order_response_status_maps_onto_our_order_status() -> None:
    answer = load(HTTP / "rs_http_order_response_ok.json") | {"status": "live"}

    assert parse_order_response(answer, "c").status is OrderStatus.LIVE


def test_a_book_parsed_through_the_message_entry_point_matches_the_rest_parser() -> None:
    raw = load(WS / "book.json")

    assert parse_message(raw) == (parse_book(raw),)
