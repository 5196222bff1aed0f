"""The trading facts the journal keeps. Every figure of a run's summary and of `run.py report`
is derived from these events (by SQL over the journal), never from actor memory.

Streams: `window/<window_id>`, `position/<position_id>`, `risk`, `monitor`. Money, prices and
sizes are Decimal. `client_id`s are deterministic (see actors/messages.py), so an intent that
is rebuilt after a crash carries the same id as the one journaled before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from state.events import Event, event

__all__ = [
    "CapitalRefused",
    "CapitalReleased",
    "CapitalReserved",
    "CapitalResized",
    "EntryDecided",
    "ExitPlanPlaced",
    "InvariantViolated",
    "OrderAccepted",
    "OrderCancelled",
    "OrderFilled",
    "OrderIntent",
    "OrderRejected",
    "PositionAdopted",
    "PositionOpened",
    "PositionReported",
    "PositionSettled",
    "ReversalTriggered",
    "RiskStateChanged",
    "ScaleInFunded",
    "ScaleInTriggered",
    "SettlementMismatch",
    "SignalScored",
    "SizeCorrected",
    "StopArmed",
    "StopLossTriggered",
    "TradingOpened",
    "UnownedOrderCancelled",
    "WindowAnchored",
    "WindowClosed",
    "WindowDiscovered",
]


# --- window ------------------------------------------------------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class WindowDiscovered(Event):
    """v2 adds the market's tick size and minimum order size, so a window or position rebuilt
    from the journal trades on the market's real grid (not an assumed 0.01 / 5)."""

    version: ClassVar[int] = 2

    window_id: str
    asset: str
    timeframe_s: int
    start: float
    end: float
    condition_id: str
    up_token: str
    down_token: str
    slug: str
    tick_size: Decimal
    min_order_size: Decimal

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        if version == 1:
            # v1 was written while every simulated and Up/Down market had these values.
            return {**payload, "slug": "", "tick_size": "0.01", "min_order_size": "5"}
        return super().upcast(version, payload)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SignalScored(Event):
    """A decision point: both confidence models are recorded so they can be compared later."""

    window_id: str
    confidence_additive: Decimal  # confidence that UP wins, 0..1
    confidence_bayesian: Decimal
    fair_value_up: Decimal
    mid_up: Decimal | None
    decision: str  # "enter_up", "enter_down", "skip"
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDecided(Event):
    window_id: str
    position_id: str
    outcome: str  # UP / DOWN
    price: Decimal
    size: Decimal
    purpose: str  # entry, reversal
    # The capital risk granted for it; a restarted window starts a position that never ran
    # with it. Empty only in events built before the field existed.
    reservation_id: str = ""


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class WindowAnchored(Event):
    """The window's reference points, fixed once per window: the reference price at the open
    (the price to beat) and the UP mid at the open, which the momentum signals are measured
    from. `exact` is False when the window actor first saw the market after the open (its
    price to beat is then a guess and the window does not enter)."""

    window_id: str
    price_to_beat: Decimal
    open_mid_up: Decimal
    exact: bool


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class WindowClosed(Event):
    window_id: str
    winner: str | None  # None: closed without a resolution seen (forced)
    traded: bool


# --- risk --------------------------------------------------------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalReserved(Event):
    reservation_id: str
    owner: str
    window_id: str
    asset: str
    amount: Decimal
    purpose: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalRefused(Event):
    owner: str
    window_id: str
    amount: Decimal
    reason: str
    detail: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalResized(Event):
    reservation_id: str
    amount: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalReleased(Event):
    reservation_id: str
    realized_pnl: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class RiskStateChanged(Event):
    old: str
    new: str
    reason: str


