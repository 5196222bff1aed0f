"""One market window's state and decisions, pure: what it has seen, which sides it entered,
and whether to enter, reverse, close or stop now.

The journaled part of the state (discovery, anchor, last scores, entries, closing) is a fold of
the window's own stream (`evolve`), so a restarted window knows which sides it entered without
asking anyone: it never enters a side twice (invariant 2). The observed part (books, reference
price, volatility) is live market data, rebuilt from the feed after a restart (`observe_*`).

Decisions take the time and the settings as arguments and answer values: events to journal,
an `EntryIntent` to reserve capital for, or a `Skip` saying why not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from actors.messages import (
    Granted,
    Outcome,
    Reserve,
    ReversalRequest,
    SpotUpdate,
    position_id,
    window_actor,
    window_id,
)
from state.events import Event
from state.trading_events import (
    EntryDecided,
    SignalScored,
    WindowAnchored,
    WindowClosed,
    WindowDiscovered,
)
from strategy.entry import (
    Enter,
    MarketView,
    Skip,
    choose_entry,
    choose_reversal,
    market_prior_up,
    score_market,
)
from strategy.fair_value import VolatilityEstimate, observe_price, sigma_per_sqrt_s
from strategy.gates import Blocked, entry_time_gate, reversal_time_gate
from strategy.settings import StrategySettings
from strategy.signals import Confidence
from strategy.sizing import shares_for
from venues.types import BookSnapshot, MarketWindow, TokenId

__all__ = [
    "ENTRY",
    "REVERSAL",
    "Anchor",
    "Decision",
    "Entry",
    "EntryIntent",
    "Sighting",
    "WindowState",
    "anchor",
    "close",
    "confidence_in",
    "decide",
    "decide_reversal",
    "discovered",
    "entry_blocked",
    "evolve",
    "force_close",
    "granted",
    "initial_state",
    "market_view",
    "min_size",
    "observe_book",
    "observe_spot",
    "positions_of_token",
    "refused",
    "reserve_request",
    "should_abandon_start",
    "should_stop",
    "wants_bankroll",
]

ENTRY = "entry"
REVERSAL = "reversal"
# Timestamps are floats on large epoch values: an update stamped at the open, computed by
# another actor, may land a hair before it.
_EPSILON_S = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """A position this window decided (journaled as EntryDecided)."""

    position_id: str
    outcome: Outcome
    purpose: str  # entry, reversal
    price: Decimal
    size: Decimal
    reservation_id: str
    decided_at: float = 0.0  # when EntryDecided was journaled


@dataclass(frozen=True, slots=True, kw_only=True)
class Anchor:
    """The reference points momentum is measured from (journaled as WindowAnchored)."""

    price_to_beat: Decimal
    open_mid_up: Decimal
    is_exact: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """The first value of something seen at or after the open, and when it was stamped."""

    value: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowState:
    window: MarketWindow
    window_id: str
    # journaled
    is_discovered: bool = False
    anchor: Anchor | None = None
    entries: tuple[Entry, ...] = ()
    last_confidence: Confidence | None = None
    closed_at: float | None = None
    # observed (market data; after a restart the feed's updates rebuild it)
    first_spot: Sighting | None = None
    first_prior: Sighting | None = None
    spot: Decimal | None = None
    spot_at: float | None = None
    up_book: BookSnapshot | None = None
    down_book: BookSnapshot | None = None
    volatility: VolatilityEstimate = field(default_factory=VolatilityEstimate)
    # not journaled: risk keeps its own copy of the cooldown (risk.signal_cooldown_s)
    cooldown_until: float | None = None

    @property
    def stream_id(self) -> str:
        return window_actor(self.window_id)

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def taken(self) -> frozenset[Outcome]:
        """Sides this window entered (or is entering): each at most once per window."""
        return frozenset(e.outcome for e in self.entries)

    @property
    def has_reversed(self) -> bool:
        return any(e.purpose == REVERSAL for e in self.entries)

    @property
    def entry_count(self) -> int:
        return sum(1 for e in self.entries if e.purpose == ENTRY)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryIntent:
    """What the window wants to buy, before risk has granted the capital."""

    position_id: str
    outcome: Outcome
    price: Decimal
    size: Decimal
    purpose: str

    @property
    def amount(self) -> Decimal:
        """Collateral the order needs (fees on buys are taken in shares, not collateral)."""
        return self.price * self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One decision tick: the score to journal (None when the window could not score), and
    either an intent to reserve capital for or the reason it skipped."""

    scored: SignalScored | None
    intent: EntryIntent | None
    skip: Skip | None


