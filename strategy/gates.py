"""Entry gates: whether the strategy may buy a side now, as values (a gate that blocks says why).

Gates, in the order they are checked:

- time band: entries only between `entry_start_s` after the open and `entry_stop_s` before the
  end (reversals until `reversal_stop_s` before the end);
- minimum confidence: the side must win with confidence >= `min_confidence` (0.6);
- underdog: a side priced below `underdog_price` (0.50) bets against the market, so its
  confidence must reach its price plus `underdog_margin` (0.40);
- spread: the side's book must be two-sided with a spread <= `max_spread`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from strategy.settings import StrategySettings

__all__ = [
    "Blocked",
    "confidence_gate",
    "entry_gates",
    "entry_time_gate",
    "reversal_time_gate",
    "spread_gate",
    "underdog_gate",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Blocked:
    """A gate said no. `reason` is a short stable key (journaled, counted); `detail` reads well."""

    reason: str
    detail: str


def entry_time_gate(
    *, now: float, start: float, end: float, settings: StrategySettings
) -> Blocked | None:
    opens_at = start + settings.entry_start_s
    closes_at = end - settings.entry_stop_s
    if now < opens_at:
        return Blocked(
            reason="before_entry_band",
            detail=f"entries open {opens_at - now:.0f}s from now ({settings.entry_start_s}s "
            "after the start)",
        )
    if now > closes_at:
        return Blocked(
            reason="after_entry_band",
            detail=f"entries closed {settings.entry_stop_s}s before the end",
        )
    return None


def reversal_time_gate(
    *, now: float, start: float, end: float, settings: StrategySettings
) -> Blocked | None:
    if now < start:
        return Blocked(reason="not_open", detail="the window has not opened")
    if now > end - settings.reversal_stop_s:
        return Blocked(
            reason="after_reversal_band",
            detail=f"reversals closed {settings.reversal_stop_s}s before the end",
        )
    return None


def confidence_gate(*, confidence: Decimal, settings: StrategySettings) -> Blocked | None:
    if confidence < settings.min_confidence:
        return Blocked(
            reason="low_confidence",
            detail=f"confidence {confidence} < min_confidence {settings.min_confidence}",
        )
    return None


def underdog_gate(
    *, confidence: Decimal, price: Decimal, settings: StrategySettings
) -> Blocked | None:
    if price >= settings.underdog_price:
        return None
    needed = price + settings.underdog_margin
    if confidence < needed:
        return Blocked(
            reason="underdog",
            detail=f"underdog at {price} needs confidence >= {needed} "
            f"(price + {settings.underdog_margin}), has {confidence}",
        )
    return None


def spread_gate(
    *, best_bid: Decimal | None, best_ask: Decimal | None, settings: StrategySettings
) -> Blocked | None:
    if best_bid is None or best_ask is None:
        return Blocked(reason="one_sided_book", detail=f"bid={best_bid} ask={best_ask}")
    spread = best_ask - best_bid
    if spread > settings.max_spread:
        return Blocked(
            reason="wide_spread",
            detail=f"spread {spread} > max_spread {settings.max_spread}",
        )
    return None


def entry_gates(
    *,
    confidence: Decimal,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
    settings: StrategySettings,
) -> Blocked | None:
    """The price gates for buying one side at its best ask: the first that blocks, or None."""
    blocked = spread_gate(best_bid=best_bid, best_ask=best_ask, settings=settings)
    if blocked is not None:
        return blocked
    assert best_ask is not None, "the spread gate passes only a two-sided book"
    return confidence_gate(confidence=confidence, settings=settings) or underdog_gate(
        confidence=confidence, price=best_ask, settings=settings
    )
