"""Polymarket's taker fee: how much a taker pays on one fill, and in which asset.

`fee = C * rate * (p * (1 - p)) ** exponent` collateral for C shares at price p, rounded to
5 decimals, and never below 0.00001 when it is positive (polymarket_api.md 7.5). Makers pay
nothing. On a BUY the fee is taken in shares (the buyer receives fewer tokens: the fee's value
converted to shares at the trade price); on a SELL it is taken from the collateral proceeds.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import assert_never

from venues.types import ZERO, Side

__all__ = ["FEE_QUANTUM", "fee_in_collateral", "taker_fee"]

FEE_QUANTUM = Decimal("0.00001")


def _round_fee(value: Decimal) -> Decimal:
    if value <= 0:
        return ZERO
    return max(value.quantize(FEE_QUANTUM, rounding=ROUND_HALF_UP), FEE_QUANTUM)


def fee_in_collateral(*, shares: Decimal, price: Decimal, rate: Decimal, exponent: int) -> Decimal:
    """The fee's value in collateral for a taker fill of `shares` at `price`."""
    if not ZERO < price < 1:
        msg = f"fee price must be inside (0, 1), got {price}"
        raise ValueError(msg)
    return _round_fee(shares * rate * (price * (1 - price)) ** exponent)


def taker_fee(
    *, side: Side, shares: Decimal, price: Decimal, rate: Decimal, exponent: int
) -> Decimal:
    """The fee a taker pays, in the asset it is taken in: shares for BUY, collateral for SELL."""
    collateral = fee_in_collateral(shares=shares, price=price, rate=rate, exponent=exponent)
    match side:
        case Side.BUY:
            return _round_fee(collateral / price)
        case Side.SELL:
            return collateral
        case _:
            assert_never(side)