def initial_state(window: MarketWindow) -> WindowState:
    return WindowState(window=window, window_id=window_id(window))


def evolve(state: WindowState, event: Event) -> WindowState:
    """Apply one event of the window's own stream."""
    match event:
        case WindowDiscovered():
            return replace(state, is_discovered=True)
        case WindowAnchored(price_to_beat=price_to_beat, open_mid_up=open_mid, exact=exact):
            anchored = Anchor(price_to_beat=price_to_beat, open_mid_up=open_mid, is_exact=exact)
            return replace(state, anchor=anchored)
        case SignalScored(confidence_additive=additive, confidence_bayesian=bayesian):
            confidence = Confidence(additive=additive, bayesian=bayesian)
            return replace(state, last_confidence=confidence)
        case EntryDecided():
            entry = Entry(
                position_id=event.position_id,
                outcome=Outcome(event.outcome),
                purpose=event.purpose,
                price=event.price,
                size=event.size,
                reservation_id=event.reservation_id,
                decided_at=event.ts,
            )
            return replace(state, entries=(*state.entries, entry))
        case WindowClosed(ts=ts):
            return replace(state, closed_at=ts)
        case _:
            msg = f"window {state.window_id}: no evolve case for {type(event).__name__} {event!r}"
            raise TypeError(msg)


# --- journaled facts ----------------------------------------------------------------------------


def discovered(state: WindowState, now: float) -> WindowDiscovered | None:
    """The discovery fact, journaled once at the window's first start."""
    if state.is_discovered:
        return None
    window = state.window
    return WindowDiscovered(
        stream_id=state.stream_id,
        ts=now,
        window_id=state.window_id,
        asset=window.asset,
        timeframe_s=window.timeframe_s,
        start=window.start,
        end=window.end,
        condition_id=window.condition_id,
        up_token=window.up_token,
        down_token=window.down_token,
        slug=window.slug,
        tick_size=window.tick_size,
        min_order_size=window.min_order_size,
    )


def anchor(state: WindowState, now: float, settings: StrategySettings) -> WindowAnchored | None:
    """The anchor, once both the price to beat and the opening UP price have been seen.

    Exact only when both were stamped within `anchor_tolerance_s` of the open: a window first
    seen later would take a later price as its price to beat, so it does not enter.
    """
    if state.anchor is not None or state.first_spot is None or state.first_prior is None:
        return None
    latest_exact = state.window.start + settings.anchor_tolerance_s
    exact = max(state.first_spot.timestamp, state.first_prior.timestamp) <= latest_exact
    return WindowAnchored(
        stream_id=state.stream_id,
        ts=now,
        window_id=state.window_id,
        price_to_beat=state.first_spot.value,
        open_mid_up=state.first_prior.value,
        exact=exact,
    )


def close(state: WindowState, *, winner: Outcome | None, now: float) -> WindowClosed | None:
    """The window's end (winner None: forced, no resolution seen); once."""
    if state.is_closed:
        return None
    return WindowClosed(
        stream_id=state.stream_id,
        ts=now,
        window_id=state.window_id,
        winner=None if winner is None else winner.value,
        traded=bool(state.entries),
    )


