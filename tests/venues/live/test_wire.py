"""Polymarket JSON <-> domain values: every parser, the frame-level counting, and the encoders
the local exchange uses (each encoder is checked by parsing its output back)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venues.live.wire import (
    LAST_CURSOR,
    NOBODY,
    BalanceAllowance,
    Identity,
    ServerNotice,
    WireError,
    classify_order_status,
    encode_balance_allowance,
    encode_best_bid_ask,
    encode_book,
    encode_cancel_response,
    encode_last_trade,
    encode_market_resolved,
    encode_open_order,
    encode_order_event,
    encode_order_response,
    encode_page,
    encode_price_change,
    encode_tick_size_change,
    encode_trade,
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
from venues.port import ALREADY_GONE, CancelResult
from venues.types import (
    BestBidAsk,
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    NewMarket,
    OrderId,
    OrderResult,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    PriceChange,
    PriceLevelChange,
    Side,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeStatus,
    TradeUpdate,
)

CID = ConditionId("0x78443f961b9a65869dcb39359de9960165c7e5cbad0904eac7f29cd77872a63b")
UP = TokenId("104239898038807136052399800151408521467737075933964991162589336683346093173875")
DOWN = TokenId("71183960810705820955071415844881728181970340514894896943812046065452395013351")
OUR_KEY = "11111111-2222-3333-4444-555555555555"
OUR_ADDRESS = "0x5E1f00000000000000000000000000000000CAFE"
US = Identity.of(api_keys=[OUR_KEY], addresses=[OUR_ADDRESS])
OUR_ORDER = "0x" + "a1" * 32
TAKER_ORDER = "0x" + "b2" * 32
OTHER_ORDER = "0x" + "c3" * 32
T_MS = "1773307201250"
T_S = 1773307201.25

Json = dict[str, Any]


def wire_book(**overrides: object) -> Json:
    book: Json = {
        "event_type": "book",
        "market": CID,
        "asset_id": UP,
        "timestamp": T_MS,
        "hash": "655a38d4",
        # As the venue sends them: bids ascending, asks descending, best last.
        "bids": [{"price": "0.01", "size": "900"}, {"price": "0.47", "size": "12.5"}],
        "asks": [{"price": "0.99", "size": "5000"}, {"price": "0.53", "size": "40"}],
    }
    return book | overrides


def wire_order(**overrides: object) -> Json:
    order: Json = {
        "event_type": "order",
        "type": "PLACEMENT",
        "id": OUR_ORDER,
        "owner": OUR_KEY,
        "order_owner": OUR_KEY,
        "maker_address": OUR_ADDRESS,
        "market": CID,
        "asset_id": UP,
        "side": "BUY",
        "outcome": "Up",
        "order_type": "GTC",
        "price": "0.49",
        "original_size": "10",
        "size_matched": "0",
        "status": "LIVE",
        "associate_trades": None,
        "expiration": "0",
        "created_at": "1773307201",
        "timestamp": T_MS,
    }
    return order | overrides


def maker_entry(order_id: str, owner: str, address: str, amount: str, **extra: object) -> Json:
    entry: Json = {
        "order_id": order_id,
        "owner": owner,
        "maker_address": address,
        "matched_amount": amount,
        "price": "0.49",
        "fee_rate_bps": "0",
        "asset_id": UP,
        "outcome": "Up",
    }
    return entry | extra


def wire_trade(**overrides: object) -> Json:
    trade: Json = {
        "event_type": "trade",
        "type": "TRADE",
        "id": "7d1c2b8e-0000-4000-8000-000000000001",
        "taker_order_id": TAKER_ORDER,
        "market": CID,
        "asset_id": UP,
        "side": "BUY",
        "size": "10",
        "price": "0.51",
        "fee_rate_bps": "0",
        "status": "MATCHED",
        "outcome": "Up",
        "bucket_index": 0,
        "owner": OUR_KEY,
        "trade_owner": OUR_KEY,
        "maker_address": OUR_ADDRESS,
        "match_time": "1773307201",
        "last_update": "1773307201",
        "timestamp": T_MS,
        "trader_side": "TAKER",
        "maker_orders": [maker_entry(OTHER_ORDER, "them", "0x0b0b", "10", price="0.51")],
    }
    return trade | overrides


def one(raw: object, identity: Identity = NOBODY) -> object:
    events = parse_message(raw, identity)
    assert len(events) == 1
    return events[0]


# --- market channel --------------------------------------------------------------------------


def test_a_book_is_turned_best_first_with_decimal_sizes_and_seconds() -> None:
    book = one(wire_book())

    assert isinstance(book, BookSnapshot)
    assert book.bids == (
        BookLevel(Decimal("0.47"), Decimal("12.5")),
        BookLevel(Decimal("0.01"), Decimal(900)),
    )
    assert book.asks == (
        BookLevel(Decimal("0.53"), Decimal(40)),
        BookLevel(Decimal("0.99"), Decimal(5000)),
    )
    assert book.best_bid == Decimal("0.47")
    assert book.best_ask == Decimal("0.53")
    assert book.timestamp == T_S
    assert book.condition_id == CID
    assert book.token_id == UP


def test_a_book_already_best_first_is_not_turned_the_wrong_way() -> None:
    levels = wire_book()
    best_first = wire_book(bids=levels["bids"][::-1], asks=levels["asks"][::-1])

    assert one(best_first) == one(wire_book())


def test_a_book_uses_its_own_tick_size_or_the_one_the_caller_knows() -> None:
    with_tick = parse_message(wire_book(tick_size="0.001"))[0]
    without_tick = parse_message(wire_book(), tick_size_if_absent=Decimal("0.001"))[0]

    assert isinstance(with_tick, BookSnapshot)
    assert isinstance(without_tick, BookSnapshot)
    assert with_tick.tick_size == Decimal("0.001")
    assert without_tick.tick_size == Decimal("0.001")


def test_an_empty_book_near_resolution_parses_with_no_best_prices() -> None:
    book = one(wire_book(bids=[], asks=[]))

    assert isinstance(book, BookSnapshot)
    assert book.best_bid is None
    assert book.best_ask is None


def test_a_frame_that_is_an_array_of_books_gives_one_event_each() -> None:
    frame = json.dumps([wire_book(), wire_book(asset_id=DOWN)])

    parsed = parse_frame(frame)

    assert parsed.rejected_count == 0
    assert [event.token_id for event in parsed.events if isinstance(event, BookSnapshot)] == [
        UP,
        DOWN,
    ]


def test_a_current_price_change_lists_level_totals_of_both_tokens() -> None:
    change = one(
        {
            "event_type": "price_change",
            "market": CID,
            "timestamp": T_MS,
            "price_changes": [
                {
                    "asset_id": UP,
                    "price": "0.5",
                    "size": "3300",
                    "side": "BUY",
                    "hash": "x",
                    "best_bid": "0.5",
                    "best_ask": "0.52",
                },
                {
                    "asset_id": DOWN,
                    "price": "0.48",
                    "size": "0",
                    "side": "SELL",
                    "hash": "y",
                    "best_bid": "0.46",
                    "best_ask": "",
                },
            ],
        }
    )

    assert change == PriceChange(
        condition_id=CID,
        changes=(
            PriceLevelChange(
                token_id=UP,
                price=Decimal("0.5"),
                size=Decimal(3300),
                side=Side.BUY,
                best_bid=Decimal("0.5"),
                best_ask=Decimal("0.52"),
            ),
            PriceLevelChange(
                token_id=DOWN,
                price=Decimal("0.48"),
                size=Decimal(0),
                side=Side.SELL,
                best_bid=Decimal("0.46"),
                best_ask=None,
            ),
        ),
        timestamp=T_S,
    )


def test_a_legacy_flat_price_change_is_one_level_of_its_asset() -> None:
    change = one(
        {
            "event_type": "price_change",
            "market": CID,
            "asset_id": DOWN,
            "hash": "h",
            "price": "0.514",
            "side": "SELL",
            "size": "21574.08",
            "timestamp": T_MS,
        }
    )

    assert isinstance(change, PriceChange)
    assert change.changes == (
        PriceLevelChange(
            token_id=DOWN,
            price=Decimal("0.514"),
            size=Decimal("21574.08"),
            side=Side.SELL,
            best_bid=None,
            best_ask=None,
        ),
    )


def test_a_legacy_price_change_with_a_changes_array_keeps_every_level() -> None:
    change = one(
        {
            "event_type": "price_change",
            "market": CID,
            "asset_id": UP,
            "hash": "h",
            "timestamp": T_MS,
            "changes": [
                {"price": "0.4", "side": "BUY", "size": "1"},
                {"price": "0.6", "side": "SELL", "size": "2"},
            ],
        }
    )

    assert isinstance(change, PriceChange)
    assert [(c.token_id, c.price, c.side) for c in change.changes] == [
        (UP, Decimal("0.4"), Side.BUY),
        (UP, Decimal("0.6"), Side.SELL),
    ]


def test_last_trade_tick_size_change_and_best_bid_ask_parse_their_fields() -> None:
    last = one(
        {
            "event_type": "last_trade_price",
            "market": CID,
            "asset_id": UP,
            "price": "0.491",
            "side": "SELL",
            "size": "85.36",
            "fee_rate_bps": "0",
            "timestamp": T_MS,
        }
    )
    tick = one(
        {
            "event_type": "tick_size_change",
            "market": CID,
            "asset_id": UP,
            "old_tick_size": "0.01",
            "new_tick_size": "0.001",
            "timestamp": T_MS,
        }
    )
    top = one(
        {
            "event_type": "best_bid_ask",
            "market": CID,
            "asset_id": UP,
            "best_bid": "0.73",
            "best_ask": "",
            "spread": "",
            "timestamp": T_MS,
        }
    )

    assert last == LastTrade(
        condition_id=CID,
        token_id=UP,
        price=Decimal("0.491"),
        size=Decimal("85.36"),
        side=Side.SELL,
        timestamp=T_S,
    )
    assert tick == TickSizeChange(
        condition_id=CID,
        token_id=UP,
        old_tick_size=Decimal("0.01"),
        new_tick_size=Decimal("0.001"),
        timestamp=T_S,
    )
    assert top == BestBidAsk(
        condition_id=CID, token_id=UP, best_bid=Decimal("0.73"), best_ask=None, timestamp=T_S
    )


def test_new_market_and_market_resolved_parse_their_fields() -> None:
    new = one(
        {
            "event_type": "new_market",
            "id": "1557558",
            "question": "Bitcoin Up or Down",
            "market": CID,
            "slug": "btc-updown-15m-1773307200",
            "assets_ids": [UP, DOWN],
            "outcomes": ["Up", "Down"],
            "timestamp": T_MS,
            "condition_id": CID,
            "active": True,
            "clob_token_ids": [UP, DOWN],
            "order_price_min_tick_size": "0.01",
        }
    )
    resolved = one(
        {
            "event_type": "market_resolved",
            "id": "1",
            "market": CID,
            "assets_ids": [UP, DOWN],
            "winning_asset_id": DOWN,
            "winning_outcome": "Down",
            "timestamp": T_MS,
        }
    )

    assert new == NewMarket(
        condition_id=CID,
        slug="btc-updown-15m-1773307200",
        question="Bitcoin Up or Down",
        token_ids=(UP, DOWN),
        outcomes=("Up", "Down"),
        tick_size=Decimal("0.01"),
        active=True,
        timestamp=T_S,
    )
    assert resolved == MarketResolved(
        condition_id=CID, winning_token=DOWN, winning_outcome="Down", timestamp=T_S
    )


def test_a_protocol_v2_event_may_name_its_asset_token_id() -> None:
    raw = wire_book()
    del raw["asset_id"]
    raw["token_id"] = UP

    book = one(raw)

    assert isinstance(book, BookSnapshot)
    assert book.token_id == UP


def test_rtds_chainlink_updates_and_subscribe_dumps_become_spot_prices() -> None:
    update = {
        "topic": "crypto_prices_chainlink",
        "type": "update",
        "timestamp": 1773307201300,
        "payload": {
            "symbol": "btc/usd",
            "timestamp": 1773307201000,
            "value": 61035.86,
            "full_accuracy_value": "61035.86123",
        },
    }
    dump = {
        "topic": "crypto_prices",
        "type": "subscribe",
        "payload": {
            "symbol": "ethusdt",
            "data": [
                {"timestamp": 1773307200000, "value": 2001.5},
                {"timestamp": 1773307201000, "value": 2002.25},
            ],
        },
    }

    assert parse_message(update) == (
        SpotPrice(asset="BTC", price=Decimal("61035.86123"), timestamp=1773307201.0),
    )
    assert parse_message(dump) == (
        SpotPrice(asset="ETH", price=Decimal("2001.5"), timestamp=1773307200.0),
        SpotPrice(asset="ETH", price=Decimal("2002.25"), timestamp=1773307201.0),
    )


@pytest.mark.parametrize(
    ("text", "notice"),
    [
        ("PONG", ServerNotice.PONG),
        ("NO NEW ASSETS", ServerNotice.NO_NEW_ASSETS),
        ("INVALID OPERATION\n", ServerNotice.INVALID_OPERATION),
    ],
)
def test_the_text_frames_are_notices_not_rejections(text: str, notice: ServerNotice) -> None:
    parsed = parse_frame(text)

    assert parsed.notices == (notice,)
    assert parsed.events == ()
    assert parsed.rejected_count == 0


def test_a_frame_that_is_neither_json_nor_a_known_text_is_one_rejection() -> None:
    parsed = parse_frame("PANG")

    assert parsed.rejected_count == 1
    assert parsed.errors[0].path == "$"


def test_one_bad_message_of_an_array_frame_is_dropped_and_the_rest_delivered() -> None:
    frame = json.dumps(
        [wire_book(), wire_book(bids=[{"price": "0.4"}]), {"event_type": "surprise"}]
    )

    parsed = parse_frame(frame)

    assert len(parsed.events) == 1
    assert parsed.rejected_count == 2
    assert [error.path for error in parsed.errors] == ["$[1].bids[0].size", "$[2].event_type"]


@pytest.mark.parametrize(
    ("message", "path", "problem"),
    [
        ({"event_type": "book"}, "$.market", "missing"),
        (wire_book(timestamp="yesterday"), "$.timestamp", "not a timestamp"),
        (wire_book(asks=[{"price": "NaN", "size": "1"}]), "$.asks[0].price", "not a finite number"),
        (wire_book(bids="none"), "$.bids", "expected a JSON array"),
        ({"hello": "world"}, "$.event_type", "matches no known shape"),
        ({"event_type": 3}, "$.event_type", "expected a string"),
        ([1, 2], "$", "expected a JSON object"),
        (wire_order(side="HOLD"), "$.side", "unknown value 'HOLD'"),
    ],
)
def test_malformed_messages_raise_a_wire_error_naming_the_field(
    message: object, path: str, problem: str
) -> None:
    with pytest.raises(WireError) as raised:
        parse_message(message)

    assert raised.value.path == path
    assert problem in raised.value.problem
    assert str(raised.value).startswith(f"{path}: ")


def test_messages_without_event_type_are_recognised_by_their_shape() -> None:
    book = wire_book()
    del book["event_type"]
    order = wire_order()
    del order["event_type"]

    assert isinstance(one(book), BookSnapshot)
    assert isinstance(one(order), OrderUpdate)


# --- user channel ----------------------------------------------------------------------------


def test_an_order_placement_becomes_an_order_update() -> None:
    update = one(wire_order())

    assert update == OrderUpdate(
        kind=OrderUpdateKind.PLACEMENT,
        order_id=OrderId(OUR_ORDER),
        condition_id=CID,
        token_id=UP,
        side=Side.BUY,
        price=Decimal("0.49"),
        original_size=Decimal(10),
        size_matched=Decimal(0),
        status="LIVE",
        timestamp=T_S,
    )


def test_a_killed_fok_with_free_text_status_and_empty_sizes_parses() -> None:
    killed = "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed."

    update = one(wire_order(type="CANCELLATION", status=killed, size_matched="", created_at=""))

    assert isinstance(update, OrderUpdate)
    assert update.kind is OrderUpdateKind.CANCELLATION
    assert update.status == killed
    assert update.size_matched == Decimal(0)
    assert classify_order_status(update.status) is OrderStatus.CANCELED


def test_an_order_with_an_unknown_status_is_rejected() -> None:
    with pytest.raises(WireError, match=r"\$\.status: unknown value 'PAUSED'"):
        parse_message(wire_order(status="PAUSED"))


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("LIVE", OrderStatus.LIVE),
        ("MATCHED", OrderStatus.MATCHED),
        ("DELAYED", OrderStatus.DELAYED),
        ("UNMATCHED", OrderStatus.UNMATCHED),
        ("CANCELED", OrderStatus.CANCELED),
        ("CANCELED_MARKET_RESOLVED", OrderStatus.CANCELED),
        ("CANCELED_NOT_ENOUGH_BALANCE", OrderStatus.CANCELED),
        ("INVALID", OrderStatus.CANCELED),
        ("ORDER_STATUS_LIVE", OrderStatus.LIVE),
        ("live", OrderStatus.LIVE),
    ],
)
def test_order_statuses_are_classified_by_prefix(text: str, status: OrderStatus) -> None:
    assert classify_order_status(text) is status


def test_as_taker_our_fill_is_the_top_level_of_the_trade() -> None:
    fills = parse_trade(wire_trade(), US)

    assert fills == (
        TradeUpdate(
            trade_id="7d1c2b8e-0000-4000-8000-000000000001",
            order_id=OrderId(TAKER_ORDER),
            condition_id=CID,
            token_id=UP,
            side=Side.BUY,
            price=Decimal("0.51"),
            size=Decimal(10),
            fee=Decimal(0),
            status=TradeStatus.MATCHED,
            is_maker=False,
            timestamp=T_S,
        ),
    )


def test_as_maker_our_fill_is_the_maker_entry_with_our_address_in_any_case() -> None:
    ours = maker_entry(OUR_ORDER, "not-our-key", OUR_ADDRESS.lower(), "6")
    theirs = maker_entry(OTHER_ORDER, "them", "0x0b0b", "4")
    trade = wire_trade(
        trader_side="MAKER", side="SELL", owner="x", trade_owner="them", maker_orders=[theirs, ours]
    )

    (fill,) = parse_trade(trade, US)

    assert fill.order_id == OUR_ORDER
    assert fill.size == Decimal(6)
    assert fill.price == Decimal("0.49")
    assert fill.side is Side.BUY  # the taker sold into our bid
    assert fill.is_maker
    assert fill.trade_id == "7d1c2b8e-0000-4000-8000-000000000001"


def test_as_maker_our_fill_can_be_found_by_our_api_key() -> None:
    ours = maker_entry(
        OUR_ORDER, OUR_KEY, "0x0000000000000000000000000000000000000001", "6", side="SELL"
    )
    trade = wire_trade(trader_side="MAKER", side="BUY", trade_owner="them", maker_orders=[ours])

    (fill,) = parse_trade(trade, Identity.of(api_keys=[OUR_KEY]))

    assert fill.order_id == OUR_ORDER
    assert fill.side is Side.SELL


def test_a_cross_asset_maker_fill_is_on_the_other_token_and_buys_too() -> None:
    # The taker buys UP; our resting bid on DOWN completes the pair (a mint), so we buy DOWN.
    ours = maker_entry(OUR_ORDER, OUR_KEY, OUR_ADDRESS, "10", asset_id=DOWN, price="0.49")
    trade = wire_trade(trader_side="MAKER", side="BUY", trade_owner="them", maker_orders=[ours])

    (fill,) = parse_trade(trade, US)

    assert fill.token_id == DOWN
    assert fill.side is Side.BUY


def test_two_of_our_orders_in_one_match_get_distinct_trade_ids() -> None:
    first = maker_entry(OUR_ORDER, OUR_KEY, OUR_ADDRESS, "5")
    second = maker_entry(OTHER_ORDER, OUR_KEY, OUR_ADDRESS, "5", price="0.48")
    trade = wire_trade(
        trader_side="MAKER", side="SELL", trade_owner="them", maker_orders=[first, second]
    )

    fills = parse_trade(trade, US)

    trade_id = "7d1c2b8e-0000-4000-8000-000000000001"
    assert [f.trade_id for f in fills] == [f"{trade_id}:{OUR_ORDER}", f"{trade_id}:{OTHER_ORDER}"]
    assert [f.price for f in fills] == [Decimal("0.49"), Decimal("0.48")]


def test_a_self_match_gives_our_taker_and_our_maker_fill() -> None:
    ours = maker_entry(OUR_ORDER, OUR_KEY, OUR_ADDRESS, "10", price="0.51")
    fills = parse_trade(wire_trade(maker_orders=[ours]), US)

    assert [(f.is_maker, f.side, f.trade_id.endswith(OUR_ORDER)) for f in fills] == [
        (False, Side.BUY, False),
        (True, Side.SELL, True),
    ]


def test_a_maker_trade_with_no_maker_order_of_ours_is_rejected() -> None:
    trade = wire_trade(trader_side="MAKER", trade_owner="them")

    with pytest.raises(WireError) as raised:
        parse_trade(trade, US)

    assert raised.value.path == "$.maker_orders"


@pytest.mark.parametrize(
    "status", ["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED", "TRADE_STATUS_CONFIRMED"]
)
def test_every_trade_status_is_read(status: str) -> None:
    (fill,) = parse_trade(wire_trade(status=status), US)

    assert fill.status.value == status.removeprefix("TRADE_STATUS_")


def test_a_trade_item_from_rest_takes_its_time_from_last_update_in_any_format() -> None:
    rest = wire_trade(last_update="2026-03-12T09:20:01Z", match_time="1773307100")
    for key in ("event_type", "type", "timestamp", "trade_owner"):
        del rest[key]

    (fill,) = parse_trade(rest, US)

    assert fill.timestamp == datetime(2026, 3, 12, 9, 20, 1, tzinfo=UTC).timestamp()


# --- REST ------------------------------------------------------------------------------------


def test_a_rest_book_with_its_extra_fields_parses_like_the_event() -> None:
    rest = wire_book(min_order_size="5", tick_size="0.01", neg_risk=False, last_trade_price="0.5")
    del rest["event_type"]

    book = parse_book(rest)

    assert book.best_bid == Decimal("0.47")
    assert book.tick_size == Decimal("0.01")


def test_an_accepted_order_response_gives_status_and_matched_amounts() -> None:
    answer = {
        "success": True,
        "errorMsg": "",
        "orderID": OUR_ORDER,
        "status": "matched",
        "makingAmount": "4.999999",
        "takingAmount": "8.19672",
        "transactionsHashes": ["0x1"],
        "tradeIDs": ["t"],
    }

    result = parse_order_response(answer, "client-1")

    assert result == OrderResult(
        client_id="client-1",
        order_id=OrderId(OUR_ORDER),
        status=OrderStatus.MATCHED,
        making_amount=Decimal("4.999999"),
        taking_amount=Decimal("8.19672"),
    )


def test_a_resting_order_response_has_no_amounts_and_prefixed_statuses_are_read() -> None:
    answer = {
        "success": True,
        "errorMsg": "",
        "orderID": OUR_ORDER,
        "status": "ORDER_STATUS_LIVE",
        "makingAmount": "",
        "takingAmount": "",
    }

    result = parse_order_response(answer, "c")

    assert result.status is OrderStatus.LIVE
    assert result.making_amount == Decimal(0)


@pytest.mark.parametrize(
    "answer",
    [
        {"success": False, "orderID": None, "errorMsg": "not enough balance / allowance"},
        {"success": True, "orderID": "", "errorMsg": "not enough balance / allowance"},
    ],
)
def test_a_refused_order_response_carries_the_reason(answer: Json) -> None:
    result = parse_order_response(answer, "c")

    assert result.order_id is None
    assert result.status is None
    assert result.error == "not enough balance / allowance"


def test_an_error_body_gives_its_reason() -> None:
    assert parse_error_body({"error": "Too Many Requests"}) == "Too Many Requests"
    with pytest.raises(WireError, match=r"\$\.error: missing"):
        parse_error_body({})


def test_a_cancel_response_tells_cancelled_from_already_gone() -> None:
    result = parse_cancel_response({"canceled": ["0x1"], "not_canceled": {"0x2": ALREADY_GONE}})

    assert result.canceled == ("0x1",)
    assert result.is_done(OrderId("0x1"))
    assert result.is_done(OrderId("0x2"))
    assert dict(result.not_canceled) == {"0x2": ALREADY_GONE}


def test_balances_in_base_units_become_whole_units_per_spender() -> None:
    v2 = parse_balance_allowance(
        {
            "balance": "12345678",
            "allowances": {
                "0xE111": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
                "0xe222": "0",
            },
        }
    )
    v1 = parse_balance_allowance({"balance": "1000000000", "allowance": "999999999000000"})

    assert v2.balance == Decimal("12.345678")
    assert v2.allowances["0xe222"] == Decimal(0)
    assert v2.allowances["0xE111"] > Decimal(10) ** 70
    assert v1 == BalanceAllowance(balance=Decimal(1000), allowances={"": Decimal(999999999)})


def test_a_balance_already_in_whole_units_is_not_scaled_again() -> None:
    assert parse_balance_allowance({"balance": "250.500000"}).balance == Decimal("250.5")


def test_an_open_orders_page_parses_every_order_and_knows_it_is_the_last() -> None:
    page = parse_open_orders_page(
        {
            "data": [
                {
                    "id": OUR_ORDER,
                    "status": "LIVE",
                    "owner": OUR_KEY,
                    "maker_address": OUR_ADDRESS,
                    "market": CID,
                    "asset_id": UP,
                    "side": "SELL",
                    "original_size": "100",
                    "size_matched": "25",
                    "price": "0.99",
                    "outcome": "Up",
                    "expiration": "0",
                    "order_type": "GTD",
                    "associate_trades": ["t"],
                    "created_at": 1773307201,
                },
            ],
            "next_cursor": LAST_CURSOR,
            "limit": 100,
            "count": 1,
        }
    )

    assert page.is_last
    assert page.items == (
        OrderSnapshot(
            order_id=OrderId(OUR_ORDER),
            client_id=None,
            condition_id=CID,
            token_id=UP,
            side=Side.SELL,
            price=Decimal("0.99"),
            original_size=Decimal(100),
            size_matched=Decimal(25),
            order_type=OrderType.GTD,
            status="LIVE",
            created_at=1773307201.0,
        ),
    )


def test_a_page_with_a_cursor_is_not_the_last() -> None:
    page = parse_trades_page({"data": [wire_trade()], "next_cursor": "MTAw"}, US)

    assert not page.is_last
    assert page.next_cursor == "MTAw"
    assert len(page.items) == 1


def test_a_clob_market_tells_its_winner_tick_and_state() -> None:
    market = parse_clob_market(
        {
            "condition_id": CID,
            "question": "Bitcoin Up or Down",
            "market_slug": "btc-updown-15m-1773307200",
            "minimum_order_size": 5,
            "minimum_tick_size": 0.01,
            "accepting_orders": False,
            "active": True,
            "closed": True,
            "neg_risk": False,
            "end_date_iso": "2026-03-12T09:35:00Z",
            "tokens": [
                {"token_id": UP, "outcome": "Up", "price": 1, "winner": True},
                {"token_id": DOWN, "outcome": "Down", "price": 0, "winner": False},
            ],
        }
    )

    assert market.winning_token == UP
    assert market.tick_size == Decimal("0.01")
    assert market.min_order_size == Decimal(5)
    assert market.closed
    assert not market.accepting_orders
    assert market.end == datetime(2026, 3, 12, 9, 35, tzinfo=UTC).timestamp()


def gamma_market(**overrides: object) -> Json:
    market: Json = {
        "id": "1557558",
        "question": "Bitcoin Up or Down - March 12, 5:20AM-5:35AM ET",
        "conditionId": CID,
        "slug": "btc-updown-15m-1773307200",
        "outcomes": '["Up", "Down"]',
        "clobTokenIds": json.dumps([UP, DOWN]),
        "outcomePrices": '["0.505", "0.495"]',
        "eventStartTime": "2026-03-12T09:20:00Z",
        "endDate": "2026-03-12T09:35:00Z",
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "active": True,
        "closed": False,
        "acceptingOrders": True,
        "negRisk": False,
    }
    return market | overrides


def test_a_gamma_market_reads_the_json_inside_its_strings() -> None:
    market = parse_gamma_market(gamma_market())

    assert market.outcomes == ("Up", "Down")
    assert market.token_ids == (UP, DOWN)
    assert market.outcome_prices == (Decimal("0.505"), Decimal("0.495"))
    assert market.is_hydrated
    assert market.version == "v1"
    assert market.window_start == datetime(2026, 3, 12, 9, 20, tzinfo=UTC).timestamp()
    assert market.end == datetime(2026, 3, 12, 9, 35, tzinfo=UTC).timestamp()
    assert market.tick_size == Decimal("0.01")


def test_a_v2_gamma_market_trades_its_position_ids_even_when_it_has_clob_token_ids() -> None:
    position_ids = [
        "1461501637330902918203684832716283019655932542975",
        "1461501637330902918203684832716283019655932542976",
    ]

    market = parse_gamma_market(gamma_market(version="v2", positionIds=position_ids))

    assert market.token_ids == tuple(position_ids)


def test_a_v1_gamma_market_ignores_position_ids() -> None:
    market = parse_gamma_market(gamma_market(version="v1", positionIds=["1", "2"]))

    assert market.token_ids == (UP, DOWN)


@pytest.mark.parametrize("ids", ["", "[]", '["", ""]', None])
def test_a_gamma_market_with_empty_token_ids_is_not_hydrated_yet(ids: str | None) -> None:
    market = parse_gamma_market(gamma_market(clobTokenIds=ids))

    assert market.token_ids == ()
    assert not market.is_hydrated


def test_a_gamma_market_with_broken_json_in_a_string_names_the_field() -> None:
    with pytest.raises(WireError) as raised:
        parse_gamma_market(gamma_market(outcomes='["Up", '))

    assert raised.value.path == "$.outcomes"


def test_data_api_positions_turn_json_numbers_into_exact_decimals() -> None:
    (position,) = parse_positions(
        [
            {
                "proxyWallet": OUR_ADDRESS,
                "asset": UP,
                "conditionId": CID,
                "size": 150.5,
                "avgPrice": 0.55,
                "curPrice": 0.6,
                "redeemable": True,
                "outcome": "Up",
                "outcomeIndex": 0,
                "slug": "btc-updown-15m-1773307200",
                "endDate": "2026-03-12T09:35:00Z",
            }
        ]
    )

    assert position.size == Decimal("150.5")
    assert position.avg_price == Decimal("0.55")
    assert position.current_price == Decimal("0.6")
    assert position.redeemable
    assert position.token_id == UP


def test_data_api_positions_must_be_an_array() -> None:
    with pytest.raises(WireError, match=r"^\$: expected a JSON array"):
        parse_positions({"data": []})


# --- encoders: what the local exchange sends parses back to the same value ------------------


BOOK = BookSnapshot(
    condition_id=CID,
    token_id=UP,
    bids=(BookLevel(Decimal("0.48"), Decimal(20)), BookLevel(Decimal("0.45"), Decimal(100))),
    asks=(BookLevel(Decimal("0.52"), Decimal(10)), BookLevel(Decimal("0.55"), Decimal("40.5"))),
    tick_size=Decimal("0.01"),
    timestamp=T_S,
)


def test_an_encoded_book_is_in_wire_order_and_parses_back() -> None:
    wire: Json = json.loads(json.dumps(encode_book(BOOK)))

    assert [level["price"] for level in wire["bids"]] == ["0.45", "0.48"]
    assert [level["price"] for level in wire["asks"]] == ["0.55", "0.52"]
    assert wire["timestamp"] == T_MS
    assert parse_message(wire) == (BOOK,)
    assert parse_book(encode_book(BOOK, event=False)) == BOOK


def test_encoded_market_events_parse_back_to_the_same_values() -> None:
    values = [
        PriceChange(
            condition_id=CID,
            changes=(
                PriceLevelChange(
                    token_id=UP,
                    price=Decimal("0.5"),
                    size=Decimal(0),
                    side=Side.SELL,
                    best_bid=Decimal("0.48"),
                    best_ask=None,
                ),
            ),
            timestamp=T_S,
        ),
        LastTrade(
            condition_id=CID,
            token_id=DOWN,
            price=Decimal("0.51"),
            size=Decimal("5.25"),
            side=Side.BUY,
            timestamp=T_S,
        ),
        TickSizeChange(
            condition_id=CID,
            token_id=UP,
            old_tick_size=Decimal("0.01"),
            new_tick_size=Decimal("0.001"),
            timestamp=T_S,
        ),
        BestBidAsk(
            condition_id=CID,
            token_id=UP,
            best_bid=Decimal("0.48"),
            best_ask=Decimal("0.52"),
            timestamp=T_S,
        ),
        MarketResolved(condition_id=CID, winning_token=UP, winning_outcome="Up", timestamp=T_S),
    ]
    encoded = [
        encode_price_change(values[0]),  # type: ignore[arg-type]
        encode_last_trade(values[1]),  # type: ignore[arg-type]
        encode_tick_size_change(values[2]),  # type: ignore[arg-type]
        encode_best_bid_ask(values[3]),  # type: ignore[arg-type]
        encode_market_resolved(values[4], (UP, DOWN)),  # type: ignore[arg-type]
    ]

    parsed = parse_frame(json.dumps(encoded))

    assert parsed.rejected_count == 0
    assert list(parsed.events) == values
    assert encoded[3]["spread"] == "0.04"


def test_an_encoded_order_event_and_open_order_parse_back() -> None:
    update = OrderUpdate(
        kind=OrderUpdateKind.UPDATE,
        order_id=OrderId(OUR_ORDER),
        condition_id=CID,
        token_id=UP,
        side=Side.SELL,
        price=Decimal("0.99"),
        original_size=Decimal(10),
        size_matched=Decimal(4),
        status="LIVE",
        timestamp=T_S,
    )
    snapshot = OrderSnapshot(
        order_id=OrderId(OUR_ORDER),
        client_id=None,
        condition_id=CID,
        token_id=UP,
        side=Side.BUY,
        price=Decimal("0.49"),
        original_size=Decimal(10),
        size_matched=Decimal(0),
        order_type=OrderType.GTC,
        status="LIVE",
        created_at=1773307201.0,
    )

    assert one(encode_order_event(update, owner=OUR_KEY, maker_address=OUR_ADDRESS)) == update
    assert (
        parse_open_order(encode_open_order(snapshot, owner=OUR_KEY, maker_address=OUR_ADDRESS))
        == snapshot
    )
    page = parse_open_orders_page(
        encode_page([encode_open_order(snapshot, owner=OUR_KEY, maker_address=OUR_ADDRESS)])
    )
    assert page.items == (snapshot,)
    assert page.is_last


@pytest.mark.parametrize("is_maker", [False, True])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_an_encoded_trade_gives_our_fill_back_as_taker_or_maker(is_maker: bool, side: Side) -> None:
    fill = TradeUpdate(
        trade_id="t-1",
        order_id=OrderId(OUR_ORDER),
        condition_id=CID,
        token_id=UP,
        side=side,
        price=Decimal("0.51"),
        size=Decimal(7),
        fee=Decimal(0),
        status=TradeStatus.CONFIRMED,
        is_maker=is_maker,
        timestamp=T_S,
    )

    def encode(*, event: bool) -> dict[str, object]:
        return encode_trade(
            fill,
            owner=OUR_KEY,
            maker_address=OUR_ADDRESS,
            counterparty_owner="them",
            counterparty_address="0x0b0b",
            counterparty_order_id=OTHER_ORDER,
            event=event,
        )

    as_event = encode(event=True)
    as_rest = encode(event=False)

    assert parse_message(json.loads(json.dumps(as_event)), US) == (fill,)
    rest_fill = parse_trades_page(encode_page([as_rest]), US).items
    # REST items carry whole seconds only (match_time / last_update).
    assert rest_fill == (replace(fill, timestamp=float(int(T_S))),)
    # Another account reading the same trade finds no fill of its own as maker.
    if is_maker:
        with pytest.raises(WireError):
            parse_trade(as_event, Identity.of(api_keys=["stranger"]))


def test_encoded_order_responses_cancels_and_balances_parse_back() -> None:
    accepted = OrderResult(
        client_id="c",
        order_id=OrderId(OUR_ORDER),
        status=OrderStatus.MATCHED,
        making_amount=Decimal(5),
        taking_amount=Decimal("9.8"),
    )
    resting = OrderResult(client_id="c", order_id=OrderId(OUR_ORDER), status=OrderStatus.LIVE)
    refused = OrderResult(
        client_id="c",
        order_id=None,
        status=None,
        error="invalid post-only order: order crosses book",
    )
    cancels = CancelResult(canceled=(OrderId("0x1"),), not_canceled={OrderId("0x2"): ALREADY_GONE})
    balance = BalanceAllowance(balance=Decimal("12.345678"), allowances={"0xE111": Decimal(1000)})

    for result in (accepted, resting, refused):
        assert parse_order_response(encode_order_response(result), "c") == result
    assert parse_cancel_response(encode_cancel_response(cancels)) == cancels
    assert encode_balance_allowance(balance) == {
        "balance": "12345678",
        "allowances": {"0xE111": "1000000000"},
    }
    assert parse_balance_allowance(encode_balance_allowance(balance)) == balance


def test_bytes_that_are_not_utf8_are_one_rejection_not_a_crash() -> None:
    parsed = parse_frame(b"\xff\xfe{")

    assert parsed.rejected_count == 1
    assert "not UTF-8" in parsed.errors[0].problem


def test_the_price_streams_lower_case_pong_is_a_notice() -> None:
    assert parse_frame("pong").notices == (ServerNotice.PONG,)


def test_an_up_down_gamma_market_is_a_window_from_its_slug() -> None:
    window = up_down_window(parse_gamma_market(gamma_market()))

    assert window == MarketWindow(
        asset="BTC",
        timeframe_s=900,
        start=1773307200.0,
        end=1773308100.0,
        condition_id=CID,
        up_token=UP,
        down_token=DOWN,
        slug="btc-updown-15m-1773307200",
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
    )


def test_an_up_down_window_finds_its_tokens_by_outcome_not_by_position() -> None:
    reversed_market = gamma_market(outcomes='["Down", "Up"]', clobTokenIds=json.dumps([DOWN, UP]))

    window = up_down_window(parse_gamma_market(reversed_market))

    assert window is not None
    assert (window.up_token, window.down_token) == (UP, DOWN)


@pytest.mark.parametrize(
    "overrides",
    [
        {"slug": "will-btc-hit-100k"},
        {"outcomes": '["Yes", "No"]'},
        {"clobTokenIds": '["", ""]'},
    ],
)
def test_other_markets_and_unhydrated_ones_are_not_windows(overrides: Json) -> None:
    assert up_down_window(parse_gamma_market(gamma_market(**overrides))) is None


prices = st.integers(min_value=1, max_value=999).map(lambda n: Decimal(n).scaleb(-3))
sizes = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))


@given(
    bid_prices=st.sets(prices, max_size=30),
    ask_prices=st.sets(prices, max_size=30),
    size=sizes,
    millis=st.integers(min_value=1_600_000_000_000, max_value=2_000_000_000_000),
)
def test_any_book_the_local_exchange_encodes_parses_back_exactly(
    bid_prices: set[Decimal], ask_prices: set[Decimal], size: Decimal, millis: int
) -> None:
    book = BookSnapshot(
        condition_id=CID,
        token_id=UP,
        bids=tuple(BookLevel(p, size) for p in sorted(bid_prices, reverse=True)),
        asks=tuple(BookLevel(p, size) for p in sorted(ask_prices)),
        tick_size=Decimal("0.001"),
        timestamp=millis / 1000,
    )

    assert parse_frame(json.dumps(encode_book(book))).events == (book,)
