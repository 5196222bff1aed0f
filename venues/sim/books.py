"""The order books of one window's two tokens, kept as one book because they mirror each other.

Polymarket matches the two outcomes against each other, so a bid for Up at p is an ask for Down
at 1 - p. We keep only Up's book, as integer tick indexes (price = index * tick) with sizes in
hundredths of a share, and derive Down's levels when events are built. Integer state keeps the
per-step work cheap; `Decimal`s are made only for what is emitted.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from venues.types import BookLevel, BookSnapshot, ConditionId, PriceLevelChange, Side, TokenId

if TYPE_CHECKING:
    import random

    from venues.sim.settings import SimBookShape

__all__ = ["LevelMove", "MirroredBook", "empty_snapshot", "price_table", "size_decimal"]

# One change of Up's book: (is_bid, price index, new size in hundredths; 0 removes the level).
LevelMove = tuple[bool, int, int]


@lru_cache(maxsize=8)
def price_table(tick: Decimal) -> tuple[Decimal, ...]:
    """Every price on the `tick` grid from 0 to 1, indexed by tick count."""
    steps = round(Decimal(1) / tick)
    return tuple((Decimal(i) * tick).quantize(tick) for i in range(steps + 1))


_SIZES: dict[int, Decimal] = {}
_SIZES_CAP = 200_000


def size_decimal(hundredths: int) -> Decimal:
    """Shares as a Decimal with two places; memoised because the same sizes recur."""
    size = _SIZES.get(hundredths)
    if size is None:
        if len(_SIZES) >= _SIZES_CAP:
            _SIZES.clear()  # bounded memory on multi-day runs; refilled on demand
        size = _SIZES[hundredths] = Decimal(hundredths).scaleb(-2)
    return size


class MirroredBook:
    """Up's book on one tick grid; Down is its mirror. Mutable, owned by one simulated window."""

    __slots__ = (
        "_ask_range",
        "_bid_range",
        "_depth_growth",
        "_depth_mean",
        "_depth_noise",
        "_levels",
        "_needs_full_diff",
        "_refresh_per_level_step",
        "_rng",
        "_spread",
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "prices",
        "tick",
        "units",
    )

    def __init__(
        self, *, shape: SimBookShape, tick: Decimal, step_s: float, rng: random.Random
    ) -> None:
        self._rng = rng
        self._spread = shape.spread_ticks
        self._levels = shape.levels
        self._depth_mean = float(shape.depth_per_level) * 100.0
        self._depth_growth = shape.depth_growth
        self._depth_noise = shape.depth_noise
        self._refresh_per_level_step = shape.depth_refresh_per_s * step_s
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid = 0  # index; 0 means "no bid" (0 is never a valid price)
        self.best_ask = 0
        self._bid_range = (0, -1)
        self._ask_range = (0, -1)
        self._needs_full_diff = True
        self.tick = tick
        self.prices = price_table(tick)
        self.units = len(self.prices) - 1

    # --- moving the book ------------------------------------------------------------------------

    def rebuild(self, center: float, tick: Decimal) -> None:
        """Start afresh on a (possibly new) tick grid around `center`; emits nothing itself."""
        self.tick = tick
        self.prices = price_table(tick)
        self.units = len(self.prices) - 1
        self.bids.clear()
        self.asks.clear()
        self._needs_full_diff = True
        self.requote(center)

    def requote(self, center: float) -> list[LevelMove]:
        """Move the quotes to straddle `center` (Up's probability) and refresh a few sizes."""
        units = self.units
        spread = self._spread
        bid_best = math.floor(center * units + 0.5 - spread / 2)
        bid_best = max(1, min(bid_best, units - 1 - spread))
        ask_best = bid_best + spread
        bid_range = (max(1, bid_best - self._levels + 1), bid_best)
        ask_range = (ask_best, min(units - 1, ask_best + self._levels - 1))
        moves: list[LevelMove] = []
        if self._needs_full_diff or bid_range != self._bid_range or ask_range != self._ask_range:
            self._move_levels(bid_range, ask_range, moves)
            self._bid_range = bid_range
            self._ask_range = ask_range
            self._needs_full_diff = False
        self.best_bid = bid_best
        self.best_ask = ask_best
        self._refresh_sizes(moves)
        return moves

    def take(self, *, hit_bids: bool, size: int) -> tuple[int, int, int]:
        """A taker consumes up to `size` at the best bid (or ask) of Up's book.

        Returns (price index, filled hundredths, hundredths left at that level).
        """
        side = self.bids if hit_bids else self.asks
        index = self.best_bid if hit_bids else self.best_ask
        available = side[index]
        filled = min(size, available)
        left = available - filled
        if left:
            side[index] = left
        else:
            del side[index]
            self._needs_full_diff = True  # the emptied level is quoted again next step
            if hit_bids:
                self.best_bid = max(side) if side else 0
            else:
                self.best_ask = min(side) if side else 0
        return index, filled, left

    def _move_levels(
        self, bid_range: tuple[int, int], ask_range: tuple[int, int], moves: list[LevelMove]
    ) -> None:
        bids, asks = self.bids, self.asks
        bid_lo, bid_hi = bid_range
        ask_lo, ask_hi = ask_range
        # Removals first, so a consumer applying changes in order never sees a crossed book.
        for index in [i for i in bids if i < bid_lo or i > bid_hi]:
            del bids[index]
            moves.append((True, index, 0))
        for index in [i for i in asks if i < ask_lo or i > ask_hi]:
            del asks[index]
            moves.append((False, index, 0))
        for index in range(bid_hi, bid_lo - 1, -1):
            if index not in bids:
                size = bids[index] = self._fresh_size(bid_hi - index)
                moves.append((True, index, size))
        for index in range(ask_lo, ask_hi + 1):
            if index not in asks:
                size = asks[index] = self._fresh_size(index - ask_lo)
                moves.append((False, index, size))

    def _refresh_sizes(self, moves: list[LevelMove]) -> None:
        rng = self._rng
        bid_count, ask_count = len(self.bids), len(self.asks)
        expected = self._refresh_per_level_step * (bid_count + ask_count)
        count = int(expected)
        if rng.random() < expected - count:
            count += 1
        for _ in range(count):
            pick = int(rng.random() * (bid_count + ask_count))
            if pick < bid_count:
                index = self._bid_range[1] - pick
                if index in self.bids:
                    size = self.bids[index] = self._fresh_size(pick)
                    moves.append((True, index, size))
            else:
                index = self._ask_range[0] + pick - bid_count
                if index in self.asks:
                    size = self.asks[index] = self._fresh_size(pick - bid_count)
                    moves.append((False, index, size))

    def _fresh_size(self, distance_from_best: int) -> int:
        noise = self._depth_noise
        # Mean-preserving log-normal: the average level holds depth_per_level * (1 + growth*d).
        factor = math.exp(noise * self._rng.gauss(0.0, 1.0) - 0.5 * noise * noise)
        size = self._depth_mean * (1.0 + self._depth_growth * distance_from_best) * factor
        return max(100, int(size))

    # --- what consumers see -------------------------------------------------------------------

    def level_changes(
        self, moves: list[LevelMove], *, up_token: TokenId, down_token: TokenId
    ) -> tuple[PriceLevelChange, ...]:
        """Both tokens' view of `moves`, each carrying that token's best bid/ask afterwards."""
        prices = self.prices
        units = self.units
        up_bid = prices[self.best_bid] if self.best_bid else None
        up_ask = prices[self.best_ask] if self.best_ask else None
        down_bid = prices[units - self.best_ask] if self.best_ask else None
        down_ask = prices[units - self.best_bid] if self.best_bid else None
        changes: list[PriceLevelChange] = []
        for is_bid, index, hundredths in moves:
            size = size_decimal(hundredths)
            changes.append(
                PriceLevelChange(
                    token_id=up_token,
                    price=prices[index],
                    size=size,
                    side=Side.BUY if is_bid else Side.SELL,
                    best_bid=up_bid,
                    best_ask=up_ask,
                )
            )
            changes.append(
                PriceLevelChange(
                    token_id=down_token,
                    price=prices[units - index],
                    size=size,
                    side=Side.SELL if is_bid else Side.BUY,
                    best_bid=down_bid,
                    best_ask=down_ask,
                )
            )
        return tuple(changes)

    def snapshot(
        self, *, condition_id: ConditionId, token_id: TokenId, is_up: bool, timestamp: float
    ) -> BookSnapshot:
        """One token's full book, best levels first."""
        prices = self.prices
        units = self.units
        if is_up:
            bids = tuple(
                BookLevel(prices[i], size_decimal(self.bids[i]))
                for i in sorted(self.bids, reverse=True)
            )
            asks = tuple(
                BookLevel(prices[i], size_decimal(self.asks[i])) for i in sorted(self.asks)
            )
        else:
            bids = tuple(
                BookLevel(prices[units - i], size_decimal(self.asks[i])) for i in sorted(self.asks)
            )
            asks = tuple(
                BookLevel(prices[units - i], size_decimal(self.bids[i]))
                for i in sorted(self.bids, reverse=True)
            )
        return BookSnapshot(
            condition_id=condition_id,
            token_id=token_id,
            bids=bids,
            asks=asks,
            tick_size=self.tick,
            timestamp=timestamp,
        )


def empty_snapshot(
    *, condition_id: ConditionId, token_id: TokenId, tick: Decimal, timestamp: float
) -> BookSnapshot:
    """A cleared book: what a window's tokens show once trading has stopped."""
    return BookSnapshot(
        condition_id=condition_id,
        token_id=token_id,
        bids=(),
        asks=(),
        tick_size=tick,
        timestamp=timestamp,
    )
