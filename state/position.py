"""The rules of one position: its entry, exit plan, scale-in, stop loss, self-healing and
settlement, as pure functions of its state and the time.

A position's state has two parts:

- **facts**, folded from its journal stream by `evolve` (orders, fills, corrections, triggers,
  settlement): a restarted position rebuilds exactly these;
- **observations** (the market, the wallet's balance, when the venue was last checked, ...),
  updated by `observe`: they are what the position saw since it (re)started and are rebuilt
  from the venue and the market after a restart, never from the journal.

`decide(state, command, now, settings)` returns a `Decision`: the events to journal (durably,
before any effect) and the actions the actor shell performs afterwards (submit or cancel an
order, ask the venue, tell risk or the window). Nothing here reads a clock, does I/O or starts a
thread. The shell's loop is: observe, decide, journal, evolve, act, and `decide(Evaluate())`
again until nothing changes.

Money, prices and sizes are `Decimal`. Share sizes are truncated to 2 decimals (invariant 11),
prices sit on the tick grid, sells never exceed what the wallet holds.

P&L accounting (PositionSettled): `cost` is the collateral paid for buys; `proceeds` is the
collateral received from sells (net of their fee) plus the redemption (1 per winning share
held); `realized_pnl = proceeds - cost`. `fees` (buy fees valued at their trade price plus sell
fees) is informational: buy fees are already paid in shares (we hold fewer), sell fees are
already out of `proceeds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Self, TypeAlias, assert_never

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from actors.messages import Outcome, client_order_id, position_actor, window_id
from state.events import Event
from state.trading_events import (
    ExitPlanPlaced,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderIntent,
    OrderRejected,
    PositionOpened,
    PositionSettled,
    ReversalTriggered,
    ScaleInFunded,
    ScaleInTriggered,
    SizeCorrected,
    StopArmed,
    StopLossTriggered,
)
from strategy.signals import reversal_confidence
from venues.types import (
    BookSnapshot,
    MarketWindow,
    OrderRequest,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
)

__all__ = [
    "ADOPTED",
    "CENT",
    "NEVER_REACHED_VENUE",
    "OUTCOME_UNKNOWN_KINDS",
    "RETRYABLE_REFUSALS",
    "Action",
    "CancelAnswered",
    "CancelEntriesRequested",
    "CheckTicked",
    "Command",
    "Decision",
    "EntriesHalted",
    "Evaluate",
    "FillsExpected",
    "MarketSeen",
    "MarketView",
    "Observation",
    "Open",
    "OrderLookedUp",
    "OrderPhase",
    "OrderUpdateSeen",
    "PlacementAnswered",
    "PlacementFailed",
    "PositionSettings",
    "PositionState",
    "Purpose",
    "RedeemAnswered",
    "RedeemFailed",
    "RedeemWinnings",
    "RefreshWallet",
    "ReleaseCapital",
    "RequestReversal",
    "ReservationResized",
    "ReserveScaleIn",
    "ResizeCapital",
    "ResolutionSeen",
    "ScaleInGranted",
    "ScaleInRefused",
    "StopPosition",
    "SubmitOrder",
    "SyncWithVenue",
    "TrackedOrder",
    "TradeRecord",
    "TradeSeen",
    "VenueFailed",
    "VenueSynced",
    "WalletSeen",
    "WithdrawOrder",
    "ceil_to_tick",
    "decide",
    "evolve",
    "exit_plan_target",
    "favours_reversal",
    "floor_to_tick",
    "initial_state",
    "is_stop_armed",
    "market_view",
    "observe",
    "orders_to_verify",
    "position_threshold_problems",
    "truncate_cents",
]

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
"""Share sizes and BUY amounts have at most 2 decimals on the venue."""

OUTCOME_UNKNOWN_KINDS = frozenset({"VenueTimeout", "AskTimeout", "ReplyLost", "ActorDead"})
"""Placement failures after which the order may or may not exist: look it up, never resend."""

RETRYABLE_REFUSALS = frozenset(
    {"RetryableError", "ServerError", "Maintenance", "RateLimited", "VenueTimeout"}
)
"""Refusals after which the venue certainly does not have the order and a later try may pass."""

NEVER_REACHED_VENUE = "NeverReachedVenue"
"""OrderRejected.error_kind of an intent the venue says it never took (after a lookup)."""

KILL_SWITCH = "kill_switch"
ENTRY_TIMEOUT = "entry_timeout"
ENTRY_TIMEOUT_RETRY = "entry_timeout: retry at market"


# --- settings ----------------------------------------------------------------------------------


class PositionSettings(BaseModel):
    """Every threshold of a position (issue 4, "Position actor"). All hot-reloadable: each
    decision reads the settings passed with it."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    check_interval_s: float = Field(
        default=5.0, gt=0, description="How often the position re-checks timeouts and balances."
    )
    venue_timeout_s: float = Field(
        default=10.0, gt=0, description="Ask timeout towards the venue gateway, risk and journal."
    )
    order_retry_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="After a refused order or a failed venue call, order actions pause this long"
        " (a refusal is never retried in a loop).",
    )
    # --- entry ---------------------------------------------------------------------------------
    entry_unfilled_timeout_s: float = Field(
        default=300.0, gt=0, description="An entry still working after this long is cancelled."
    )
    retry_at_market_min_pnl_pct: Decimal = Field(
        default=Decimal(10),
        ge=0,
        description="At the entry timeout, retry at market (FAK by amount) when the side's P&L"
        " at the midpoint is above this many percent of the entry price.",
    )
    market_order_slippage: Decimal = Field(
        default=Decimal("0.02"),
        ge=0,
        lt=1,
        description="Market orders (retry, scale-in, stop) accept this much worse than the touch.",
    )
    # --- exit plan -------------------------------------------------------------------------------
    exit_target_price: Decimal = Field(
        default=Decimal("0.99"), gt=0, lt=1, description="Price of the resting exit-plan SELL."
    )
    exit_min_position_age_s: float = Field(
        default=60.0, ge=0, description="The exit plan is placed once the first fill is this old."
    )
    # --- scale-in --------------------------------------------------------------------------------
    scale_in_max_count: int = Field(
        default=1, ge=0, description="Scale-ins per position; 0 disables scaling in."
    )
    scale_in_min_position_age_s: float = Field(
        default=60.0,
        ge=0,
        description="No scale-in until the first fill is this old (a first tick's noise is no"
        " trend).",
    )
    scale_in_min_gain: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="Scale in only when the midpoint is at least this far above the average"
        " entry price (the market moved our way).",
    )
    scale_in_min_confidence: Decimal = Field(
        default=Decimal("0.70"),
        ge=0,
        le=1,
        description="...and the window's confidence in our side is at least this.",
    )
    scale_in_fraction: Decimal = Field(
        default=Decimal("0.5"),
        gt=0,
        le=1,
        description="A scale-in spends this fraction of the entry's reserved collateral.",
    )
    scale_in_max_price: Decimal = Field(
        default=Decimal("0.90"), gt=0, lt=1, description="No scale-in buys above this price."
    )
    scale_in_min_time_left_s: float = Field(
        default=120.0, ge=0, description="No scale-in in the window's last seconds."
    )
    scale_in_cooldown_s: float = Field(
        default=60.0, ge=0, description="After risk refused a scale-in, wait this long."
    )
    # --- stop loss -------------------------------------------------------------------------------
    stop_loss_price: Decimal = Field(
        default=Decimal("0.30"),
        gt=0,
        lt=1,
        description="Midpoint at or below this: ask the window for a hedged reversal first.",
    )
    stop_loss_floor: Decimal = Field(
        default=Decimal("0.15"),
        gt=0,
        lt=1,
        description="Midpoint at or below this: sell at once, reversal or not.",
    )
    hedge_min_seconds: float = Field(
        default=120.0, ge=0, description="The losing side is sold no sooner after a reversal."
    )
    reversal_confidence_threshold: Decimal = Field(
        default=Decimal("0.30"),
        ge=-1,
        le=1,
        description="A hedged stop sells only when P(reversal side) - P(our side) is above this"
        " (as strategy.signals.reversal_confidence: 0.30 means P(our side) < 0.35).",
    )
    # --- self-healing ----------------------------------------------------------------------------
    balance_check_interval_s: float = Field(
        default=15.0, gt=0, description="How often the wallet's token balance is re-read."
    )
    balance_mismatch_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="The balance endpoint lags fills: a mismatch with our fills is acted on only"
        " after it persisted this long (and the venue was asked about our orders again).",
    )
    # --- settlement ------------------------------------------------------------------------------
    missing_price_checks: int = Field(
        default=3,
        ge=1,
        description="Force-settle after this many consecutive checks without a price, once the"
        " window has ended.",
    )
    missing_price_check_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Spacing of those checks; with 3 checks a window that resolves within"
        " 3 minutes of its end is never force-settled.",
    )
    zero_balance_settle_s: float = Field(
        default=300.0, ge=0, description="A position corrected to zero is settled this later."
    )
    redeem_attempts: int = Field(
        default=12,
        ge=1,
        description="Redemption attempts, one per check, before a won position is settled"
        " anyway (the venue may take a while to resolve; the winnings stay redeemable and each"
        " failure is logged).",
    )

    @model_validator(mode="after")
    def _thresholds_are_consistent(self) -> Self:
        problems = position_threshold_problems(self)
        if problems:
            # The same error type as config.settings' cross-field checks, so the loader lists
            # every problem (not imported: config composes this model, not the other way).
            error_type = "inconsistent_thresholds"
            raise PydanticCustomError(
                error_type,
                "{summary}",
                {"summary": "; ".join(problems), "problems": problems},
            )
        return self


