"""Finding an order by its request on a venue that does not echo client ids."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from state.order_match import Ambiguous, Found, NeverLanded, match_order
from venues.types import (
    ConditionId,
    OrderId,
    OrderRequest,
    OrderSnapshot,
    OrderType,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
)

TOKEN = TokenId("up")
MARKET = ConditionId("0xm")
REQUEST = OrderRequest(
    client_id="W/UP/entry/1", token_id=TOKEN, side=Side.BUY, price=Decimal("0.55"), size=Decimal(10)
)


def _order(order_id: str, **changes: object) -> OrderSnapshot:
    fields: dict[str, object] = {
        "order_id": OrderId(order_id),
        "client_id": None,
        "condition_id": MARKET,
        "token_id": TOKEN,
        "side": Side.BUY,
        "price": Decimal("0.55"),
        "original_size": Decimal(10),
        "size_matched": Decimal(0),
        "order_type": OrderType.GTC,
        "status": "LIVE",
        "created_at": 1000.0,
    }
    fields.update(changes)
    return OrderSnapshot(**fields)  # type: ignore[arg-type]


def _trade(order_id: str, size: str, price: str = "0.54", **changes: object) -> TradeUpdate:
    fields: dict[str, object] = {
        "trade_id": f"t-{order_id}-{size}",
        "order_id": OrderId(order_id),
        "condition_id": MARKET,
        "token_id": TOKEN,
        "side": Side.BUY,
        "price": Decimal(price),
        "size": Decimal(size),
        "fee": Decimal(0),
        "status": TradeStatus.MATCHED,
        "is_maker": False,
        "timestamp": 1000.0,
    }
    fields.update(changes)
    return TradeUpdate(**fields)  # type: ignore[arg-type]


def test_one_unowned_open_order_with_the_requests_fields_is_the_order() -> None:
    found = match_order(
        REQUEST, intended_at=1000.0, open_orders=[_order("a")], trades=[], taken=set()
    )
    assert found == Found(order_id=OrderId("a"))


def test_an_order_someone_owns_or_claimed_is_never_taken_for_ours() -> None:
    found = match_order(
        REQUEST, intended_at=1000.0, open_orders=[_order("a")], trades=[], taken={OrderId("a")}
    )
    assert found == NeverLanded()


def test_two_candidates_are_ambiguous_never_a_guess() -> None:
    found = match_order(
        REQUEST,
        intended_at=1000.0,
        open_orders=[_order("a"), _order("b")],
        trades=[_trade("c", "10")],
        taken=set(),
    )
    assert found == Ambiguous(candidates=(OrderId("a"), OrderId("b"), OrderId("c")))


def test_an_order_that_traded_away_is_found_by_its_fills() -> None:
    found = match_order(
        REQUEST,
        intended_at=1000.0,
        open_orders=[],
        trades=[_trade("gone", "4"), _trade("gone", "6")],
        taken=set(),
    )
    assert found == Found(order_id=OrderId("gone"))


def test_fills_beyond_the_limit_or_the_size_or_failed_are_not_ours() -> None:
    found = match_order(
        REQUEST,
        intended_at=1000.0,
        open_orders=[],
        trades=[
            _trade("dear", "5", price="0.60"),
            _trade("big", "11"),
            _trade("failed", "5", status=TradeStatus.FAILED),
            _trade("other", "5", side=Side.SELL),
        ],
        taken=set(),
    )
    assert found == NeverLanded()


def test_orders_older_than_the_intent_or_named_for_another_client_id_are_not_ours() -> None:
    found = match_order(
        REQUEST,
        intended_at=1000.0,
        open_orders=[_order("old", created_at=100.0), _order("named", client_id="X/UP/exit/1")],
        trades=[],
        taken=set(),
    )
    assert found == NeverLanded()


@given(
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2),
    size=st.decimals(min_value=Decimal(5), max_value=Decimal(100), places=2),
    others=st.integers(min_value=0, max_value=4),
)
def test_orders_that_differ_in_any_field_never_make_a_lone_match_ambiguous(
    price: Decimal, size: Decimal, others: int
) -> None:
    request = OrderRequest(
        client_id="W/UP/entry/1", token_id=TOKEN, side=Side.BUY, price=price, size=size
    )
    ours = _order("ours", price=price, original_size=size)
    different = [
        _order(f"o{i}", price=price, original_size=size + 1 + i) for i in range(others)
    ] + [_order("sell", price=price, original_size=size, side=Side.SELL)]
    found = match_order(
        request, intended_at=1000.0, open_orders=[*different, ours], trades=[], taken=set()
    )
    assert found == Found(order_id=OrderId("ours"))
