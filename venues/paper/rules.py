"""Polymarket's static order rules: what the venue refuses before it looks at the book.

Each check raises the typed error of `venues.errors`, naming the rule and the offending value
and carrying the venue's own wording (polymarket_api.md 2.6, 2.8, 7.1-7.3):

- price on the tick grid and within [tick, 1 - tick];
- size in shares: positive, at most 2 decimals, at least the market's `min_order_size`;
- `amount` (collateral, FOK/FAK BUY only): positive, at most 2 decimals;
- GTD needs an expiration at least `gtd_min_lead_s` ahead; other types must not carry one;
- post-only only on GTC/GTD.

Rules that need the book (marketable notional, post-only crossing, FOK/FAK fills) and the
account (balance, allowance) are checked by the exchange.
"""

from __future__ import annotations

from decimal import Decimal

from venues.errors import (
    BelowMinimumNotional,
    BelowMinimumSize,
    InvalidExpiration,
    InvalidOrderType,
    InvalidPrice,
    InvalidSize,
)
from venues.types import OrderRequest, OrderType, Side

__all__ = ["CENT", "check_marketable_notional", "check_order", "is_market_type"]

CENT = Decimal("0.01")
"""Sizes in shares and BUY amounts in collateral have at most 2 decimals."""


def is_market_type(order_type: OrderType) -> bool:
    return order_type in (OrderType.FOK, OrderType.FAK)


def check_order(
    request: OrderRequest,
    *,
    tick_size: Decimal,
    min_order_size: Decimal,
    now: float,
    gtd_min_lead_s: float,
) -> None:
    """Raise the first static rule `request` breaks; return quietly if it breaks none."""
    _check_type(request)
    _check_price(request.price, tick_size)
    if request.amount is not None:
        _check_amount(request.amount)
    else:
        _check_size(request.size, min_order_size)
    _check_expiration(request, now=now, gtd_min_lead_s=gtd_min_lead_s)


def check_marketable_notional(*, notional: Decimal, min_notional: Decimal) -> None:
    """A BUY that would trade on arrival must be worth at least `min_notional` ($1)."""
    if notional < min_notional:
        msg = f"invalid amount for a marketable BUY order (${notional}), min size: ${min_notional}"
        raise BelowMinimumNotional(rule="min_notional", value=notional, detail=msg)


def _check_type(request: OrderRequest) -> None:
    if request.post_only and is_market_type(request.order_type):
        msg = f"post-only is allowed only on GTC and GTD orders, not {request.order_type}"
        raise InvalidOrderType(rule="post_only_order_type", value=request.order_type, detail=msg)
    if request.amount is not None and (
        request.side is not Side.BUY or not is_market_type(request.order_type)
    ):
        msg = (
            f"an amount is for FOK/FAK BUY orders only, not {request.order_type} "
            f"{request.side}; give a size in shares"
        )
        raise InvalidOrderType(rule="amount_only_for_market_buy", value=request.amount, detail=msg)


def _check_price(price: Decimal, tick_size: Decimal) -> None:
    if not price.is_finite() or not tick_size <= price <= 1 - tick_size:
        msg = f"invalid price ({price}), min: {tick_size} - max: {1 - tick_size}"
        raise InvalidPrice(rule="price_range", value=price, detail=msg)
    if price % tick_size != 0:
        msg = f"invalid price ({price}): not a multiple of the tick size {tick_size}"
        raise InvalidPrice(rule="tick_grid", value=price, detail=msg)


def _check_size(size: Decimal, min_order_size: Decimal) -> None:
    if not size.is_finite() or size <= 0:
        msg = f"invalid order size ({size}): must be > 0"
        raise InvalidSize(rule="size_positive", value=size, detail=msg)
    if size != size.quantize(CENT):
        msg = f"invalid order size ({size}): at most 2 decimals"
        raise InvalidSize(rule="size_precision", value=size, detail=msg)
    if size < min_order_size:
        msg = f"Size ({size}) lower than the minimum: {min_order_size}"
        raise BelowMinimumSize(rule="min_order_size", value=size, detail=msg)


def _check_amount(amount: Decimal) -> None:
    if not amount.is_finite() or amount <= 0:
        msg = f"invalid amounts ({amount}): a market BUY amount must be > 0"
        raise InvalidSize(rule="amount_positive", value=amount, detail=msg)
    if amount != amount.quantize(CENT):
        msg = (
            f"invalid amounts ({amount}), the market buy orders maker amount supports "
            "a max accuracy of 2 decimals"
        )
        raise InvalidSize(rule="amount_precision", value=amount, detail=msg)


def _check_expiration(request: OrderRequest, *, now: float, gtd_min_lead_s: float) -> None:
    expiration = request.expiration
    if request.order_type is not OrderType.GTD:
        if expiration is not None:
            msg = f"invalid expiration ({expiration}): only GTD orders expire"
            raise InvalidExpiration(rule="expiration_only_for_gtd", value=expiration, detail=msg)
        return
    if expiration is None:
        raise InvalidExpiration(
            rule="gtd_expiration_required", value=None, detail="invalid expiration: GTD needs one"
        )
    earliest = now + gtd_min_lead_s
    if expiration < earliest:
        msg = (
            f"invalid expiration ({expiration}): must be at least {gtd_min_lead_s:g} s "
            f"ahead, i.e. >= {earliest}"
        )
        raise InvalidExpiration(rule="gtd_min_lead", value=expiration, detail=msg)
