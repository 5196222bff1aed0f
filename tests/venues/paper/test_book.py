"""The paper exchange's copy of a market book and the taker walk over it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from venues.paper.book import (
    Fill,
    HouseBook,
    crosses,
    value_within,
    walk_for_amount,
    walk_for_shares,
)
from venues.types import BookLevel, BookSnapshot, ConditionId, PriceLevelChange, Side, TokenId

D = Decimal
ASKS = (BookLevel(D("0.52"), D(10)), BookLevel(D("0.53"), D(20)), BookLevel(D("0.55"), D(50)))
BIDS = (BookLevel(D("0.48"), D(10)), BookLevel(D("0.47"), D(20)))


def _book() -> HouseBook:
    book = HouseBook(condition_id=ConditionId("c"), token_id=TokenId("t"), tick_size=D("0.01"))
    book.apply_snapshot(
        BookSnapshot(
            condition_id=ConditionId("c"),
            token_id=TokenId("t"),
            bids=tuple(reversed(BIDS)),
            asks=tuple(reversed(ASKS)),
            tick_size=D("0.01"),
            timestamp=1.0,
        )
    )
    return book


def test_levels_come_best_first_whatever_order_the_snapshot_had() -> None:
    book = _book()
    assert book.levels(Side.SELL) == ASKS
    assert book.levels(Side.BUY) == BIDS


def test_consumed_liquidity_stays_consumed_across_level_changes_until_a_snapshot() -> None:
    book = _book()
    book.consume(Side.SELL, D("0.52"), D(4))
    assert book.size_at(Side.SELL, D("0.52")) == 6
    change = PriceLevelChange(
        token_id=TokenId("t"),
        price=D("0.52"),
        size=D(12),
        side=Side.SELL,
        best_bid=None,
        best_ask=None,
    )
    book.apply_change(change, 2.0)
    assert book.size_at(Side.SELL, D("0.52")) == 8
    book.apply_snapshot(
        BookSnapshot(
            condition_id=ConditionId("c"),
            token_id=TokenId("t"),
            bids=(),
            asks=(BookLevel(D("0.52"), D(12)),),
            tick_size=D("0.01"),
            timestamp=3.0,
        )
    )
    assert book.size_at(Side.SELL, D("0.52")) == 12


def test_a_level_change_to_zero_removes_the_level() -> None:
    book = _book()
    change = PriceLevelChange(
        token_id=TokenId("t"),
        price=D("0.52"),
        size=D(0),
        side=Side.SELL,
        best_bid=None,
        best_ask=None,
    )
    book.apply_change(change, 2.0)
    assert book.levels(Side.SELL)[0].price == D("0.53")


def test_consuming_more_than_is_left_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="only 10 left"):
        _book().consume(Side.SELL, D("0.52"), D(11))


def test_a_buy_walks_the_asks_up_to_its_limit_only() -> None:
    fills = walk_for_shares(ASKS, taker_side=Side.BUY, limit=D("0.53"), shares=D(100))
    assert fills == (Fill(price=D("0.52"), shares=D(10)), Fill(price=D("0.53"), shares=D(20)))


def test_a_sell_walks_the_bids_down_to_its_limit_only() -> None:
    fills = walk_for_shares(BIDS, taker_side=Side.SELL, limit=D("0.48"), shares=D(15))
    assert fills == (Fill(price=D("0.48"), shares=D(10)),)


def test_a_buy_by_amount_spends_no_more_than_the_amount() -> None:
    fills = walk_for_amount(ASKS, limit=D("0.55"), amount=D(10))
    spent = sum(fill.shares * fill.price for fill in fills)
    assert spent <= 10
    assert fills[0] == Fill(price=D("0.52"), shares=D(10))
    assert fills[1].price == D("0.53")
    assert fills[1].shares == D("9.0566")  # 4.8 / 0.53, cut to 4 decimals


def test_crossing_is_at_or_through_the_limit() -> None:
    assert crosses(Side.BUY, D("0.50"), D("0.50"))
    assert not crosses(Side.BUY, D("0.50"), D("0.51"))
    assert crosses(Side.SELL, D("0.50"), D("0.50"))
    assert not crosses(Side.SELL, D("0.50"), D("0.49"))


def test_value_within_counts_only_reachable_levels() -> None:
    assert value_within(ASKS, taker_side=Side.BUY, limit=D("0.53")) == D("15.80")
