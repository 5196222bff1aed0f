"""Identity of simulated windows: wall-clock alignment, slugs, condition and token ids.

Ids are derived from (asset, timeframe, start) through sha256, so the same window has the same
ids in every run and every process, and look like Polymarket's (0x + 64 hex for the condition,
a large decimal integer for each token).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from venues.sim.settings import timeframe_label
from venues.types import ConditionId, MarketWindow, TokenId

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["make_window", "window_start"]


def window_start(t: float, timeframe_s: int) -> int:
    """Start of the window of length `timeframe_s` that contains `t` (start = t - t % length)."""
    return int(t // timeframe_s) * timeframe_s


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(["polyactor-sim", *map(str, parts)]).encode()).digest()


def make_window(
    *, asset: str, timeframe_s: int, start: int, tick_size: Decimal, min_order_size: Decimal
) -> MarketWindow:
    """The window of `asset` starting at `start` (which must be aligned to `timeframe_s`)."""
    if start % timeframe_s:
        msg = f"window start {start} is not a multiple of its timeframe {timeframe_s}"
        raise ValueError(msg)
    return MarketWindow(
        asset=asset,
        timeframe_s=timeframe_s,
        start=float(start),
        end=float(start + timeframe_s),
        condition_id=ConditionId("0x" + _digest(asset, timeframe_s, start).hex()),
        up_token=TokenId(str(int.from_bytes(_digest(asset, timeframe_s, start, "Up"), "big"))),
        down_token=TokenId(str(int.from_bytes(_digest(asset, timeframe_s, start, "Down"), "big"))),
        slug=f"{asset.lower()}-updown-{timeframe_label(timeframe_s)}-{start}",
        tick_size=tick_size,
        min_order_size=min_order_size,
    )
