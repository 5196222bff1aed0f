"""The feed's per-token order book: snapshots, level changes, and the tick-size rule."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from state.order_book import OrderBook
from venues.types import BookLevel, BookSnapshot, ConditionId, PriceLevelChange, Side, TokenId

D = Decimal
CONDITION = ConditionId("0xc")
TOKEN = TokenId("up")


def snapshot(bids=(), asks=(), tick="0.01", ts=1.0) -> BookSnapshot:
    return BookSnapshot(
        condition_id=CONDITION,
        token_id=TOKEN,
        bids=tuple(BookLevel(D(p), D(s)) for p, s in bids),
        asks=tuple(BookLevel(D(p), D(s)) for p, s in asks),
        tick_size=D(tick),
        timestamp=ts,
    )


def change(price, size, side) -> PriceLevelChange:
    return PriceLevelChange(
        token_id=TOKEN, price=D(price), size=D(size), side=side, best_bid=None, best_ask=None
    )


def new_book() -> OrderBook:
    return OrderBook(condition_id=CONDITION, token_id=TOKEN, tick_size=D("0.01"))


def test_a_snapshot_replaces_the_book_and_comes_back_best_first() -> None:
    book = new_book()
    book.apply_snapshot(snapshot(bids=[("0.40", 5), ("0.45", 7)], asks=[("0.60", 1), ("0.55", 2)]))
    assert book.snapshot() == snapshot(
        bids=[("0.45", 7), ("0.40", 5)], asks=[("0.55", 2), ("0.60", 1)]
    )
    book.apply_snapshot(snapshot(bids=[("0.30", 1)], ts=2.0))
    assert book.snapshot() == snapshot(bids=[("0.30", 1)], ts=2.0)


def test_a_change_sets_the_level_total_and_zero_removes_the_level() -> None:
    book = new_book()
    book.apply_snapshot(snapshot(bids=[("0.45", 7)], asks=[("0.55", 2)]))
    assert book.apply_change(change("0.45", 3, Side.BUY), 2.0)
    assert book.apply_change(change("0.46", 4, Side.BUY), 2.0)
    assert book.apply_change(change("0.55", 0, Side.SELL), 3.0)
    assert book.snapshot() == snapshot(bids=[("0.46", 4), ("0.45", 3)], ts=3.0)


def test_changes_after_a_tick_size_change_are_ignored_until_the_next_snapshot() -> None:
    book = new_book()
    book.apply_snapshot(snapshot(bids=[("0.97", 7)], asks=[("0.98", 2)]))
    book.change_tick_size(D("0.001"), 2.0)
    assert book.is_awaiting_snapshot
    assert not book.apply_change(change("0.975", 5, Side.BUY), 2.0)
    assert D("0.975") not in [level.price for level in book.snapshot().bids]
    book.apply_snapshot(snapshot(bids=[("0.971", 1)], asks=[("0.972", 1)], tick="0.001", ts=3.0))
    assert book.apply_change(change("0.970", 5, Side.BUY), 4.0)
    assert book.snapshot().bids == (BookLevel(D("0.971"), D(1)), BookLevel(D("0.970"), D(5)))
    assert book.snapshot().tick_size == D("0.001")


def test_a_change_to_a_book_that_never_had_a_snapshot_is_ignored() -> None:
    book = new_book()
    assert not book.apply_change(change("0.45", 3, Side.BUY), 1.0)
    assert book.snapshot().bids == ()


def test_the_snapshot_is_built_once_per_change() -> None:
    book = new_book()
    book.apply_snapshot(snapshot(bids=[("0.45", 7)]))
    first = book.snapshot()
    assert book.snapshot() is first
    book.apply_change(change("0.44", 1, Side.BUY), 2.0)
    assert book.snapshot() is not first


prices = st.integers(min_value=1, max_value=99).map(lambda cents: D(cents) / 100)
changes = st.lists(
    st.tuples(prices, st.integers(min_value=0, max_value=50), st.sampled_from(Side)), max_size=60
)


@given(changes=changes)
def test_the_book_equals_a_plain_model_of_level_totals_after_any_changes(changes) -> None:
    book = new_book()
    book.apply_snapshot(snapshot())
    model = {Side.BUY: {}, Side.SELL: {}}
    for price, size, side in changes:
        book.apply_change(change(price, size, side), 1.0)
        if size:
            model[side][price] = D(size)
        else:
            model[side].pop(price, None)
    result = book.snapshot()
    assert result.bids == tuple(
        BookLevel(p, s) for p, s in sorted(model[Side.BUY].items(), reverse=True)
    )
    assert result.asks == tuple(BookLevel(p, s) for p, s in sorted(model[Side.SELL].items()))
