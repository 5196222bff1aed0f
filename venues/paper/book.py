"""The paper exchange's copy of one token's market book, and how a taker order walks it.

The simulated market owns the book (the "house" liquidity); the exchange follows it through
snapshots and level changes. What our own taker orders consume is remembered per level until
the next snapshot of that token, so we never take the same liquidity twice even though the
market does not know about us. A level change sets the market's new total; what we consumed
there still counts until the next snapshot.

`Side.BUY` names the bid side of a book and `Side.SELL` the ask side, as in `PriceLevelChange`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import assert_never

from venues.types import ZERO, BookLevel, BookSnapshot, ConditionId, PriceLevelChange, Side, TokenId

__all__ = [
    "AMOUNT_SHARE_QUANTUM",
    "Fill",
    "HouseBook",
    "crosses",
    "opposite",
    "value_within",
    "walk_for_amount",
    "walk_for_shares",
]

AMOUNT_SHARE_QUANTUM = Decimal("0.0001")
"""Shares bought by amount are cut to 4 decimals: the venue's taker-amount precision."""


def opposite(side: Side) -> Side:
    match side:
        case Side.BUY:
            return Side.SELL
        case Side.SELL:
            return Side.BUY
        case _:
            assert_never(side)


def crosses(taker_side: Side, limit: Decimal, level_price: Decimal) -> bool:
    """Whether an order on `taker_side` limited at `limit` trades with a level at `level_price`."""
    match taker_side:
        case Side.BUY:
            return level_price <= limit
        case Side.SELL:
            return level_price >= limit
        case _:
            assert_never(taker_side)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One level's worth of a taker fill, at that level's price."""

    price: Decimal
    shares: Decimal


@dataclass(slots=True, kw_only=True)
class HouseBook:
    """The market's liquidity for one token, net of what we already consumed."""

    condition_id: ConditionId
    token_id: TokenId
    tick_size: Decimal
    timestamp: float = 0.0
    _levels: dict[Side, dict[Decimal, Decimal]] = field(
        default_factory=lambda: {Side.BUY: {}, Side.SELL: {}}
    )
    _consumed: dict[Side, dict[Decimal, Decimal]] = field(
        default_factory=lambda: {Side.BUY: {}, Side.SELL: {}}
    )

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        self._levels = {
            Side.BUY: {level.price: level.size for level in snapshot.bids if level.size > 0},
            Side.SELL: {level.price: level.size for level in snapshot.asks if level.size > 0},
        }
        self._consumed = {Side.BUY: {}, Side.SELL: {}}
        self.tick_size = snapshot.tick_size
        self.timestamp = snapshot.timestamp

    def apply_change(self, change: PriceLevelChange, timestamp: float) -> None:
        levels = self._levels[change.side]
        if change.size > 0:
            levels[change.price] = change.size
        else:
            levels.pop(change.price, None)
        self.timestamp = timestamp

    def size_at(self, book_side: Side, price: Decimal) -> Decimal:
        """What is left for us at one level: the market's size minus what we consumed."""
        listed = self._levels[book_side].get(price, ZERO)
        return max(ZERO, listed - self._consumed[book_side].get(price, ZERO))

    def levels(self, book_side: Side) -> tuple[BookLevel, ...]:
        """Levels with liquidity left for us, best first (bids descending, asks ascending)."""
        prices = sorted(self._levels[book_side], reverse=book_side is Side.BUY)
        left = (BookLevel(price, self.size_at(book_side, price)) for price in prices)
        return tuple(level for level in left if level.size > 0)

    def best(self, book_side: Side) -> Decimal | None:
        """The best price with liquidity left for us, without sorting the whole side."""
        listed = self._levels[book_side]  # holds no empty levels
        if self._consumed[book_side]:
            prices = [price for price in listed if self.size_at(book_side, price) > 0]
        else:
            prices = list(listed)
        if not prices:
            return None
        return max(prices) if book_side is Side.BUY else min(prices)

    def consume(self, book_side: Side, price: Decimal, shares: Decimal) -> None:
        if shares > self.size_at(book_side, price):
            msg = f"cannot consume {shares} at {price}: only {self.size_at(book_side, price)} left"
            raise ValueError(msg)
        consumed = self._consumed[book_side]
        consumed[price] = consumed.get(price, ZERO) + shares


def _within(levels: Iterable[BookLevel], taker_side: Side, limit: Decimal) -> Iterable[BookLevel]:
    for level in levels:
        if not crosses(taker_side, limit, level.price):
            return
        yield level


def walk_for_shares(
    levels: Iterable[BookLevel], *, taker_side: Side, limit: Decimal, shares: Decimal
) -> tuple[Fill, ...]:
    """Fills for up to `shares`, best level first, never beyond `limit`."""
    fills: list[Fill] = []
    wanted = shares
    for level in _within(levels, taker_side, limit):
        if wanted <= 0:
            break
        take = min(wanted, level.size)
        fills.append(Fill(price=level.price, shares=take))
        wanted -= take
    return tuple(fills)


def walk_for_amount(
    levels: Iterable[BookLevel], *, limit: Decimal, amount: Decimal
) -> tuple[Fill, ...]:
    """Fills of a BUY spending up to `amount` collateral, best ask first, never beyond `limit`."""
    fills: list[Fill] = []
    budget = amount
    for level in _within(levels, Side.BUY, limit):
        affordable = (budget / level.price).quantize(AMOUNT_SHARE_QUANTUM, rounding=ROUND_DOWN)
        take = min(affordable, level.size)
        if take <= 0:
            break
        fills.append(Fill(price=level.price, shares=take))
        budget -= take * level.price
    return tuple(fills)


def value_within(levels: Iterable[BookLevel], *, taker_side: Side, limit: Decimal) -> Decimal:
    """Collateral worth of the liquidity a taker limited at `limit` could reach."""
    return sum((level.price * level.size for level in _within(levels, taker_side, limit)), ZERO)
