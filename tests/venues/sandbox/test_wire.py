"""Polymarket JSON shapes: books best-last with the client's hash, cursor pages, decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from py_clob_client_v2.clob_types import OrderBookSummary, OrderSummary
from py_clob_client_v2.utilities import generate_orderbook_summary_hash

from venues.sandbox.wire import (
    END_CURSOR,
    INITIAL_CURSOR,
    BookContext,
    book_json,
    decimal_text,
    page_json,
)
from venues.types import BookLevel, BookSnapshot, ConditionId, TokenId

BOOK = BookSnapshot(
    condition_id=ConditionId("0x" + "ab" * 32),
    token_id=TokenId("123"),
    bids=(BookLevel(Decimal("0.48"), Decimal(100)), BookLevel(Decimal("0.47"), Decimal("250.5"))),
    asks=(BookLevel(Decimal("0.50"), Decimal(80)), BookLevel(Decimal("0.51"), Decimal(300))),
    tick_size=Decimal("0.01"),
    timestamp=1_767_225_600.123,
)


def test_a_book_lists_the_best_levels_last_with_the_hash_the_client_computes() -> None:
    book = book_json(BOOK, BookContext(min_order_size=Decimal(5), last_trade_price=Decimal("0.49")))
    assert book["bids"][-1] == {"price": "0.48", "size": "100"}
    assert book["asks"][-1] == {"price": "0.5", "size": "80"}
    assert book["timestamp"] == "1767225600123"
    summary = OrderBookSummary(
        market=book["market"],
        asset_id=book["asset_id"],
        timestamp=book["timestamp"],
        bids=[OrderSummary(**level) for level in book["bids"]],
        asks=[OrderSummary(**level) for level in book["asks"]],
        min_order_size=book["min_order_size"],
        neg_risk=book["neg_risk"],
        tick_size=book["tick_size"],
        last_trade_price=book["last_trade_price"],
        hash="",
    )
    assert generate_orderbook_summary_hash(summary) == book["hash"]


def test_pages_walk_every_row_once_and_end_with_the_end_cursor() -> None:
    rows = [{"n": n} for n in range(5)]
    cursor, seen = INITIAL_CURSOR, []
    while cursor != END_CURSOR:
        page = page_json(rows, cursor=cursor, limit=2)
        seen += page["data"]
        cursor = page["next_cursor"]
    assert seen == rows
    assert page_json([], cursor=INITIAL_CURSOR, limit=2)["next_cursor"] == END_CURSOR
    with pytest.raises(ValueError, match="next_cursor"):
        page_json(rows, cursor="not base64!", limit=2)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.50"), "0.5"),
        (Decimal("1E+1"), "10"),
        (Decimal("0.001"), "0.001"),
        (Decimal(0), "0"),
    ],
)
def test_decimals_are_written_plainly_without_trailing_zeros(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text
