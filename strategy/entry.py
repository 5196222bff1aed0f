"""The strategy at one decision point: score a window, then pick an entry or a reversal.

`score_market` computes both confidence scores and the fair value of UP from a `MarketView`
(what the window knows at that moment). `choose_entry` picks the side the confidence favours
and runs the gates and the sizing on it; `choose_reversal` decides whether to buy the other
side of a losing position. Both answer `Enter` or `Skip` (a value, never an exception).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.messages import Outcome
from strategy.fair_value import fair_up
from strategy.gates import Blocked, entry_gates, spread_gate
from strategy.settings import StrategySettings
from strategy.signals import Confidence, favours_reversal, reversal_confidence, score
from strategy.sizing import entry_size, price_on_tick, truncate_shares
from venues.types import BookSnapshot

__all__ = [
    "Enter",
    "MarketView",
    "Score",
    "Skip",
    "choose_entry",
    "choose_reversal",
    "market_prior_up",
    "score_market",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketView:
    """Everything the strategy reads at one decision point."""

    now: float
    end: float
    spot: Decimal
    price_to_beat: Decimal
    open_mid_up: Decimal
    up_book: BookSnapshot
    down_book: BookSnapshot
    sigma_per_sqrt_s: float

    def book(self, outcome: Outcome) -> BookSnapshot:
        return self.up_book if outcome is Outcome.UP else self.down_book


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    confidence: Confidence  # P(UP wins), both models
    fair_value_up: Decimal
    mid_up: Decimal | None

    def fair_value(self, outcome: Outcome) -> Decimal:
        return self.fair_value_up if outcome is Outcome.UP else 1 - self.fair_value_up


@dataclass(frozen=True, slots=True, kw_only=True)
class Enter:
    """Buy `size` shares of `outcome` with a limit at `price` (on the book's tick grid)."""

    outcome: Outcome
    price: Decimal
    size: Decimal
    confidence: Decimal  # that `outcome` wins, by the configured model
    fair_value: Decimal  # of `outcome`


@dataclass(frozen=True, slots=True, kw_only=True)
class Skip:
    reason: str
    detail: str


def market_prior_up(up_book: BookSnapshot | None, down_book: BookSnapshot | None) -> Decimal | None:
    """The market's probability of UP: the UP mid, else 1 - the DOWN mid, else None."""
    if up_book is not None and up_book.midpoint is not None:
        return up_book.midpoint
    if down_book is not None and down_book.midpoint is not None:
        return 1 - down_book.midpoint
    return None


def score_market(view: MarketView, settings: StrategySettings) -> Score:
    mid_up = view.up_book.midpoint
    return Score(
        confidence=score(
            spot=view.spot,
            price_to_beat=view.price_to_beat,
            mid_up=mid_up,
            open_mid_up=view.open_mid_up,
            settings=settings,
        ),
        fair_value_up=fair_up(
            spot=view.spot,
            price_to_beat=view.price_to_beat,
            time_left_s=view.end - view.now,
            sigma_per_sqrt_s=view.sigma_per_sqrt_s,
        ),
        mid_up=mid_up,
    )


def choose_entry(
    *,
    scored: Score,
    view: MarketView,
    taken: frozenset[Outcome],
    bankroll: Decimal,
    min_size: Decimal,
    settings: StrategySettings,
    max_stake: Decimal | None = None,
) -> Enter | Skip:
    """Buy the side the confidence favours, if the gates pass and Kelly stakes enough.

    Args:
        taken: sides this window already entered; a window enters each side at most once.
        bankroll: equity to size against (risk clips the amount afterwards).
        max_stake: most collateral to stake (a share of the day's loss limit), None: no cap.
        min_size: fewest shares an order may have (the venue's and the settings' minimum).
    """
    up = scored.confidence.up(settings.confidence_model)
    outcome = Outcome.UP if up >= Decimal("0.5") else Outcome.DOWN
    if outcome in taken:
        return Skip(reason="side_taken", detail=f"{outcome} already entered in this window")
    confidence = scored.confidence.of(outcome, settings.confidence_model)
    book = view.book(outcome)
    blocked = entry_gates(
        confidence=confidence,
        best_bid=book.best_bid,
        best_ask=book.best_ask,
        settings=settings,
    )
    if blocked is not None:
        return _skip(blocked)
    assert book.best_ask is not None, "entry gates pass only a two-sided book"
    price = price_on_tick(book.best_ask, book.tick_size)
    fair_value = scored.fair_value(outcome)
    if fair_value <= price:
        return Skip(reason="no_edge", detail=f"{outcome} fair value {fair_value} <= ask {price}")
    size = entry_size(
        win_probability=fair_value,
        price=price,
        bankroll=bankroll,
        min_size=min_size,
        settings=settings,
        max_stake=max_stake,
    )
    if size == 0:
        return Skip(
            reason="below_min_size",
            detail=f"Kelly stake on edge {fair_value - price} buys under {min_size} shares",
        )
    return Enter(
        outcome=outcome, price=price, size=size, confidence=confidence, fair_value=fair_value
    )


def choose_reversal(
    *,
    scored: Score,
    view: MarketView,
    losing: Outcome,
    losing_size: Decimal,
    min_size: Decimal,
    settings: StrategySettings,
) -> Enter | Skip:
    """Buy the other side of a losing position (a hedge), if the confidence favours it by more
    than `reversal_min_confidence` and its book is tradeable. Sized as a hedge, not by Kelly:
    `reversal_size_ratio` shares per losing share."""
    reversal = losing.other
    confidence_losing = scored.confidence.of(losing, settings.confidence_model)
    if not favours_reversal(confidence_losing=confidence_losing, settings=settings):
        strength = reversal_confidence(confidence_losing=confidence_losing)
        return Skip(
            reason="confidence_against_reversal",
            detail=f"confidence favours {reversal} by {strength}, needs more than "
            f"{settings.reversal_min_confidence}",
        )
    book = view.book(reversal)
    blocked = spread_gate(best_bid=book.best_bid, best_ask=book.best_ask, settings=settings)
    if blocked is not None:
        return _skip(blocked)
    assert book.best_ask is not None, "the spread gate passes only a two-sided book"
    size = truncate_shares(losing_size * settings.reversal_size_ratio)
    if size < min_size:
        return Skip(reason="below_min_size", detail=f"hedge of {size} shares < {min_size}")
    return Enter(
        outcome=reversal,
        price=price_on_tick(book.best_ask, book.tick_size),
        size=size,
        confidence=1 - confidence_losing,
        fair_value=scored.fair_value(reversal),
    )


def _skip(blocked: Blocked) -> Skip:
    return Skip(reason=blocked.reason, detail=blocked.detail)