def force_close(state: WindowState, now: float, settings: StrategySettings) -> WindowClosed | None:
    """Close a window whose resolution never arrived, `force_close_after_s` after its end."""
    if now < state.window.end + settings.force_close_after_s:
        return None
    return close(state, winner=None, now=now)


# --- observations -------------------------------------------------------------------------------


def observe_spot(state: WindowState, update: SpotUpdate, settings: StrategySettings) -> WindowState:
    """Fold in one reference price of this window's asset (others, and stale ones, ignored)."""
    if update.asset != state.window.asset:
        return state
    if state.spot_at is not None and update.timestamp < state.spot_at:
        return state
    first_spot = state.first_spot
    if first_spot is None and update.timestamp >= state.window.start - _EPSILON_S:
        first_spot = Sighting(value=update.price, timestamp=update.timestamp)
    return replace(
        state,
        spot=update.price,
        spot_at=update.timestamp,
        first_spot=first_spot,
        volatility=observe_price(
            state.volatility,
            price=update.price,
            timestamp=update.timestamp,
            half_life_s=settings.volatility_half_life_s,
        ),
    )


def observe_book(state: WindowState, book: BookSnapshot) -> WindowState:
    """Keep the latest book of either token (other tokens' books are ignored)."""
    if book.token_id == state.window.up_token:
        observed = replace(state, up_book=book)
    elif book.token_id == state.window.down_token:
        observed = replace(state, down_book=book)
    else:
        return state
    if observed.first_prior is None and book.timestamp >= state.window.start - _EPSILON_S:
        prior = market_prior_up(observed.up_book, observed.down_book)
        if prior is not None:
            observed = replace(
                observed, first_prior=Sighting(value=prior, timestamp=book.timestamp)
            )
    return observed


def positions_of_token(state: WindowState, token_id: TokenId) -> tuple[Entry, ...]:
    """The entries holding `token_id`: the positions a change of its book concerns."""
    if token_id == state.window.up_token:
        outcome = Outcome.UP
    elif token_id == state.window.down_token:
        outcome = Outcome.DOWN
    else:
        return ()
    return tuple(e for e in state.entries if e.outcome is outcome)


def confidence_in(
    state: WindowState, outcome: Outcome, settings: StrategySettings
) -> Decimal | None:
    """The latest confidence that `outcome` wins (None before the first score)."""
    if state.last_confidence is None:
        return None
    return state.last_confidence.of(outcome, settings.confidence_model)


# --- decisions ----------------------------------------------------------------------------------


def min_size(state: WindowState, settings: StrategySettings) -> Decimal:
    """Fewest shares an entry may have: the settings' minimum or the market's, the larger."""
    return max(settings.order_size_min, state.window.min_order_size)


def market_view(state: WindowState, now: float, settings: StrategySettings) -> MarketView | Skip:
    """What the strategy needs to score the window now, or why it cannot."""
    if state.anchor is None:
        return Skip(reason="no_anchor", detail="price to beat or opening price not seen yet")
    if state.spot is None or state.spot_at is None:
        return Skip(reason="no_reference", detail="no reference price yet")
    if now - state.spot_at > settings.max_data_age_s:
        return Skip(
            reason="stale_reference",
            detail=f"last reference price {now - state.spot_at:.0f}s old",
        )
    if state.up_book is None or state.down_book is None:
        return Skip(reason="no_books", detail="both tokens' books not seen yet")
    return MarketView(
        now=now,
        end=state.window.end,
        spot=state.spot,
        price_to_beat=state.anchor.price_to_beat,
        open_mid_up=state.anchor.open_mid_up,
        up_book=state.up_book,
        down_book=state.down_book,
        sigma_per_sqrt_s=sigma_per_sqrt_s(
            state.volatility,
            default_annual_volatility=settings.default_annual_volatility,
            min_samples=settings.volatility_min_samples,
        ),
    )