def position_threshold_problems(settings: PositionSettings) -> tuple[str, ...]:
    """Every pair of position thresholds where a safety limit contradicts what it guards
    (invariant 8)."""
    problems: list[str] = []
    if settings.stop_loss_floor >= settings.stop_loss_price:
        problems.append(
            f"position.stop_loss_floor={settings.stop_loss_floor} must be below "
            f"position.stop_loss_price={settings.stop_loss_price}: the floor is the last resort "
            "below the hedged stop"
        )
    if settings.stop_loss_price >= settings.exit_target_price:
        problems.append(
            f"position.stop_loss_price={settings.stop_loss_price} must be below "
            f"position.exit_target_price={settings.exit_target_price}"
        )
    if settings.scale_in_max_count > 0 and not (
        settings.stop_loss_price < settings.scale_in_max_price < settings.exit_target_price
    ):
        problems.append(
            f"position.scale_in_max_price={settings.scale_in_max_price} must lie between "
            f"stop_loss_price={settings.stop_loss_price} and "
            f"exit_target_price={settings.exit_target_price}: a scale-in must neither trigger the "
            "stop nor buy above the exit"
        )
    if settings.balance_mismatch_grace_s < settings.balance_check_interval_s:
        problems.append(
            f"position.balance_mismatch_grace_s={settings.balance_mismatch_grace_s} must be at "
            f"least balance_check_interval_s={settings.balance_check_interval_s}: a mismatch "
            "must be read twice before the size is corrected"
        )
    return tuple(problems)


# --- small pure helpers ------------------------------------------------------------------------


def truncate_cents(value: Decimal) -> Decimal:
    """Truncate (never round up) to 2 decimals: share sizes and BUY amounts (invariant 11)."""
    return value.quantize(CENT, rounding=ROUND_DOWN)


def floor_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def ceil_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def _on_book(price: Decimal, tick: Decimal) -> Decimal:
    """Clamp a tick-grid price into the venue's [tick, 1 - tick]."""
    return max(tick, min(ONE - tick, price))


def favours_reversal(confidence_ours: Decimal | None, threshold: Decimal) -> bool:
    """The window's confidence favours the reversal side by more than `threshold` (the
    strategy's measure: P(reversal side) - P(our side))."""
    return (
        confidence_ours is not None
        and reversal_confidence(confidence_losing=confidence_ours) > threshold
    )


# --- state -------------------------------------------------------------------------------------

ADOPTED = "adopted"
"""The purpose of a position reconciliation started for shares the wallet held unknown to us:
its `entry_size`/`entry_price` are the venue's size and average price, and it places no entry.
Its stop loss is the same rule as any position's, but a stop level only counts once the price
was seen above it (`StopArmed`): adoption itself never sells (invariant 6)."""


