"""Properties of the paper exchange over any sequence of orders, cancels, market moves, time
and resolution: money and shares are conserved, no balance goes negative, no fill is worse
than its limit, and a FOK never fills partially."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venues.errors import VenueError
from venues.paper import PaperSettings
from venues.paper.faults import FaultSettings
from venues.paper.ledger import COLLATERAL, Account
from venues.types import OrderType, Side, TradeStatus, TradeUpdate

D = Decimal

# Prices sit around the opening book (bids 0.48, asks 0.52), crossing offsets first so that
# even hypothesis's simplest examples trade; a few are anywhere on the grid.
near_book = st.sampled_from([52, 53, 48, 47, 50, 55, 45, 60, 40, 51, 49])
cents = st.one_of(near_book, st.integers(min_value=1, max_value=99))
prices = cents.map(lambda price: D(price) / 100)
# Mostly above the 5-share minimum; some dust and some sizes larger than the book.
sizes = st.one_of(
    st.sampled_from([10, 25, 5, 60, 150, 7.5]).map(lambda shares: D(str(shares))),
    st.integers(min_value=1, max_value=40_000).map(lambda hundredths: D(hundredths) / 100),
)
tokens = st.sampled_from(["up", "down"])
sides = st.sampled_from([Side.BUY, Side.SELL])

place = st.tuples(
    st.just("place"),
    tokens,
    sides,
    st.sampled_from([OrderType.GTC, OrderType.FOK, OrderType.FAK, OrderType.GTD]),
    prices,
    sizes,
    st.sampled_from([False, True]),  # BUY by amount, for FOK/FAK
    st.sampled_from([False, False, False, True]),  # post-only
)
sell_held = st.tuples(
    st.just("sell_held"),
    tokens,
    st.sampled_from([OrderType.FAK, OrderType.GTC, OrderType.FOK]),
    st.sampled_from([48, 45, 50, 52, 55, 30]).map(lambda price: D(price) / 100),  # bids at 0.48
    st.sampled_from([D(1), D("0.5"), D("1.2")]),  # of what we hold; more than all is refused
)
cancel = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30))
cancel_all = st.tuples(st.just("cancel_all"))
snapshot = st.tuples(
    st.just("snapshot"),
    tokens,
    st.one_of(st.integers(min_value=45, max_value=55), st.integers(min_value=2, max_value=98)),
    st.integers(min_value=1, max_value=5),  # half the spread, in cents
    st.lists(sizes, min_size=0, max_size=4),
)
level = st.tuples(
    st.just("level"), tokens, sides, prices, st.sampled_from([D(0), D(5), D(50), D(500)])
)
market_trade = st.tuples(st.just("trade"), tokens, sides, prices, sizes)
advance = st.tuples(st.just("advance"), st.sampled_from([0.5, 1, 3, 30, 200]))

operations = st.lists(
    st.one_of(
        sell_held,
        place,
        place,
        place,
        place,
        place,
        sell_held,
        sell_held,
        cancel,
        cancel_all,
        snapshot,
        level,
        market_trade,
        market_trade,
        market_trade,
        advance,
        advance,
    ),
    min_size=5,
    max_size=60,
)
# Resolution ends a market's trading, so it comes last (then redemption, then late orders).
endings = st.sampled_from([None, "up", "down"])
fault_sets = st.fixed_dictionaries(
    {
        "seed": st.integers(min_value=0, max_value=10),
        "latency_s": st.sampled_from([0.0, 1.0]),
        "balance_lag_s": st.sampled_from([0.0, 5.0]),
        "confirmation_delay_s": st.sampled_from([0.0, 4.0]),
        "trade_failure_rate": st.sampled_from([0.0, 0.3]),
    }
)


def _apply(
    harness: Any, operation: tuple[Any, ...], placed: list[Any], limits: dict[str, Any]
) -> None:
    kind = operation[0]
    token = {"up": harness.up, "down": harness.down}
    match kind:
        case "place":
            _, name, side, order_type, price, size, by_amount, post_only = operation
            is_market = order_type in (OrderType.FOK, OrderType.FAK)
            request = harness.request(
                token_id=token[name],
                side=side,
                order_type=order_type,
                price=price,
                size=size,
                amount=size if by_amount and is_market and side is Side.BUY else None,
                post_only=post_only,
                expiration=harness.clock.now() + 400 if order_type is OrderType.GTD else None,
            )
            try:
                result = harness.exchange.place_order(request)
            except VenueError:
                return
            placed.append(result.order_id)
            limits[result.order_id] = request
        case "sell_held":
            _, name, order_type, price, fraction = operation
            held = harness.exchange.balance(token[name]) * fraction
            size = held.quantize(D("0.01"), rounding=ROUND_DOWN)
            _apply(
                harness,
                ("place", name, Side.SELL, order_type, price, size, False, False),
                placed,
                limits,
            )
        case "cancel":
            if placed:
                harness.exchange.cancel(placed[operation[1] % len(placed)])
        case "cancel_all":
            harness.exchange.cancel_all()
        case "snapshot":
            _, name, mid, half_spread, level_sizes = operation
            bids = [
                (str(D(mid - half_spread - i) / 100), s)
                for i, s in enumerate(level_sizes)
                if mid - half_spread - i >= 1
            ]
            asks = [
                (str(D(mid + half_spread + i) / 100), s)
                for i, s in enumerate(level_sizes)
                if mid + half_spread + i <= 99
            ]
            harness.set_book(token[name], bids=bids, asks=asks)
        case "level":
            _, name, side, price, size = operation
            harness.change_level(token[name], side, str(price), size)
        case "trade":
            _, name, side, price, size = operation
            harness.market_trade(token[name], side, str(price), size)
        case "advance":
            harness.advance(operation[1])
        case "resolve":
            harness.resolve(token[operation[1]])
        case "redeem":
            try:
                harness.exchange.redeem(harness.condition_id)
            except VenueError:
                return
        case _:
            raise AssertionError(kind)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, ending=endings, faults=fault_sets)
def test_money_and_shares_are_conserved_and_fills_respect_limits(
    make_harness: Callable[..., Any],
    ops: list[tuple[Any, ...]],
    ending: str | None,
    faults: dict[str, Any],
) -> None:
    harness = make_harness(
        PaperSettings(fee_rate=D("0.25"), fee_exponent=2, faults=FaultSettings(**faults))
    )
    placed: list[Any] = []
    limits: dict[str, Any] = {}
    for name in ("up", "down"):  # start holding tokens, so that sells happen from the start
        _apply(
            harness,
            ("place", name, Side.BUY, OrderType.GTC, D("0.50"), D(40), False, False),
            placed,
            limits,
        )
        _apply(harness, ("trade", name, Side.SELL, D("0.50"), D(40)), placed, limits)
    if ending is not None:
        ops = [*ops, ("resolve", ending), ("redeem",), *ops[:3], ("advance", 30), ("redeem",)]
    for operation in ops:
        _apply(harness, operation, placed, limits)
        assert harness.exchange.audit() == ()
        for asset in (COLLATERAL, harness.up, harness.down):
            assert harness.exchange.holding(Account.US, asset) >= 0
            assert harness.exchange.balance(None if asset == COLLATERAL else asset) >= 0
    harness.advance(1000)  # every trade settles one way or the other
    assert harness.exchange.audit() == ()
    assert harness.exchange.holding(Account.ESCROW, COLLATERAL) == 0

    fills = [e for e in harness.exchange.trades()]
    for fill in fills:
        request = limits[fill.order_id]
        if request.side is Side.BUY:
            assert fill.price <= request.price
        else:
            assert fill.price >= request.price
    for order_id, request in limits.items():
        if request.order_type is OrderType.FOK:
            matched = sum((f.size for f in fills if f.order_id == order_id), D(0))
            if request.amount is None:
                assert matched in (0, request.size)
            else:
                spent = sum((f.size * f.price for f in fills if f.order_id == order_id), D(0))
                assert spent <= request.amount
    statuses = {e.status for e in harness.user_events if isinstance(e, TradeUpdate)}
    assert statuses <= set(TradeStatus)