def entry_blocked(state: WindowState, now: float, settings: StrategySettings) -> Blocked | None:
    """Why this window may not enter now, whatever the market says (None: it may)."""
    if state.is_closed:
        return Blocked(reason="closed", detail="the window is closed")
    window = state.window
    blocked = entry_time_gate(now=now, start=window.start, end=window.end, settings=settings)
    if blocked is not None:
        return blocked
    if state.entry_count >= settings.max_entries_per_window:
        return Blocked(
            reason="max_entries",
            detail=f"{state.entry_count} of max_entries_per_window "
            f"{settings.max_entries_per_window} made",
        )
    if state.cooldown_until is not None and now < state.cooldown_until:
        return Blocked(
            reason="cooldown",
            detail=f"risk refused; asking again in {state.cooldown_until - now:.0f}s",
        )
    if state.anchor is None:
        return Blocked(reason="no_anchor", detail="price to beat not seen yet")
    if not state.anchor.is_exact:
        return Blocked(
            reason="inexact_anchor",
            detail="first seen after the open: the price to beat is not known",
        )
    return None


def wants_bankroll(state: WindowState, now: float, settings: StrategySettings) -> bool:
    """Whether a decision now could enter, so the shell should fetch the bankroll for it."""
    return entry_blocked(state, now, settings) is None and isinstance(
        market_view(state, now, settings), MarketView
    )


def decide(
    state: WindowState,
    *,
    now: float,
    bankroll: Decimal | None,
    settings: StrategySettings,
    max_stake: Decimal | None = None,
) -> Decision:
    """One decision tick: score the window, then enter the favoured side or say why not.

    Args:
        bankroll: equity to size against (risk's), None when it could not be had.
        max_stake: most collateral one entry may stake (from risk's daily loss limit).
    """
    if state.is_closed:
        return Decision(scored=None, intent=None, skip=Skip(reason="closed", detail="closed"))
    view = market_view(state, now, settings)
    if isinstance(view, Skip):
        return Decision(scored=None, intent=None, skip=view)
    scored = score_market(view, settings)
    choice: Enter | Skip
    blocked = entry_blocked(state, now, settings)
    if blocked is not None:
        choice = Skip(reason=blocked.reason, detail=blocked.detail)
    elif bankroll is None:
        choice = Skip(reason="no_bankroll", detail="risk did not answer with the equity")
    else:
        choice = choose_entry(
            scored=scored,
            view=view,
            taken=state.taken,
            bankroll=bankroll,
            min_size=min_size(state, settings),
            settings=settings,
            max_stake=max_stake,
        )
    signal = SignalScored(
        stream_id=state.stream_id,
        ts=now,
        window_id=state.window_id,
        confidence_additive=scored.confidence.additive,
        confidence_bayesian=scored.confidence.bayesian,
        fair_value_up=scored.fair_value_up,
        mid_up=scored.mid_up,
        decision="skip" if isinstance(choice, Skip) else f"enter_{choice.outcome.value.lower()}",
        reason=choice.reason if isinstance(choice, Skip) else "gates_passed",
    )
    if isinstance(choice, Skip):
        return Decision(scored=signal, intent=None, skip=choice)
    return Decision(scored=signal, intent=_intent(state, choice, ENTRY), skip=None)


