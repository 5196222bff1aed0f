"""V2 orders built and signed by the real client's builder: parsed, verified, converted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from py_clob_client_v2.clob_types import CreateOrderOptions, MarketOrderArgs, OrderArgs
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from venues.sandbox.orders import (
    InvalidOrderPayload,
    parse_wire_order,
    to_request,
    verify_signature,
)
from venues.types import OrderType, Side

TOKEN = str(2**255 + 12345)  # a realistic 77-digit CTF token id
OPTIONS = CreateOrderOptions(tick_size="0.01", neg_risk=False)


@pytest.fixture
def builder() -> OrderBuilder:
    return OrderBuilder(Signer(Account.create().key.hex(), 137))


def _body(signed: Any, order_type: str = "GTC") -> Any:
    return order_to_json_v2(signed, "owner-key", order_type)


def test_a_limit_buy_verifies_and_keeps_its_price_and_size(builder: OrderBuilder) -> None:
    signed = builder.build_order(
        OrderArgs(token_id=TOKEN, price=0.37, size=12.5, side="BUY"), OPTIONS
    )
    wire = parse_wire_order(_body(signed))
    order_id = verify_signature(wire.order, chain_id=137)
    request = to_request(wire, order_id=order_id, tick_size=Decimal("0.01"))
    assert request.client_id == order_id
    assert (request.side, request.price, request.size) == (
        Side.BUY,
        Decimal("0.37"),
        Decimal("12.5"),
    )
    assert request.amount is None
    assert request.order_type is OrderType.GTC


def test_a_limit_sell_takes_its_size_from_the_maker_amount(builder: OrderBuilder) -> None:
    signed = builder.build_order(
        OrderArgs(token_id=TOKEN, price=0.62, size=7, side="SELL"), OPTIONS
    )
    wire = parse_wire_order(_body(signed))
    request = to_request(
        wire, order_id=verify_signature(wire.order, chain_id=137), tick_size=Decimal("0.01")
    )
    assert (request.side, request.price, request.size) == (Side.SELL, Decimal("0.62"), Decimal(7))


def test_a_market_buy_spends_its_maker_amount_at_its_worst_price(builder: OrderBuilder) -> None:
    signed = builder.build_market_order(
        MarketOrderArgs(token_id=TOKEN, amount=10, side="BUY", price=0.55), OPTIONS
    )
    wire = parse_wire_order(_body(signed, "FOK"))
    request = to_request(
        wire, order_id=verify_signature(wire.order, chain_id=137), tick_size=Decimal("0.01")
    )
    assert request.order_type is OrderType.FOK
    assert (request.price, request.amount) == (Decimal("0.55"), Decimal(10))


def test_a_signature_for_another_chain_or_with_changed_fields_is_invalid(
    builder: OrderBuilder,
) -> None:
    signed = builder.build_order(OrderArgs(token_id=TOKEN, price=0.4, size=5, side="BUY"), OPTIONS)
    wire = parse_wire_order(_body(signed))
    with pytest.raises(InvalidOrderPayload, match=r"^invalid signature"):
        verify_signature(wire.order, chain_id=80002)
    body = _body(signed)
    body["order"]["side"] = "SELL"
    with pytest.raises(InvalidOrderPayload, match=r"^invalid signature"):
        verify_signature(parse_wire_order(body).order, chain_id=137)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("side", "HOLD", "side"), ("makerAmount", "-1", "makerAmount"), ("tokenId", [1], "tokenId")],
)
def test_a_malformed_order_names_the_offending_field(
    builder: OrderBuilder, field: str, value: object, named: str
) -> None:
    body = _body(
        builder.build_order(OrderArgs(token_id=TOKEN, price=0.4, size=5, side="BUY"), OPTIONS)
    )
    body["order"][field] = value
    with pytest.raises(InvalidOrderPayload, match=named):
        parse_wire_order(body)
