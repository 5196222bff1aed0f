"""Finding one of our orders on a venue that does not echo our client ids.

The live venue knows only its own order ids. After a process kill, an order it accepted before
we journaled `OrderAccepted` can only be recognised by what we asked for: token, side, price,
size and order type, among the orders and trades that nobody owns or has claimed. One such
candidate is the order; none means it never landed; more than one is ambiguous and must never
lead to a resend (invariant 2): the caller keeps looking and reconciliation decides.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

from venues.types import (
    ZERO,
    OrderId,
    OrderRequest,
    OrderSnapshot,
    OrderType,
    Side,
    TradeStatus,
    TradeUpdate,
)

__all__ = ["Ambiguous", "Found", "Match", "NeverLanded", "match_order"]

CLOCK_SLACK_S = 60.0
"""Orders created this long before the intent still count: the venue's clock is not ours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    order_id: OrderId


@dataclass(frozen=True, slots=True, kw_only=True)
class NeverLanded:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Ambiguous:
    candidates: tuple[OrderId, ...]


Match = Found | NeverLanded | Ambiguous


def match_order(
    request: OrderRequest,
    *,
    intended_at: float,
    open_orders: Iterable[OrderSnapshot],
    trades: Iterable[TradeUpdate],
    taken: Collection[OrderId],
) -> Match:
    """Which unowned venue order is the one `request` placed (see the module docstring).

    `taken` are the order ids someone owns or has claimed; `open_orders` and `trades` are the
    venue's, of the request's market. An open order matches on token, side, limit price, size
    and type; a traded-away order matches on token and side when its fills are within the limit
    price and add up to no more than the request's size.
    """
    candidates: dict[OrderId, None] = {}
    for order in open_orders:
        if order.order_id in taken or order.created_at < intended_at - CLOCK_SLACK_S:
            continue
        if order.client_id is not None and order.client_id != request.client_id:
            continue  # the venue named another order of ours
        if _same_order(order, request):
            candidates[order.order_id] = None
    fills: dict[OrderId, list[TradeUpdate]] = {}
    for trade in trades:
        if trade.order_id in taken or trade.order_id in candidates:
            continue
        if trade.status is TradeStatus.FAILED or trade.timestamp < intended_at - CLOCK_SLACK_S:
            continue
        if trade.token_id == request.token_id and trade.side is request.side:
            fills.setdefault(trade.order_id, []).append(trade)
    for order_id, its_fills in fills.items():
        if _fills_fit(its_fills, request):
            candidates[order_id] = None
    if not candidates:
        return NeverLanded()
    if len(candidates) == 1:
        return Found(order_id=next(iter(candidates)))
    return Ambiguous(candidates=tuple(sorted(candidates)))


def _same_order(order: OrderSnapshot, request: OrderRequest) -> bool:
    return (
        order.token_id == request.token_id
        and order.side is request.side
        and order.price == request.price
        and order.order_type is request.order_type
        and (request.amount is not None or order.original_size == request.size)
    )


def _fills_fit(fills: list[TradeUpdate], request: OrderRequest) -> bool:
    latest: dict[str, TradeUpdate] = {}
    for fill in fills:
        latest[fill.trade_id] = fill
    shares = sum((f.size for f in latest.values()), ZERO)
    is_within_limit = all(_within_limit(f.price, request) for f in latest.values())
    if request.order_type in (OrderType.FOK, OrderType.FAK) and request.amount is not None:
        spent = sum((f.size * f.price for f in latest.values()), ZERO)
        return is_within_limit and spent <= request.amount
    return is_within_limit and shares <= request.size


def _within_limit(price: Decimal, request: OrderRequest) -> bool:
    return price <= request.price if request.side is Side.BUY else price >= request.price
