"""The mirrored book: quotes straddle the center on the grid, Down mirrors Up, takers deplete."""

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venues.sim.books import MirroredBook, price_table, size_decimal
from venues.sim.settings import SimBookShape
from venues.types import BookSnapshot, ConditionId, TokenId

CID = ConditionId("0xabc")
UP = TokenId("1")
DOWN = TokenId("2")
COARSE = Decimal("0.01")
FINE = Decimal("0.001")


def _book(center=0.5, tick=COARSE, **shape):
    book = MirroredBook(shape=SimBookShape(**shape), tick=tick, step_s=1.0, rng=random.Random(1))
    book.rebuild(center, tick)
    return book


def _snapshots(book):
    up = book.snapshot(condition_id=CID, token_id=UP, is_up=True, timestamp=1.0)
    down = book.snapshot(condition_id=CID, token_id=DOWN, is_up=False, timestamp=1.0)
    return up, down


def _assert_well_formed(snapshot: BookSnapshot):
    tick = snapshot.tick_size
    prices = [level.price for level in snapshot.bids + snapshot.asks]
    assert all(tick <= p <= 1 - tick and p % tick == 0 for p in prices)
    assert [lv.price for lv in snapshot.bids] == sorted(
        (lv.price for lv in snapshot.bids), reverse=True
    )
    assert [lv.price for lv in snapshot.asks] == sorted(lv.price for lv in snapshot.asks)
    assert all(level.size > 0 for level in snapshot.bids + snapshot.asks)
    if snapshot.bids and snapshot.asks:
        assert snapshot.bids[0].price < snapshot.asks[0].price


def test_the_quotes_straddle_the_center_with_the_configured_spread_and_depth():
    up, _ = _snapshots(_book(center=0.503, spread_ticks=2, levels=4))
    assert up.best_bid == Decimal("0.49")
    assert up.best_ask == Decimal("0.51")
    assert len(up.bids) == len(up.asks) == 4
    _assert_well_formed(up)


@given(
    center=st.floats(-0.2, 1.2),
    tick=st.sampled_from([COARSE, FINE]),
    spread=st.integers(1, 5),
    levels=st.integers(1, 12),
)
def test_any_center_gives_a_well_formed_mirrored_book(center, tick, spread, levels):
    up, down = _snapshots(_book(center=center, tick=tick, spread_ticks=spread, levels=levels))
    _assert_well_formed(up)
    _assert_well_formed(down)
    assert [(1 - lv.price, lv.size) for lv in up.asks] == [(lv.price, lv.size) for lv in down.bids]
    assert [(1 - lv.price, lv.size) for lv in up.bids] == [(lv.price, lv.size) for lv in down.asks]


def test_a_requote_on_the_same_center_moves_only_refreshed_sizes():
    book = _book(depth_refresh_per_s=0.0)
    assert book.requote(0.5) == []


def test_a_one_tick_move_removes_first_then_adds():
    book = _book(center=0.5, levels=3, depth_refresh_per_s=0.0)
    moves = book.requote(0.51)
    removed = [(is_bid, i) for is_bid, i, size in moves if size == 0]
    added = [(is_bid, i) for is_bid, i, size in moves if size > 0]
    assert removed == [(True, 48), (False, 51)]
    assert added == [(True, 51), (False, 54)]
    assert moves[: len(removed)] == [(b, i, 0) for b, i in removed]


def test_level_changes_carry_both_tokens_and_their_best_prices():
    book = _book(center=0.5, levels=3, depth_refresh_per_s=0.0)
    changes = book.level_changes(book.requote(0.51), up_token=UP, down_token=DOWN)
    up_changes = [c for c in changes if c.token_id == UP]
    down_changes = [c for c in changes if c.token_id == DOWN]
    assert len(up_changes) == len(down_changes) == 4
    assert {(c.best_bid, c.best_ask) for c in up_changes} == {(Decimal("0.51"), Decimal("0.52"))}
    assert {(c.best_bid, c.best_ask) for c in down_changes} == {(Decimal("0.48"), Decimal("0.49"))}
    for up_change, down_change in zip(up_changes, down_changes, strict=True):
        assert down_change.price == 1 - up_change.price
        assert down_change.size == up_change.size
        assert down_change.side != up_change.side


def test_a_taker_depletes_the_best_level_and_the_next_becomes_best():
    book = _book(center=0.5)
    best = book.best_bid
    available = book.bids[best]
    index, filled, left = book.take(hit_bids=True, size=available // 2)
    assert (index, filled, left) == (best, available // 2, available - available // 2)
    index, filled, left = book.take(hit_bids=True, size=10**9)
    assert (index, filled, left) == (best, available - available // 2, 0)
    assert best not in book.bids
    assert book.best_bid == best - 1


def test_a_depleted_level_is_quoted_again_on_the_next_requote():
    book = _book(center=0.5, depth_refresh_per_s=0.0)
    best = book.best_ask
    book.take(hit_bids=False, size=10**9)
    moves = book.requote(0.5)
    assert [(is_bid, i) for is_bid, i, size in moves] == [(False, best)]
    assert book.best_ask == best


def test_a_rebuild_moves_the_book_to_another_tick_grid():
    book = _book(center=0.97)
    book.rebuild(0.9705, FINE)
    up, _ = _snapshots(book)
    assert up.tick_size == FINE
    assert up.best_bid == Decimal("0.970")
    assert up.best_ask == Decimal("0.971")
    _assert_well_formed(up)


def test_price_tables_and_sizes_are_exact_decimals():
    assert price_table(COARSE)[37] == Decimal("0.37")
    assert str(price_table(FINE)[5]) == "0.005"
    assert size_decimal(12345) == Decimal("123.45")


@pytest.mark.parametrize("center", [0.0, 1.0])
def test_the_book_never_quotes_outside_one_tick_from_the_edges(center):
    up, down = _snapshots(_book(center=center, levels=20))
    _assert_well_formed(up)
    _assert_well_formed(down)
    assert up.bids[-1].price >= COARSE
    assert up.asks[-1].price <= 1 - COARSE