def decide_reversal(
    state: WindowState, request: ReversalRequest, *, now: float, settings: StrategySettings
) -> EntryIntent | Skip:
    """Whether to buy the other side of a losing position: once per window, never a side
    already entered, within the reversal band, and only if the strategy favours it."""
    if state.is_closed:
        return Skip(reason="closed", detail="the window is closed")
    if state.has_reversed:
        return Skip(reason="reversal_used", detail="this window already reversed once")
    losing = next((e for e in state.entries if e.position_id == request.position_id), None)
    if losing is None:
        return Skip(
            reason="unknown_position",
            detail=f"{request.position_id} is not a position of this window",
        )
    if losing.outcome is not request.losing:
        return Skip(
            reason="wrong_side",
            detail=f"{request.position_id} holds {losing.outcome}, not {request.losing}",
        )
    if request.losing.other in state.taken:
        return Skip(reason="side_taken", detail=f"{request.losing.other} already entered")
    window = state.window
    blocked = reversal_time_gate(now=now, start=window.start, end=window.end, settings=settings)
    if blocked is not None:
        return Skip(reason=blocked.reason, detail=blocked.detail)
    view = market_view(state, now, settings)
    if isinstance(view, Skip):
        return view
    choice = choose_reversal(
        scored=score_market(view, settings),
        view=view,
        losing=request.losing,
        losing_size=request.size,
        min_size=min_size(state, settings),
        settings=settings,
    )
    if isinstance(choice, Skip):
        return choice
    return _intent(state, choice, REVERSAL)


def reserve_request(
    state: WindowState, intent: EntryIntent, *, now: float, settings: StrategySettings
) -> Reserve:
    """The capital request for an intent; the owner is the position that will spend it. Risk
    may grant less, but never less than the minimum order at the limit price."""
    return Reserve(
        owner=intent.position_id,
        window_id=state.window_id,
        asset=state.window.asset,
        amount=intent.amount,
        purpose=intent.purpose,
        timestamp=now,
        minimum=min_size(state, settings) * intent.price,
    )


def refused(state: WindowState, now: float, settings: StrategySettings) -> WindowState:
    """Risk refused: do not ask again before `signal_cooldown_s` has passed."""
    return replace(state, cooldown_until=now + settings.signal_cooldown_s)


def granted(
    state: WindowState,
    intent: EntryIntent,
    grant: Granted,
    *,
    now: float,
    settings: StrategySettings,
) -> EntryDecided | Skip:
    """The entry fact once risk granted capital, sized down to what was granted (truncated).

    Its event id is derived from the position id, so the journal stores one entry per
    (window, side) even if a decision were ever sent twice.
    """
    size = min(intent.size, shares_for(amount=grant.amount, price=intent.price))
    smallest = min_size(state, settings)
    if size < smallest:
        return Skip(
            reason="granted_too_small",
            detail=f"{grant.amount} granted buys {size} shares < {smallest}",
        )
    return EntryDecided(
        stream_id=state.stream_id,
        ts=now,
        event_id=f"{state.stream_id}:decided:{intent.position_id}",
        window_id=state.window_id,
        position_id=intent.position_id,
        outcome=intent.outcome.value,
        price=intent.price,
        size=size,
        purpose=intent.purpose,
        reservation_id=grant.reservation_id,
    )


def should_stop(
    state: WindowState, *, now: float, live_positions: int, settings: StrategySettings
) -> bool:
    """A closed window stops once its positions are gone, or `close_grace_s` after closing."""
    if state.closed_at is None:
        return False
    return live_positions == 0 or now >= state.closed_at + settings.close_grace_s


def should_abandon_start(
    state: WindowState, entry: Entry, *, now: float, start_deadline_s: float
) -> str | None:
    """Why to stop trying to start the position of an entry that never ran, or None to try
    again. Past its window's close it has nothing left to trade; past `start_deadline_s` after
    the decision, risk (whose grace for a grant nobody opened is longer) may let its capital go
    any moment, and a position must never trade on capital risk no longer counts."""
    if state.closed_at is not None:
        return f"window {state.window_id} closed before position {entry.position_id} started"
    if now - entry.decided_at >= start_deadline_s:
        return (
            f"position {entry.position_id} did not start within {start_deadline_s:.0f}s of its "
            "entry decision"
        )
    return None


def _intent(state: WindowState, choice: Enter, purpose: str) -> EntryIntent:
    return EntryIntent(
        position_id=position_id(state.window_id, choice.outcome),
        outcome=choice.outcome,
        price=choice.price,
        size=choice.size,
        purpose=purpose,
    )
