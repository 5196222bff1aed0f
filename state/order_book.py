"""One token's order book as the market feed keeps it: snapshots replace it, level changes patch it.

Pure (no I/O, no clock). Mutable on purpose: this is the hot path (every market event of every
window passes through it), so a level change is one dict write rather than a copy of the book.
It never leaves the feed actor; what leaves is the frozen `BookSnapshot` from `snapshot()`,
built at most once per change and cached until the next one.

Consistency rule (the market channel's own): after a tick-size change the levels are on the old
grid until the venue sends a fresh snapshot, so level changes are ignored in between
(`is_awaiting_snapshot`); a change for a book that never had a snapshot is ignored too, since a
patch on nothing is not the market's book.
"""

from __future__ import annotations

from decimal import Decimal

from venues.types import BookLevel, BookSnapshot, ConditionId, PriceLevelChange, Side, TokenId

__all__ = ["OrderBook"]


class OrderBook:
    """The current bids and asks of one token (price -> size, zero sizes removed)."""

    __slots__ = (
        "_asks",
        "_bids",
        "_cached",
        "condition_id",
        "has_snapshot",
        "is_awaiting_snapshot",
        "tick_size",
        "timestamp",
        "token_id",
    )

    def __init__(self, *, condition_id: ConditionId, token_id: TokenId, tick_size: Decimal) -> None:
        self.condition_id = condition_id
        self.token_id = token_id
        self.tick_size = tick_size
        self.timestamp = 0.0
        self.has_snapshot = False
        self.is_awaiting_snapshot = False
        # Levels are kept as the frozen BookLevel values a snapshot is made of, so building a
        # snapshot only orders them (the feed builds one per burst per token).
        self._bids: dict[Decimal, BookLevel] = {}
        self._asks: dict[Decimal, BookLevel] = {}
        self._cached: BookSnapshot | None = None

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book. Ends any wait that a tick-size change started."""
        self._bids = {level.price: level for level in snapshot.bids if level.size > 0}
        self._asks = {level.price: level for level in snapshot.asks if level.size > 0}
        self.tick_size = snapshot.tick_size
        self.timestamp = snapshot.timestamp
        self.has_snapshot = True
        self.is_awaiting_snapshot = False
        self._cached = None

    def apply_change(self, change: PriceLevelChange, timestamp: float) -> bool:
        """Set one level's new total (0 removes it). Returns False when the change was ignored
        because the book is waiting for a snapshot (see the module docstring)."""
        if self.is_awaiting_snapshot or not self.has_snapshot:
            return False
        levels = self._bids if change.side is Side.BUY else self._asks
        if change.size > 0:
            levels[change.price] = BookLevel(change.price, change.size)
        else:
            levels.pop(change.price, None)
        self.timestamp = timestamp
        self._cached = None
        return True

    def change_tick_size(self, new_tick_size: Decimal, timestamp: float) -> None:
        """The venue changed the grid: ignore level changes until the next snapshot."""
        self.tick_size = new_tick_size
        self.timestamp = timestamp
        self.is_awaiting_snapshot = True
        self._cached = None

    def snapshot(self) -> BookSnapshot:
        """The book now, best levels first (bids descending, asks ascending)."""
        if self._cached is None:
            bids, asks = self._bids, self._asks
            self._cached = BookSnapshot(
                condition_id=self.condition_id,
                token_id=self.token_id,
                bids=tuple([bids[price] for price in sorted(bids, reverse=True)]),
                asks=tuple([asks[price] for price in sorted(asks)]),
                tick_size=self.tick_size,
                timestamp=self.timestamp,
            )
        return self._cached
