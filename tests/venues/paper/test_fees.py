"""Polymarket's taker fee formula, its rounding, and the asset it is taken in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from venues.paper.fees import FEE_QUANTUM, fee_in_collateral, taker_fee
from venues.types import Side

D = Decimal


@pytest.mark.parametrize(
    ("price", "published"),
    [("0.10", D("0.20")), ("0.50", D("1.56")), ("0.99", D("0.0025"))],
)
def test_the_published_examples_reproduce_with_rate_quarter_and_exponent_two(
    price: str, published: Decimal
) -> None:
    # polymarket_api.md 7.5: 100 shares cost $0.20 @0.10, $1.56 @0.50, $0.0025 @0.99.
    fee = fee_in_collateral(shares=D(100), price=D(price), rate=D("0.25"), exponent=2)
    assert fee.quantize(published, rounding=ROUND_HALF_UP) == published


def test_the_fee_is_rounded_to_five_decimals() -> None:
    fee = fee_in_collateral(shares=D(100), price=D("0.99"), rate=D("0.25"), exponent=2)
    assert fee == D("0.00245")  # 0.0024502...


def test_a_positive_fee_is_never_rounded_to_nothing() -> None:
    fee = fee_in_collateral(shares=D("0.01"), price=D("0.99"), rate=D("0.25"), exponent=2)
    assert fee == FEE_QUANTUM


def test_a_zero_rate_costs_nothing() -> None:
    assert fee_in_collateral(shares=D(100), price=D("0.5"), rate=D(0), exponent=1) == 0


def test_the_current_crypto_schedule_charges_rate_times_p_times_one_minus_p() -> None:
    fee = fee_in_collateral(shares=D(100), price=D("0.50"), rate=D("0.072"), exponent=1)
    assert fee == D("1.80000")


def test_a_buyer_pays_in_shares_worth_the_fee_at_the_trade_price() -> None:
    fee = taker_fee(side=Side.BUY, shares=D(100), price=D("0.50"), rate=D("0.25"), exponent=2)
    assert fee == D("3.12500")  # $1.5625 / 0.50


def test_a_seller_pays_in_collateral() -> None:
    fee = taker_fee(side=Side.SELL, shares=D(100), price=D("0.50"), rate=D("0.25"), exponent=2)
    assert fee == D("1.56250")


@pytest.mark.parametrize("price", ["0", "1", "-0.1", "1.5"])
def test_a_price_outside_the_open_unit_interval_is_a_programming_error(price: str) -> None:
    with pytest.raises(ValueError, match=price):
        fee_in_collateral(shares=D(1), price=D(price), rate=D("0.25"), exponent=2)