# --- position ----------------------------------------------------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOpened(Event):
    position_id: str
    window_id: str
    outcome: str
    token_id: str
    condition_id: str
    reservation_id: str
    entry_price: Decimal
    entry_size: Decimal
    purpose: str  # entry, reversal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent(Event):
    """Journaled (durably) before the order is submitted: phase one of two."""

    position_id: str
    client_id: str
    purpose: str  # entry, exit, scalein, stop, retry
    token_id: str
    side: str
    price: Decimal
    size: Decimal
    order_type: str
    amount: Decimal | None


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(Event):
    position_id: str
    client_id: str
    order_id: str
    status: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(Event):
    position_id: str
    client_id: str
    error_kind: str
    message: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(Event):
    """One of our fills at one trade status; (trade_id, status) is unique."""

    position_id: str
    client_id: str
    order_id: str
    trade_id: str
    side: str
    price: Decimal
    size: Decimal  # shares traded, before fees
    fee: Decimal  # shares on buys, collateral on sells
    status: str  # MATCHED, MINED, CONFIRMED, FAILED


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(Event):
    position_id: str
    client_id: str
    order_id: str
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ExitPlanPlaced(Event):
    position_id: str
    client_id: str
    price: Decimal
    size: Decimal  # always the whole position (invariant 4)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SizeCorrected(Event):
    position_id: str
    old_size: Decimal
    new_size: Decimal
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ReversalTriggered(Event):
    position_id: str
    window_id: str
    losing: str
    midpoint: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class StopArmed(Event):
    """An adopted position saw its price at `midpoint`: every stop level below it is armed, so
    a later move down through a level triggers that stop, never the price the shares already
    had when reconciliation found them (invariant 6)."""

    position_id: str
    midpoint: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossTriggered(Event):
    position_id: str
    midpoint: Decimal
    kind: str  # "floor" (sell now) or "hedged" (sell after a reversal)
    size: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleInTriggered(Event):
    position_id: str
    amount: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleInFunded(Event):
    """The reservation risk granted a scale-in: the position resizes it once the scale-in order
    is over and releases it at settlement, so a restarted position still knows to."""

    position_id: str
    reservation_id: str
    amount: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionSettled(Event):
    position_id: str
    how: str  # resolved, cancelled_unfilled, forced, zero_balance, sold
    size: Decimal  # shares held at settlement
    cost: Decimal  # collateral spent on buys
    proceeds: Decimal  # collateral from sells and redemption
    fees: Decimal  # in collateral
    realized_pnl: Decimal


# --- reconciler --------------------------------------------------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionAdopted(Event):
    """The wallet held shares no position of ours did: a position actor protects them from now
    on (never market-sold, invariant 6). Carries the market, so the position is rebuilt after a
    restart even though no window of ours discovered it."""

    position_id: str
    reservation_id: str
    outcome: str
    size: Decimal
    avg_price: Decimal
    reason: str
    window_id: str
    asset: str
    timeframe_s: int
    start: float
    end: float
    condition_id: str
    up_token: str
    down_token: str
    slug: str
    tick_size: Decimal
    min_order_size: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReported(Event):
    """Something reconciliation found and deliberately left alone (invariant 6)."""

    kind: str  # unadoptable, ghost
    subject: str  # token or position id
    detail: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class UnownedOrderCancelled(Event):
    """An open order nobody owned or claimed for the grace period, cancelled on purpose so it
    cannot block a protective order (invariant 5)."""

    order_id: str
    token_id: str
    side: str
    price: Decimal
    size: Decimal
    unowned_since: float
    was_live: bool


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementMismatch(Event):
    """Our settled P&L of an outcome token differs from the venue's closed position of it
    beyond the tolerance. v1 compared whole markets and named no token."""

    version: ClassVar[int] = 2

    condition_id: str
    token_id: str
    ours: Decimal
    venue: Decimal
    tolerance: Decimal

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        if version == 1:
            return {**payload, "token_id": ""}
        return super().upcast(version, payload)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class TradingOpened(Event):
    """The first reconciliation of the run succeeded: risk may fund entries from now on."""

    reason: str


# --- monitor -----------------------------------------------------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class InvariantViolated(Event):
    invariant: str  # e.g. "4: exit plan covers the position"
    subject: str
    detail: str