class Purpose(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    SCALEIN = "scalein"
    STOP = "stop"
    RETRY = "retry"


_ENTRY_PURPOSES = (Purpose.ENTRY, Purpose.RETRY)


class OrderPhase(StrEnum):
    INTENDED = "intended"  # journaled; whether the venue took it is not known yet
    LIVE = "live"  # the venue took it; it may still trade
    DONE = "done"  # refused, cancelled, or a market order that has run


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedOrder:
    """One of our orders, as the journal knows it."""

    client_id: str
    purpose: Purpose
    side: Side
    price: Decimal
    size: Decimal  # shares; for a BUY by amount, the most the amount can buy
    order_type: OrderType
    amount: Decimal | None
    intended_at: float
    order_id: str | None = None
    phase: OrderPhase = OrderPhase.INTENDED
    ended_at: float | None = None
    end_reason: str = ""

    @property
    def is_market_type(self) -> bool:
        return self.order_type in (OrderType.FAK, OrderType.FOK)

    def request(self, token_id: TokenId) -> OrderRequest:
        return OrderRequest(
            client_id=self.client_id,
            token_id=token_id,
            side=self.side,
            price=self.price,
            size=self.size,
            order_type=self.order_type,
            amount=self.amount,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeRecord:
    """One of our fills, with every status it was seen at (dedupe on (trade_id, status))."""

    trade_id: str
    client_id: str
    order_id: str
    side: Side
    price: Decimal
    size: Decimal  # shares traded, before fees
    fee: Decimal  # shares on buys, collateral on sells
    first_seen_at: float
    statuses: frozenset[str]

    @property
    def is_failed(self) -> bool:
        return TradeStatus.FAILED.value in self.statuses

    @property
    def is_final(self) -> bool:
        return self.is_failed or TradeStatus.CONFIRMED.value in self.statuses

    @property
    def held_change(self) -> Decimal:
        """Shares this fill added to (BUY, net of the fee) or took from (SELL) our wallet."""
        if self.is_failed:
            return ZERO
        return self.size - self.fee if self.side is Side.BUY else -self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketView:
    """What the window last told us about our token."""

    mark: Decimal | None  # midpoint, else the one side that is quoted
    best_bid: Decimal | None
    best_ask: Decimal | None
    tick_size: Decimal
    confidence: Decimal | None  # the window's P(our side wins)
    at: float


def market_view(book: BookSnapshot, confidence: Decimal | None, at: float) -> MarketView:
    mark = book.midpoint
    if mark is None:
        mark = book.best_bid if book.best_bid is not None else book.best_ask
    return MarketView(
        mark=mark,
        best_bid=book.best_bid,
        best_ask=book.best_ask,
        tick_size=book.tick_size,
        confidence=confidence,
        at=at,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionState:
    """A position: identity (from its constructor), facts (journal), observations (since start)."""

    # identity: the supervisor's child spec keeps these across restarts
    position_id: str
    window: MarketWindow
    outcome: Outcome
    reservation_id: str
    entry_price: Decimal
    entry_size: Decimal
    purpose: str  # entry, reversal
    # facts, folded from the journal
    is_opened: bool = False
    orders: tuple[TrackedOrder, ...] = ()
    trades: tuple[TradeRecord, ...] = ()
    # Shares we hold by our fills alone (kept with `trades`: read on every market update).
    fills_size: Decimal = ZERO
    size_offset: Decimal = ZERO  # what SizeCorrected events added to the fills' total
    last_correction_at: float | None = None
    reversal_at: float | None = None
    stop_kind: str | None = None
    stop_at: float | None = None
    # Adopted positions: stop levels below this price are armed (None: none yet).
    stop_armed_below: Decimal | None = None
    scale_ins: int = 0
    scale_in_reservations: tuple[str, ...] = ()
    is_settled: bool = False
    are_entries_halted: bool = False
    # observations, rebuilt after a restart
    market: MarketView | None = None
    has_price_since_check: bool = False
    missing_price_checks: int = 0
    last_price_check_at: float | None = None
    wallet: Decimal | None = None
    wallet_at: float | None = None
    mismatch_since: float | None = None
    synced_at: float | None = None
    venue_failed_at: float | None = None
    winner: Outcome | None = None
    redeem_failures: int = 0
    last_redeem_failure_at: float | None = None
    scale_in_blocked_until: float = 0.0
    resized_reservations: frozenset[str] = field(default_factory=frozenset)
    # Orders the venue answered as (partly) matched whose fills have not reached us yet: the
    # gateway sends fills after its answer. (client id, when answered)
    fills_expected: tuple[tuple[str, float], ...] = ()

    # --- derived --------------------------------------------------------------------------------

    @property
    def stream_id(self) -> str:
        return position_actor(self.position_id)

    @property
    def token_id(self) -> TokenId:
        return self.window.up_token if self.outcome is Outcome.UP else self.window.down_token

    @property
    def tick_size(self) -> Decimal:
        return self.market.tick_size if self.market is not None else self.window.tick_size

    @property
    def size(self) -> Decimal:
        """Shares we hold by our fills (failed ones excluded) and corrections. Never below zero:
        a fill that fails after a correction already counted its absence must not go negative."""
        return max(self.fills_size + self.size_offset, ZERO)

    @property
    def reserved_amount(self) -> Decimal:
        return self.entry_price * self.entry_size

    @property
    def first_fill_at(self) -> float | None:
        buys = [t.first_seen_at for t in self.trades if t.side is Side.BUY and not t.is_failed]
        return min(buys) if buys else None

    def order(self, client_id: str) -> TrackedOrder | None:
        for order in self.orders:
            if order.client_id == client_id:
                return order
        return None

    def order_by_order_id(self, order_id: str) -> TrackedOrder | None:
        for order in self.orders:
            if order.order_id == order_id:
                return order
        return None

    def trade(self, trade_id: str) -> TradeRecord | None:
        for trade in self.trades:
            if trade.trade_id == trade_id:
                return trade
        return None

    def matched(self, client_id: str) -> Decimal:
        """Shares matched on an order, failed fills included: the venue does not put a failed
        fill back on the book, so they no longer rest either."""
        return sum((t.size for t in self.trades if t.client_id == client_id), ZERO)

    def is_working(self, order: TrackedOrder) -> bool:
        """Possibly on the book: taken by the venue and not fully matched, or not known yet."""
        if order.phase is OrderPhase.INTENDED:
            return True
        return order.phase is OrderPhase.LIVE and self.matched(order.client_id) < order.size

    def remaining(self, order: TrackedOrder) -> Decimal:
        return order.size - self.matched(order.client_id)

    def of_purpose(self, *purposes: Purpose) -> tuple[TrackedOrder, ...]:
        return tuple(o for o in self.orders if o.purpose in purposes)

    def working(self, *purposes: Purpose) -> tuple[TrackedOrder, ...]:
        return tuple(o for o in self.of_purpose(*purposes) if self.is_working(o))

    def intended(self, *purposes: Purpose) -> tuple[TrackedOrder, ...]:
        return tuple(o for o in self.of_purpose(*purposes) if o.phase is OrderPhase.INTENDED)

    def cost_of(self, *purposes: Purpose) -> Decimal:
        clients = {o.client_id for o in self.of_purpose(*purposes)}
        return sum(
            (
                t.size * t.price
                for t in self.trades
                if t.client_id in clients and t.side is Side.BUY and not t.is_failed
            ),
            ZERO,
        )

    @property
    def average_entry_price(self) -> Decimal | None:
        bought = [t for t in self.trades if t.side is Side.BUY and not t.is_failed]
        shares = sum((t.size for t in bought), ZERO)
        if shares == 0:
            return None
        return sum((t.size * t.price for t in bought), ZERO) / shares


def initial_state(
    *,
    position_id: str,
    window: MarketWindow,
    outcome: Outcome,
    reservation_id: str,
    entry_price: Decimal,
    entry_size: Decimal,
    purpose: str,
) -> PositionState:
    return PositionState(
        position_id=position_id,
        window=window,
        outcome=outcome,
        reservation_id=reservation_id,
        entry_price=entry_price,
        entry_size=entry_size,
        purpose=purpose,
    )


# --- evolve: the fold of the journal -----------------------------------------------------------


def _replace_order(state: PositionState, client_id: str, **changes: object) -> PositionState:
    orders = tuple(
        replace(o, **changes) if o.client_id == client_id else o  # type: ignore[arg-type]
        for o in state.orders
    )
    return replace(state, orders=orders)


def _phase_after_acceptance(order: TrackedOrder, status: str) -> OrderPhase:
    status = status.lower()
    if status in {"unmatched", "canceled", "not_active"}:
        return OrderPhase.DONE
    # A market order never rests: once answered (other than "delayed") it has run.
    if order.is_market_type and status != "delayed":
        return OrderPhase.DONE
    return OrderPhase.LIVE


def evolve(state: PositionState, event: Event) -> PositionState:
    """Apply one journaled fact. Raises ValueError for an event that is not a position's."""
    match event:
        case PositionOpened():
            return replace(state, is_opened=True)
        case OrderIntent():
            order = TrackedOrder(
                client_id=event.client_id,
                purpose=Purpose(event.purpose),
                side=Side(event.side),
                price=event.price,
                size=event.size,
                order_type=OrderType(event.order_type),
                amount=event.amount,
                intended_at=event.ts,
            )
            if state.order(event.client_id) is not None:
                return state  # the same intent journaled again (idempotent event ids)
            return replace(state, orders=(*state.orders, order))
        case OrderAccepted():
            known = state.order(event.client_id)
            if known is None:
                return state
            phase = _phase_after_acceptance(known, event.status)
            is_done = phase is OrderPhase.DONE
            return _replace_order(
                state,
                event.client_id,
                order_id=event.order_id,
                phase=phase,
                ended_at=event.ts if is_done else None,
                end_reason=event.status if is_done else "",
            )
        case OrderRejected():
            return _replace_order(
                state,
                event.client_id,
                phase=OrderPhase.DONE,
                ended_at=event.ts,
                end_reason=event.error_kind,
            )
        case OrderCancelled():
            halted = state.are_entries_halted or event.reason.startswith(KILL_SWITCH)
            state = replace(state, are_entries_halted=halted)
            return _replace_order(
                state,
                event.client_id,
                phase=OrderPhase.DONE,
                ended_at=event.ts,
                end_reason=event.reason,
            )
        case OrderFilled():
            return _record_fill(state, event)
        case SizeCorrected():
            return replace(
                state,
                size_offset=state.size_offset + (event.new_size - event.old_size),
                last_correction_at=event.ts,
                mismatch_since=None,
            )
        case ReversalTriggered():
            return replace(state, reversal_at=event.ts)
        case StopLossTriggered():
            return replace(state, stop_kind=event.kind, stop_at=event.ts)
        case StopArmed():
            armed = state.stop_armed_below
            return replace(
                state,
                stop_armed_below=event.midpoint if armed is None else max(armed, event.midpoint),
            )
        case ScaleInTriggered():
            return replace(state, scale_ins=state.scale_ins + 1)
        case ScaleInFunded():
            return replace(
                state, scale_in_reservations=(*state.scale_in_reservations, event.reservation_id)
            )
        case ExitPlanPlaced():
            return state  # the exit order itself is tracked through its intent and acceptance
        case PositionSettled():
            return replace(state, is_settled=True)
        case _:
            msg = f"{state.stream_id}: {type(event).__name__} is not a position event"
            raise ValueError(msg)


def _record_fill(state: PositionState, event: OrderFilled) -> PositionState:
    known = state.trade(event.trade_id)
    if known is None:
        trade = TradeRecord(
            trade_id=event.trade_id,
            client_id=event.client_id,
            order_id=event.order_id,
            side=Side(event.side),
            price=event.price,
            size=event.size,
            fee=event.fee,
            first_seen_at=event.ts,
            statuses=frozenset({event.status}),
        )
        trades = (*state.trades, trade)
    else:
        updated = replace(known, statuses=known.statuses | {event.status})
        trades = tuple(updated if t.trade_id == event.trade_id else t for t in state.trades)
    # The size changed (or may have): a wallet mismatch must be measured afresh.
    expected = tuple(e for e in state.fills_expected if e[0] != event.client_id)
    return replace(
        state,
        trades=trades,
        fills_size=sum((t.held_change for t in trades), ZERO),
        mismatch_since=None,
        fills_expected=expected,
    )


# --- observations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSeen:
    view: MarketView


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletSeen:
    balance: Decimal
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSynced:
    """Every order that could still change was looked up at the venue, and the wallet read."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFailed:
    """A venue call failed or timed out: order actions pause for `order_retry_interval_s`."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckTicked:
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FillsExpected:
    """The venue answered a placement as (partly) matched; its fills are on their way."""

    client_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolutionSeen:
    winner: Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleInRefused:
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeemFailed:
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesHalted:
    """Risk's kill switch: no retry and no scale-in from now on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationResized:
    reservation_id: str


Observation: TypeAlias = (
    MarketSeen
    | WalletSeen
    | VenueSynced
    | VenueFailed
    | CheckTicked
    | FillsExpected
    | ResolutionSeen
    | ScaleInRefused
    | RedeemFailed
    | EntriesHalted
    | ReservationResized
)


def observe(
    state: PositionState, observation: Observation, settings: PositionSettings
) -> PositionState:
    """Record what the position saw; observations are not journaled."""
    match observation:
        case MarketSeen(view=view):
            return replace(
                state,
                market=view,
                has_price_since_check=state.has_price_since_check or view.mark is not None,
            )
        case WalletSeen(balance=balance, at=at):
            is_mismatch = truncate_cents(balance) != truncate_cents(state.size)
            since = None
            if is_mismatch:
                since = at if state.mismatch_since is None else state.mismatch_since
            return replace(state, wallet=balance, wallet_at=at, mismatch_since=since)
        case VenueSynced(at=at):
            # Every order whose fills could be missing was looked up: nothing is expected now.
            return replace(state, synced_at=at, fills_expected=())
        case VenueFailed(at=at):
            return replace(state, venue_failed_at=at)
        case CheckTicked(at=at):
            return _count_missing_prices(state, at, settings)
        case FillsExpected(client_id=client_id, at=at):
            if any(c == client_id for c, _ in state.fills_expected):
                return state
            return replace(state, fills_expected=(*state.fills_expected, (client_id, at)))
        case ResolutionSeen(winner=winner):
            return replace(state, winner=winner)
        case ScaleInRefused(at=at):
            return replace(state, scale_in_blocked_until=at + settings.scale_in_cooldown_s)
        case RedeemFailed(at=at):
            return replace(
                state, redeem_failures=state.redeem_failures + 1, last_redeem_failure_at=at
            )
        case EntriesHalted():
            return replace(state, are_entries_halted=True)
        case ReservationResized(reservation_id=reservation_id):
            return replace(
                state, resized_reservations=state.resized_reservations | {reservation_id}
            )
        case _:
            assert_never(observation)


def _count_missing_prices(
    state: PositionState, at: float, settings: PositionSettings
) -> PositionState:
    if at < state.window.end:
        return state
    last = state.last_price_check_at
    if last is not None and at - last < settings.missing_price_check_interval_s:
        return state
    missing = 0 if state.has_price_since_check else state.missing_price_checks + 1
    return replace(
        state, missing_price_checks=missing, has_price_since_check=False, last_price_check_at=at
    )


# --- commands, actions, decisions --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """First start: journal the position and its entry intent (nothing if already opened)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluate:
    """Apply every rule to the state as it is now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementAnswered:
    client_id: str
    order_id: str
    status: str  # the venue's OrderStatus value: live, matched, delayed, unmatched


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementFailed:
    client_id: str
    error_kind: str  # a VenueError class name, or AskTimeout/ActorDead
    message: str
    # The gateway's word that the venue does not have the order, so sending it again cannot
    # duplicate it (messages.PlaceFailed.is_retryable).
    is_retryable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLookedUp:
    """The venue's answer about one of our client ids (messages.OrderFound)."""

    client_id: str
    order_id: str | None  # None: the venue never took it
    is_active: bool
    trades: tuple[TradeUpdate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAnswered:
    client_id: str
    was_live: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeSeen:
    update: TradeUpdate


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdateSeen:
    update: OrderUpdate


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleInGranted:
    reservation_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelEntriesRequested:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeemAnswered:
    amount: Decimal


Command: TypeAlias = (
    Open
    | Evaluate
    | PlacementAnswered
    | PlacementFailed
    | OrderLookedUp
    | CancelAnswered
    | TradeSeen
    | OrderUpdateSeen
    | ScaleInGranted
    | CancelEntriesRequested
    | RedeemAnswered
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitOrder:
    """Ask the venue to place `request` (its intent is journaled by then)."""

    request: OrderRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawOrder:
    """Ask the venue to cancel one order."""

    client_id: str
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncWithVenue:
    """Look these orders up at the venue (their state and fills), then read the wallet."""

    client_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshWallet:
    """Read the wallet's balance of our token (refreshed at the venue first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReversal:
    size: Decimal
    midpoint: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReserveScaleIn:
    amount: Decimal
    minimum: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeemWinnings:
    """Ask the venue to redeem the market's winning tokens."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResizeCapital:
    reservation_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseCapital:
    reservation_id: str
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPosition:
    """The position is settled: the actor stops (Normal)."""


Action: TypeAlias = (
    SubmitOrder
    | WithdrawOrder
    | SyncWithVenue
    | RefreshWallet
    | RequestReversal
    | ReserveScaleIn
    | RedeemWinnings
    | ResizeCapital
    | ReleaseCapital
    | StopPosition
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Events to journal (durably, first), then actions for the shell, in order."""

    events: tuple[Event, ...] = ()
    actions: tuple[Action, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.events or self.actions)


NOTHING = Decision()


def decide(
    state: PositionState, command: Command, now: float, settings: PositionSettings
) -> Decision:
    """What to journal and do in answer to `command` at `now`. Total: never raises."""
    match command:
        case Open():
            return _open(state, now)
        case Evaluate():
            return _evaluate(state, now, settings)
        case PlacementAnswered():
            return _on_placement_answered(state, command, now)
        case PlacementFailed():
            return _on_placement_failed(state, command, now)
        case OrderLookedUp():
            return _on_order_looked_up(state, command, now, settings)
        case CancelAnswered():
            return _on_cancel_answered(state, command, now)
        case TradeSeen(update=update):
            return _on_trade(state, update, now)
        case OrderUpdateSeen(update=update):
            return _on_order_update(state, update, now)
        case ScaleInGranted():
            return _on_scale_in_granted(state, command, now, settings)
        case CancelEntriesRequested(reason=reason):
            return _on_cancel_entries(state, reason)
        case RedeemAnswered(amount=amount):
            return _on_redeemed(state, amount, now)
        case _:
            assert_never(command)


# --- event builders (deterministic ids: a rebuilt event is stored once) ------------------------


def _event_id(state: PositionState, suffix: str) -> str:
    return f"{state.stream_id}:{suffix}"


def _intent(
    state: PositionState,
    purpose: Purpose,
    *,
    side: Side,
    price: Decimal,
    size: Decimal,
    order_type: OrderType,
    amount: Decimal | None,
    now: float,
) -> tuple[OrderIntent, SubmitOrder]:
    client_id = client_order_id(
        state.position_id, purpose.value, len(state.of_purpose(purpose)) + 1
    )
    intent = OrderIntent(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"{client_id}:intent"),
        position_id=state.position_id,
        client_id=client_id,
        purpose=purpose.value,
        token_id=state.token_id,
        side=side.value,
        price=price,
        size=size,
        order_type=order_type.value,
        amount=amount,
    )
    request = OrderRequest(
        client_id=client_id,
        token_id=state.token_id,
        side=side,
        price=price,
        size=size,
        order_type=order_type,
        amount=amount,
    )
    return intent, SubmitOrder(request=request)


def _cancelled(
    state: PositionState, order: TrackedOrder, reason: str, now: float
) -> OrderCancelled:
    return OrderCancelled(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"{order.client_id}:cancelled"),
        position_id=state.position_id,
        client_id=order.client_id,
        order_id=order.order_id or "",
        reason=reason,
    )


def _fill(
    state: PositionState, order: TrackedOrder, update: TradeUpdate, now: float
) -> OrderFilled:
    return OrderFilled(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"fill:{update.trade_id}:{update.status.value}"),
        position_id=state.position_id,
        client_id=order.client_id,
        order_id=update.order_id,
        trade_id=update.trade_id,
        side=update.side.value,
        price=update.price,
        size=update.size,
        fee=update.fee,
        status=update.status.value,
    )


def _is_new_fill(state: PositionState, update: TradeUpdate) -> bool:
    known = state.trade(update.trade_id)
    return known is None or update.status.value not in known.statuses


# --- command handlers --------------------------------------------------------------------------


def _open(state: PositionState, now: float) -> Decision:
    if state.is_opened:
        return NOTHING
    if state.purpose == ADOPTED:
        return _adopt(state, now)
    opened = _opened(state, now)
    intent, submit = _intent(
        state,
        Purpose.ENTRY,
        side=Side.BUY,
        price=state.entry_price,
        size=truncate_cents(state.entry_size),
        order_type=OrderType.GTC,
        amount=None,
        now=now,
    )
    return Decision(events=(opened, intent), actions=(submit,))


def _opened(state: PositionState, now: float) -> PositionOpened:
    return PositionOpened(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, "opened"),
        position_id=state.position_id,
        window_id=window_id(state.window),
        outcome=state.outcome.value,
        token_id=state.token_id,
        condition_id=state.window.condition_id,
        reservation_id=state.reservation_id,
        entry_price=state.entry_price,
        entry_size=state.entry_size,
        purpose=state.purpose,
    )


def _adopt(state: PositionState, now: float) -> Decision:
    """Shares reconciliation found in the wallet with no position of ours: they are held from
    now on by this position, which protects them with an exit plan and never buys more."""
    opened = _opened(state, now)
    adopted = SizeCorrected(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, "adopted"),
        position_id=state.position_id,
        old_size=ZERO,
        new_size=state.entry_size,
        reason=f"adopted: the venue holds {state.entry_size} at {state.entry_price} on average",
    )
    return Decision(events=(opened, adopted))


def _on_placement_answered(state: PositionState, answer: PlacementAnswered, now: float) -> Decision:
    order = state.order(answer.client_id)
    if order is None or order.phase is not OrderPhase.INTENDED:
        return NOTHING  # a repeated answer
    accepted = OrderAccepted(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"{order.client_id}:accepted"),
        position_id=state.position_id,
        client_id=order.client_id,
        order_id=answer.order_id,
        status=answer.status,
    )
    if order.purpose is not Purpose.EXIT:
        return Decision(events=(accepted,))
    placed = ExitPlanPlaced(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"{order.client_id}:exit_plan"),
        position_id=state.position_id,
        client_id=order.client_id,
        price=order.price,
        size=order.size,
    )
    return Decision(events=(accepted, placed))


def _on_placement_failed(state: PositionState, failure: PlacementFailed, now: float) -> Decision:
    order = state.order(failure.client_id)
    if order is None or order.phase is not OrderPhase.INTENDED:
        return NOTHING
    if failure.error_kind in OUTCOME_UNKNOWN_KINDS and not failure.is_retryable:
        # Invariant 2: the order may exist. Ask the venue about it; never send it again blindly.
        return Decision(actions=(SyncWithVenue(client_ids=(order.client_id,)),))
    return Decision(events=(_rejected(state, order, failure.error_kind, failure.message, now),))


def _rejected(
    state: PositionState, order: TrackedOrder, error_kind: str, message: str, now: float
) -> OrderRejected:
    return OrderRejected(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"{order.client_id}:rejected"),
        position_id=state.position_id,
        client_id=order.client_id,
        error_kind=error_kind,
        message=message,
    )


def _on_order_looked_up(
    state: PositionState, found: OrderLookedUp, now: float, settings: PositionSettings
) -> Decision:
    order = state.order(found.client_id)
    if order is None:
        return NOTHING
    events: list[Event] = []
    actions: list[Action] = []
    if order.phase is OrderPhase.INTENDED:
        if found.order_id is None:
            if order.purpose is Purpose.ENTRY and _may_enter(state, now):
                if _is_paused(state, now, settings):
                    return NOTHING  # looked up again once the pause is over
                # The venue never took it: submitting the same intent now is its first time.
                return Decision(actions=(SubmitOrder(request=order.request(state.token_id)),))
            message = "the venue has no order with this client id; the intent is void"
            return Decision(events=(_rejected(state, order, NEVER_REACHED_VENUE, message, now),))
        answer = PlacementAnswered(
            client_id=order.client_id,
            order_id=found.order_id,
            status="live" if found.is_active else "not_active",
        )
        events.extend(_on_placement_answered(state, answer, now).events)
        order = replace(order, order_id=found.order_id)
    new_fills = [
        _fill(state, order, trade, now)
        for trade in _latest_per_status(found.trades)
        if _is_new_fill(state, trade)
    ]
    events.extend(new_fills)
    if new_fills:
        actions.append(RefreshWallet())
    matched = state.matched(order.client_id) + sum(
        (f.size for f in new_fills if state.trade(f.trade_id) is None), ZERO
    )
    if order.phase is OrderPhase.LIVE and not found.is_active and matched < order.size:
        events.append(_cancelled(state, order, "not_live_at_venue", now))
    return Decision(events=tuple(events), actions=tuple(actions))


def _latest_per_status(trades: Iterable[TradeUpdate]) -> tuple[TradeUpdate, ...]:
    # One fill per (trade_id, status), so a repeated answer adds nothing.
    seen: dict[tuple[str, str], TradeUpdate] = {}
    for trade in trades:
        seen.setdefault((trade.trade_id, trade.status.value), trade)
    return tuple(seen.values())


def _on_cancel_answered(state: PositionState, answer: CancelAnswered, now: float) -> Decision:
    order = state.order(answer.client_id)
    if order is None or order.phase is OrderPhase.DONE:
        return NOTHING
    reason = answer.reason if answer.was_live else f"{answer.reason} (already gone)"
    return Decision(events=(_cancelled(state, order, reason, now),))


def _on_trade(state: PositionState, update: TradeUpdate, now: float) -> Decision:
    order = state.order_by_order_id(update.order_id)
    if order is None or not _is_new_fill(state, update):
        return NOTHING
    return Decision(events=(_fill(state, order, update, now),), actions=(RefreshWallet(),))


def _venue_reason(status: str) -> str:
    """Our words for a venue's cancellation status. Never the venue's raw text: its FOK/FAK
    wording says "killed", which the invariant-7 check reads as the kill switch."""
    upper = status.upper()
    if upper == "CANCELED_MARKET_RESOLVED":
        return "market_resolved"
    if upper.startswith("CANCELED_EXPIRED"):
        return "expired"
    if upper in {"UNMATCHED", "INVALID"} or upper.startswith("CANCELED_") or "FILLED" in upper:
        return "not_filled"
    return "venue_canceled"


def _on_order_update(state: PositionState, update: OrderUpdate, now: float) -> Decision:
    order = state.order_by_order_id(update.order_id)
    if order is None or order.phase is OrderPhase.DONE:
        return NOTHING
    is_cancellation = update.kind is OrderUpdateKind.CANCELLATION and update.status != "MATCHED"
    if not is_cancellation:
        return NOTHING  # placements and partial fills: the fills themselves come as trades
    return Decision(events=(_cancelled(state, order, _venue_reason(update.status), now),))


def _on_cancel_entries(state: PositionState, reason: str) -> Decision:
    # Invariant 7: the kill switch cancels entries only; exit plans and stops stay.
    actions = tuple(
        WithdrawOrder(client_id=o.client_id, order_id=o.order_id, reason=f"{KILL_SWITCH}: {reason}")
        for o in state.working(*_ENTRY_PURPOSES)
        if o.order_id is not None
    )
    return Decision(actions=actions)


def _on_scale_in_granted(
    state: PositionState, grant: ScaleInGranted, now: float, settings: PositionSettings
) -> Decision:
    market = state.market
    amount = truncate_cents(grant.amount)
    if (
        market is None
        or market.best_ask is None
        or not _may_enter(state, now)
        or amount < ONE
        or state.working(Purpose.SCALEIN)
    ):
        return Decision(
            actions=(ReleaseCapital(reservation_id=grant.reservation_id, realized_pnl=ZERO),)
        )
    tick = market.tick_size
    price = _on_book(
        min(
            ceil_to_tick(market.best_ask + settings.market_order_slippage, tick),
            floor_to_tick(settings.scale_in_max_price, tick),
        ),
        tick,
    )
    n = state.scale_ins + 1
    triggered = ScaleInTriggered(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"scalein/{n}:triggered"),
        position_id=state.position_id,
        amount=amount,
    )
    funded = ScaleInFunded(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"scalein/{n}:funded"),
        position_id=state.position_id,
        reservation_id=grant.reservation_id,
        amount=amount,
    )
    intent, submit = _intent(
        state,
        Purpose.SCALEIN,
        side=Side.BUY,
        price=price,
        size=truncate_cents(amount / price),
        order_type=OrderType.FAK,
        amount=amount,
        now=now,
    )
    return Decision(events=(triggered, funded, intent), actions=(submit,))


def _on_redeemed(state: PositionState, amount: Decimal, now: float) -> Decision:
    if state.is_settled:
        return NOTHING
    if state.winner is not None:
        return _settle(state, "resolved", _payout(state), now)
    # Forced: the venue may have resolved the market without us hearing of it. What it paid
    # us, up to our shares, is ours; the rest belongs to whoever else holds the market.
    return _settle(state, "forced", min(max(amount, ZERO), max(state.size, ZERO)), now)


def _payout(state: PositionState) -> Decimal:
    return max(state.size, ZERO) if state.winner is state.outcome else ZERO


# --- settlement --------------------------------------------------------------------------------


def _settle(state: PositionState, how: str, redemption: Decimal, now: float) -> Decision:
    cost = sum(
        (t.size * t.price for t in state.trades if t.side is Side.BUY and not t.is_failed), ZERO
    )
    sold = sum(
        (t.size * t.price - t.fee for t in state.trades if t.side is Side.SELL and not t.is_failed),
        ZERO,
    )
    fees = sum(
        (t.fee * t.price if t.side is Side.BUY else t.fee for t in state.trades if not t.is_failed),
        ZERO,
    )
    if state.purpose == ADOPTED:
        cost += state.entry_price * state.entry_size  # bought before we knew of them
    proceeds = sold + redemption
    pnl = proceeds - cost
    events: list[Event] = []
    actions: list[Action] = []
    for order in state.orders:
        if order.phase is OrderPhase.DONE or not state.is_working(order):
            continue
        if how == "resolved":
            events.append(_cancelled(state, order, "market_resolved", now))
        elif order.order_id is not None:
            actions.append(
                WithdrawOrder(
                    client_id=order.client_id, order_id=order.order_id, reason=f"settled: {how}"
                )
            )
    events.append(
        PositionSettled(
            stream_id=state.stream_id,
            ts=now,
            event_id=_event_id(state, "settled"),
            position_id=state.position_id,
            how=how,
            size=max(state.size, ZERO),
            cost=cost,
            proceeds=proceeds,
            fees=fees,
            realized_pnl=pnl,
        )
    )
    actions.append(ReleaseCapital(reservation_id=state.reservation_id, realized_pnl=pnl))
    actions.extend(
        ReleaseCapital(reservation_id=r, realized_pnl=ZERO) for r in state.scale_in_reservations
    )
    actions.append(StopPosition())
    return Decision(events=tuple(events), actions=tuple(actions))


# --- the rules ---------------------------------------------------------------------------------

Rule = Callable[[PositionState, float, PositionSettings], Decision]


def _evaluate(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if not state.is_opened or state.is_settled:
        return NOTHING
    for rule in _RULES:
        decision = rule(state, now, settings)
        if decision:
            return decision
    return NOTHING


def _is_paused(state: PositionState, now: float, settings: PositionSettings) -> bool:
    """Order actions wait after a refusal or a failed venue call: never a retry loop."""
    last = max(
        [o.ended_at for o in state.orders if o.ended_at is not None and _is_refusal(o)]
        + ([state.venue_failed_at] if state.venue_failed_at is not None else []),
        default=None,
    )
    return last is not None and now - last < settings.order_retry_interval_s


def _is_refusal(order: TrackedOrder) -> bool:
    # An intent a crash kept from the venue was refused by no one: pausing after it would only
    # leave a restarted position unprotected for order_retry_interval_s.
    return (
        order.phase is OrderPhase.DONE
        and order.order_id is None
        and order.end_reason != NEVER_REACHED_VENUE
    )


def _may_enter(state: PositionState, now: float) -> bool:
    return now < state.window.end and not state.are_entries_halted


def _holds_shares(state: PositionState) -> bool:
    return truncate_cents(state.size) > 0


def _resolve_unknown_intents(
    state: PositionState, now: float, settings: PositionSettings
) -> Decision:
    unknown = state.intended(*Purpose)
    if not unknown or _is_paused(state, now, settings):
        return NOTHING
    return Decision(actions=(SyncWithVenue(client_ids=tuple(o.client_id for o in unknown)),))


def _chase_expected_fills(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    """Fills the venue announced but never sent (a dropped event) are looked up, once a check
    interval has passed, so the position neither waits for them forever nor settles without."""
    overdue = [c for c, at in state.fills_expected if now - at >= settings.check_interval_s]
    if not overdue or _is_paused(state, now, settings):
        return NOTHING
    return Decision(actions=(SyncWithVenue(client_ids=orders_to_verify(state)),))


def _settle_on_resolution(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if state.winner is None:
        return NOTHING
    is_owed = state.winner is state.outcome and state.size > 0
    if is_owed and state.redeem_failures < settings.redeem_attempts:
        last = state.last_redeem_failure_at
        if last is not None and now - last < settings.check_interval_s:
            return NOTHING
        return Decision(actions=(RedeemWinnings(),))
    return _settle(state, "resolved", _payout(state), now)


def _force_settle(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if now < state.window.end or state.missing_price_checks < settings.missing_price_checks:
        return NOTHING
    if state.size > 0 and state.redeem_failures == 0:
        return Decision(actions=(RedeemWinnings(),))
    return _settle(state, "forced", ZERO, now)


def _is_winning(state: PositionState, settings: PositionSettings) -> bool:
    mark = state.market.mark if state.market is not None else None
    if mark is None:
        return False
    pnl_pct = (mark - state.entry_price) / state.entry_price * 100
    return pnl_pct > settings.retry_at_market_min_pnl_pct


def _entry_timeout(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    for entry in state.working(Purpose.ENTRY):
        if entry.order_id is None or now - entry.intended_at < settings.entry_unfilled_timeout_s:
            continue
        if _is_paused(state, now, settings):
            return NOTHING
        retry = _may_enter(state, now) and _is_winning(state, settings)
        # The retry decision is made here and journaled with the cancel (its reason), so a
        # restarted position neither forgets it nor makes it again at another price.
        reason = ENTRY_TIMEOUT_RETRY if retry else ENTRY_TIMEOUT
        return Decision(
            actions=(
                WithdrawOrder(client_id=entry.client_id, order_id=entry.order_id, reason=reason),
            )
        )
    return NOTHING


def _retry_amount(state: PositionState) -> Decimal:
    """What is left of the entry's reservation for a retry at market."""
    return truncate_cents(state.reserved_amount - state.cost_of(Purpose.ENTRY))


def _can_retry(state: PositionState, now: float) -> bool:
    market = state.market
    return (
        market is not None
        and market.best_ask is not None
        and _may_enter(state, now)
        and _retry_amount(state) >= ONE  # the venue's $1 minimum for a marketable BUY
    )


def _is_retry_pending(state: PositionState, now: float) -> bool:
    entries = state.of_purpose(Purpose.ENTRY)
    return (
        bool(entries)
        and entries[-1].end_reason == ENTRY_TIMEOUT_RETRY
        and not state.of_purpose(Purpose.RETRY)
        and _can_retry(state, now)
    )


def _is_entry_resend_due(state: PositionState, now: float, settings: PositionSettings) -> bool:
    """Every entry so far was refused before reaching the venue, the last one for a passing
    reason (maintenance, a 5xx, a rate limit): the entry is sent again, within its timeout."""
    entries = state.of_purpose(Purpose.ENTRY)
    return (
        bool(entries)
        and all(o.phase is OrderPhase.DONE and o.order_id is None for o in entries)
        and entries[-1].end_reason in RETRYABLE_REFUSALS
        and _may_enter(state, now)
        and now - entries[0].intended_at < settings.entry_unfilled_timeout_s
    )


def _entry_phase_over(state: PositionState, now: float, settings: PositionSettings) -> bool:
    """No entry or retry can still trade or still be placed."""
    if state.purpose == ADOPTED:
        return True  # an adopted position never enters
    return (
        bool(state.of_purpose(Purpose.ENTRY))
        and not state.working(*_ENTRY_PURPOSES)
        and not _is_retry_pending(state, now)
        and not _is_entry_resend_due(state, now, settings)
    )


def _resend_refused_entry(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if not _is_entry_resend_due(state, now, settings) or _is_paused(state, now, settings):
        return NOTHING
    intent, submit = _intent(
        state,
        Purpose.ENTRY,
        side=Side.BUY,
        price=state.entry_price,
        size=truncate_cents(state.entry_size),
        order_type=OrderType.GTC,
        amount=None,
        now=now,
    )
    return Decision(events=(intent,), actions=(submit,))


def _retry_at_market(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    market = state.market
    if not _is_retry_pending(state, now) or market is None or market.best_ask is None:
        return NOTHING
    amount = _retry_amount(state)
    tick = market.tick_size
    price = _on_book(ceil_to_tick(market.best_ask + settings.market_order_slippage, tick), tick)
    intent, submit = _intent(
        state,
        Purpose.RETRY,
        side=Side.BUY,
        price=price,
        size=truncate_cents(amount / price),
        order_type=OrderType.FAK,
        amount=amount,
        now=now,
    )
    return Decision(events=(intent,), actions=(submit,))


def _halted_entries(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    """The kill switch holds until the position ends: an entry that surfaces after it (an
    unknown outcome resolved later) is cancelled too. Exit plans and stops are never touched."""
    if not state.are_entries_halted or _is_paused(state, now, settings):
        return NOTHING
    return _on_cancel_entries(state, "entries halted")


def _report_spent_capital(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    """Tell risk what each funded order spent once it is over (risk then counts the entry as
    closed, so its kill switch no longer targets it)."""
    if (
        _entry_phase_over(state, now, settings)
        and state.reservation_id not in state.resized_reservations
        and not _awaits_fills(state, state.of_purpose(*_ENTRY_PURPOSES))
    ):
        amount = state.cost_of(Purpose.ENTRY, Purpose.RETRY)
        if state.purpose == ADOPTED:
            amount = state.reserved_amount  # what the adopted shares cost stays at risk
        return Decision(
            actions=(ResizeCapital(reservation_id=state.reservation_id, amount=amount),)
        )
    scale_in_orders = state.of_purpose(Purpose.SCALEIN)
    for reservation_id, order in zip(state.scale_in_reservations, scale_in_orders, strict=False):
        if (
            reservation_id in state.resized_reservations
            or state.is_working(order)
            or _awaits_fills(state, (order,))
        ):
            continue
        clients = {order.client_id}
        spent = sum(
            (t.size * t.price for t in state.trades if t.client_id in clients and not t.is_failed),
            ZERO,
        )
        return Decision(actions=(ResizeCapital(reservation_id=reservation_id, amount=spent),))
    return NOTHING


def _awaits_fills(state: PositionState, orders: Iterable[TrackedOrder]) -> bool:
    """The venue answered one of `orders` as matched and its fills have not reached us: what
    it spent is not known yet (a market order is over as soon as it is answered)."""
    expected = {client_id for client_id, _ in state.fills_expected}
    return any(o.client_id in expected for o in orders)


def _self_heal(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    wallet, since = state.wallet, state.mismatch_since
    if wallet is None or since is None or truncate_cents(wallet) == truncate_cents(state.size):
        return NOTHING
    if now - since < settings.balance_mismatch_grace_s:
        return NOTHING
    deadline = since + settings.balance_mismatch_grace_s
    if state.synced_at is None or state.synced_at < deadline:
        # Before believing the wallet, make sure we have not missed a fill of our own.
        if _is_paused(state, now, settings):
            return NOTHING
        return Decision(actions=(SyncWithVenue(client_ids=orders_to_verify(state)),))
    corrected = SizeCorrected(
        stream_id=state.stream_id,
        ts=now,
        position_id=state.position_id,
        old_size=state.size,
        new_size=wallet,
        reason=(
            f"wallet holds {wallet}, our fills say {state.size}, for {now - since:.0f}s "
            f"(grace {settings.balance_mismatch_grace_s:.0f}s) after a venue check"
        ),
    )
    return Decision(events=(corrected,))


def orders_to_verify(state: PositionState) -> tuple[str, ...]:
    """Orders the venue may know more about than we do: unknown outcomes, orders that may
    still trade, and any order whose fills may not all have reached us (a dropped event, a
    cancel answered "already gone" because it had filled). Only orders fully matched with every
    fill final are left out."""
    return tuple(
        o.client_id
        for o in state.orders
        if o.phase is OrderPhase.INTENDED
        or (
            o.order_id is not None
            and not (
                state.matched(o.client_id) >= o.size
                and all(t.is_final for t in state.trades if t.client_id == o.client_id)
            )
        )
    )


def is_stop_armed(state: PositionState, level: Decimal) -> bool:
    """Whether a stop at `level` may trigger: always for our own positions (bought above it);
    for an adopted one only once its price was seen above the level."""
    if state.purpose != ADOPTED:
        return True
    return state.stop_armed_below is not None and level < state.stop_armed_below


def _arm_adopted_stop(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    """An adopted position's price above a stop level not armed yet arms it (journaled, so a
    restarted position keeps it)."""
    market = state.market
    if (
        state.purpose != ADOPTED
        or state.stop_kind is not None
        or market is None
        or market.mark is None
        or now >= state.window.end
        or not _holds_shares(state)
    ):
        return NOTHING
    mark = market.mark
    levels = (settings.stop_loss_floor, settings.stop_loss_price)
    if not any(level < mark and not is_stop_armed(state, level) for level in levels):
        return NOTHING
    armed = StopArmed(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, f"stop_armed@{mark}"),
        position_id=state.position_id,
        midpoint=mark,
    )
    return Decision(events=(armed,))


def _stop_loss(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if not _holds_shares(state):
        return NOTHING
    if state.stop_kind is None:
        return _stop_trigger(state, now, settings)
    return _stop_sell(state, now, settings)


def _stop_trigger(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    market = state.market
    if market is None or market.mark is None or now >= state.window.end:
        return NOTHING
    mark = market.mark
    size = truncate_cents(state.size)
    if mark <= settings.stop_loss_floor:
        if not is_stop_armed(state, settings.stop_loss_floor):
            return NOTHING  # adopted below the floor: no stop level is armed yet
        return Decision(events=(_stop_triggered(state, "floor", mark, size, now),))
    if mark > settings.stop_loss_price or not is_stop_armed(state, settings.stop_loss_price):
        return NOTHING
    if state.reversal_at is None:
        reversal = ReversalTriggered(
            stream_id=state.stream_id,
            ts=now,
            event_id=_event_id(state, "reversal"),
            position_id=state.position_id,
            window_id=window_id(state.window),
            losing=state.outcome.value,
            midpoint=mark,
        )
        return Decision(events=(reversal,), actions=(RequestReversal(size=size, midpoint=mark),))
    if now - state.reversal_at >= settings.hedge_min_seconds and favours_reversal(
        market.confidence, settings.reversal_confidence_threshold
    ):
        return Decision(events=(_stop_triggered(state, "hedged", mark, size, now),))
    return NOTHING


def _stop_triggered(
    state: PositionState, kind: str, mark: Decimal, size: Decimal, now: float
) -> StopLossTriggered:
    return StopLossTriggered(
        stream_id=state.stream_id,
        ts=now,
        event_id=_event_id(state, "stop"),
        position_id=state.position_id,
        midpoint=mark,
        kind=kind,
        size=size,
    )


def _stop_sell(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if now >= state.window.end or _is_paused(state, now, settings):
        return NOTHING
    # The exit plan reserves the shares: take it off the book first (not found = gone).
    exits = [o for o in state.working(Purpose.EXIT) if o.order_id is not None]
    if exits:
        return Decision(
            actions=tuple(
                WithdrawOrder(client_id=o.client_id, order_id=o.order_id or "", reason="stop_loss")
                for o in exits
            )
        )
    if state.working(Purpose.EXIT, Purpose.STOP):
        return NOTHING  # an unknown outcome or a stop still on its way
    # Before any stop sell: did the exit plan (or the last stop) fill meanwhile? Ask the venue.
    last_sell_end = max(
        [o.ended_at for o in state.of_purpose(Purpose.EXIT, Purpose.STOP) if o.ended_at is not None]
        + [state.stop_at or now],
        default=now,
    )
    if state.synced_at is None or state.synced_at < last_sell_end:
        return Decision(actions=(SyncWithVenue(client_ids=orders_to_verify(state)),))
    stops = state.of_purpose(Purpose.STOP)
    if (
        stops
        and stops[-1].ended_at is not None
        and now - stops[-1].ended_at < settings.order_retry_interval_s
    ):
        return NOTHING
    held = state.size if state.wallet is None else min(state.size, state.wallet)
    size = truncate_cents(held)
    if size < state.window.min_order_size:
        return NOTHING  # below the venue's minimum: held to resolution
    market = state.market
    tick = state.tick_size
    if market is not None and market.best_bid is not None:
        price = _on_book(
            floor_to_tick(market.best_bid - settings.market_order_slippage, tick), tick
        )
    else:
        price = tick
    intent, submit = _intent(
        state,
        Purpose.STOP,
        side=Side.SELL,
        price=price,
        size=size,
        order_type=OrderType.FAK,
        amount=None,
        now=now,
    )
    return Decision(events=(intent,), actions=(submit,))


def exit_plan_target(
    state: PositionState, now: float, settings: PositionSettings
) -> Decimal | None:
    """The size the exit plan must have now, or None when no exit plan is due.

    The whole position (invariant 4), truncated to 2 decimals and to what the wallet holds
    (invariant 11), once the first fill is `exit_min_position_age_s` old; none while a stop is
    selling, after the window's end, or below the venue's minimum order size.
    """
    # Shares we only know of from the wallet (a correction) count from when we adopted them.
    held_since = state.first_fill_at or state.last_correction_at
    # Once placed, the plan keeps covering: a failed first fill does not make the position young.
    was_placed = any(o.order_id is not None for o in state.of_purpose(Purpose.EXIT))
    is_old_enough = was_placed or (
        held_since is not None and now - held_since >= settings.exit_min_position_age_s
    )
    if (
        state.stop_kind is not None
        or state.is_settled
        or now >= state.window.end
        or not is_old_enough
    ):
        return None
    held = state.size if state.wallet is None else min(state.size, state.wallet)
    size = truncate_cents(held)
    if size < state.window.min_order_size:
        return None
    return size


def _exit_plan(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if state.stop_kind is not None or state.intended(Purpose.EXIT):
        return NOTHING
    target = exit_plan_target(state, now, settings)
    working = state.working(Purpose.EXIT)
    covered = truncate_cents(state.size)
    if target is None:
        # Too small to re-place: only take off what would sell more than we hold.
        too_big = [o for o in working if state.remaining(o) > covered and o.order_id is not None]
        if not too_big or _is_paused(state, now, settings):
            return NOTHING
        return Decision(
            actions=tuple(
                WithdrawOrder(client_id=o.client_id, order_id=o.order_id or "", reason="resize")
                for o in too_big
            )
        )
    if len(working) == 1 and state.remaining(working[0]) == target:
        return NOTHING
    if _is_paused(state, now, settings):
        return NOTHING
    offered = sum((state.remaining(o) for o in working), ZERO)
    if target < min(offered, truncate_cents(state.size)) and not _synced_since_wallet(state):
        # The wallet holds less than the plan offers and our fills say: most likely the plan
        # itself sold and its fill has not reached us. Ask before re-placing, or the new plan
        # offers shares already sold (refused for balance if the rest sold meanwhile) and the
        # plan loses its place in the queue.
        return Decision(actions=(SyncWithVenue(client_ids=orders_to_verify(state)),))
    # Cancel-old and place-new fail independently (invariant 4): the new plan is journaled and
    # submitted whatever the cancel answers; "not found" on the cancel means the old one is gone.
    cancels = tuple(
        WithdrawOrder(client_id=o.client_id, order_id=o.order_id or "", reason="resize")
        for o in working
        if o.order_id is not None
    )
    tick = state.tick_size
    price = _on_book(floor_to_tick(settings.exit_target_price, tick), tick)
    intent, submit = _intent(
        state,
        Purpose.EXIT,
        side=Side.SELL,
        price=price,
        size=target,
        order_type=OrderType.GTC,
        amount=None,
        now=now,
    )
    return Decision(events=(intent,), actions=(*cancels, submit))


def _synced_since_wallet(state: PositionState) -> bool:
    return state.synced_at is not None and (
        state.wallet_at is None or state.synced_at >= state.wallet_at
    )


def _scale_in(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    market = state.market
    average = state.average_entry_price
    if (
        state.scale_ins >= settings.scale_in_max_count
        or market is None
        or market.mark is None
        or market.best_ask is None
        or market.confidence is None
        or average is None
        or state.first_fill_at is None
        or now - state.first_fill_at < settings.scale_in_min_position_age_s
        or not _entry_phase_over(state, now, settings)
        or truncate_cents(state.size) < state.window.min_order_size
        or state.reversal_at is not None
        or state.stop_kind is not None
        or not _may_enter(state, now)
        or state.window.end - now < settings.scale_in_min_time_left_s
        or now < state.scale_in_blocked_until
        or state.working(Purpose.SCALEIN)
        or _is_paused(state, now, settings)
    ):
        return NOTHING
    if (
        market.mark - average < settings.scale_in_min_gain
        or market.confidence < settings.scale_in_min_confidence
        or market.best_ask > settings.scale_in_max_price
    ):
        return NOTHING
    amount = truncate_cents(state.reserved_amount * settings.scale_in_fraction)
    if amount < ONE:
        return NOTHING  # below the venue's $1 minimum for a marketable BUY
    return Decision(actions=(ReserveScaleIn(amount=amount, minimum=ONE),))


def _settle_when_flat(state: PositionState, now: float, settings: PositionSettings) -> Decision:
    if (
        _holds_shares(state)
        or state.fills_expected
        or not _entry_phase_over(state, now, settings)
        or any(state.is_working(o) for o in state.orders)
    ):
        return NOTHING
    live_trades = [t for t in state.trades if not t.is_failed]
    if not live_trades:
        # Never filled, as far as we know: the wallet must agree, or a fill we never heard of
        # (an answer lost for good) would be abandoned. Self-healing adopts what it shows.
        if state.wallet is None:
            return Decision(actions=(RefreshWallet(),))
        if truncate_cents(state.wallet) > 0:
            return NOTHING
        return _settle(state, "cancelled_unfilled", ZERO, now)
    if not all(t.is_final for t in state.trades):
        return NOTHING  # a fill may still fail and give the shares back
    has_sold = any(t.side is Side.SELL for t in live_trades)
    if has_sold and truncate_cents(state.fills_size) <= 0:
        return _settle(state, "sold", ZERO, now)
    last_correction_at = state.last_correction_at or now
    if now - last_correction_at >= settings.zero_balance_settle_s:
        return _settle(state, "zero_balance", ZERO, now)
    return NOTHING


_RULES: tuple[Rule, ...] = (
    _resolve_unknown_intents,
    _chase_expected_fills,
    _settle_on_resolution,
    _force_settle,
    _resend_refused_entry,
    _entry_timeout,
    _retry_at_market,
    _halted_entries,
    _report_spent_capital,
    _self_heal,
    _arm_adopted_stop,
    _stop_loss,
    _exit_plan,
    _scale_in,
    _settle_when_flat,
)
