"""Risk's decisions, as pure functions: the one place capital is committed (invariant 3).

`decide(book, command, now, settings)` answers a reservation request, a resize, a release, a
manual halt or resume, or the passing of time (`Assess`), and returns the reply and the events
to journal on stream "risk"; `evolve(book, event)` applies one of those events. The actor shell
(actors/risk.py) journals, evolves and performs the effects; after a restart it rebuilds the
book by folding its stream with the same `evolve`, so outstanding reservations survive crashes.

The accounting, and why it is shaped like this:

- `equity` is the book value: the starting collateral plus every realised P&L that positions
  reported when they released their reservations. Open positions count at cost (risk sees no
  marks), so drawdown and the daily loss are realised figures.
- `exposure` is the sum of outstanding reservations: capital committed to positions, whether
  their orders have spent it yet or not. Caps are percentages of equity applied to exposure per
  position (owner), window, asset and in total; `max_concurrent_positions` counts owners.
- The daily loss limit has a pre-trade gate, not only the post-trade alarm (invariant 3): a
  position can lose all it was reserved, so reservations may never exceed what is left of
  today's loss budget, `daily_loss_limit - daily_loss - exposure`. A grant is clipped to that
  like to any cap, so however the open positions end, the day's realised loss stays within its
  limit (as long as no position loses more than it reserved). Without it the limit would only
  be an alarm: one position may hold 25% of equity against a 5% daily limit. Being a fraction
  of the same equity, the budget is always tighter than `equity - exposure`, so only the
  venue's collateral (below) can bind before it. A hedged reversal gets no exemption: it is the
  first step of a stop loss, and when it is refused the position's stop sells the losing side
  instead, which caps the loss just as well. Reservations carried over midnight count against
  the new day's budget. A limit tightened live can leave exposure above the budget; nothing
  more is granted until releases bring it back under.
- New capital is at most `equity - exposure` and at most the venue's last reported collateral.
  The venue's balance lags fills (invariant 10), so it is never trusted alone: a stale, too-high
  balance cannot release capital the book has committed, and a lower one (fees the book does
  not know about) is still respected. Two windows can never spend the same dollar, because every
  grant is decided here, one message at a time, against all outstanding reservations.

States: NORMAL -> DEGRADED (no new entries; a hedged reversal, which is part of the stop loss,
is still allowed within the day's loss budget) -> HALTED (kill switch: nothing is granted; the
shell tells every position with an open entry `CancelEntries`, never touching exit plans or
stops). Escalation is immediate: DEGRADED when the day's realised loss reaches
`daily_loss_limit_pct` of the day's starting equity, or the drawdown from the equity peak
reaches `degraded_drawdown_pct`; HALTED at `halt_drawdown_pct`, or by a manual `Halt`.

Automatic recovery, the one documented reason: DEGRADED returns to NORMAL by itself once neither
of its causes holds any more (in practice: the day's loss resets at 00:00 UTC of the runtime
clock; or profitable settlements brought the drawdown back under the degraded level), and only
after `recovery_cooldown_s` in DEGRADED and at most `max_recoveries_per_day` times per UTC day.
HALTED never recovers by itself: the kill switch fired for a loss the operator must look at, and
only `Resume` clears it (Resume also takes the current equity as the new peak, so an accepted
drawdown does not re-trip at once; it cannot override the day's loss limit).

Per-window signal cooldown: after a refusal, new requests for the same window (except a hedged
reversal) are refused as `signal_cooldown` without re-evaluation for `signal_cooldown_s`; those
refusals do not extend the cooldown, so a window asking too often is not locked out for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, assert_never

from actors.messages import (
    AdoptExposure,
    Granted,
    Halt,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    Resume,
    RiskSnapshot,
    RiskState,
)
from config.settings import RiskSettings
from state.events import Event
from state.fold import rebuild
from state.trading_events import (
    CapitalRefused,
    CapitalReleased,
    CapitalReserved,
    CapitalResized,
    PositionOpened,
    PositionSettled,
    RiskStateChanged,
    WindowClosed,
)

__all__ = [
    "ADOPTED",
    "DAY_S",
    "NO_FACTS",
    "STREAM",
    "Assess",
    "Decision",
    "JournalFacts",
    "Purpose",
    "RefusalReason",
    "Reservation",
    "RiskBook",
    "RiskCommand",
    "StateCause",
    "cause_of",
    "daily_loss",
    "daily_loss_limit",
    "daily_loss_warning",
    "decide",
    "drawdown_pct",
    "evolve",
    "initial_book",
    "journal_facts",
    "observe_balance",
    "owners_with_open_entries",
    "rebuild_book",
    "reservation_id",
    "roll_day",
    "snapshot",
    "stale_releases",
]

STREAM = "risk"
DAY_S = 86_400.0
ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class Purpose(StrEnum):
    """What a reservation funds (every one is a BUY)."""

    ENTRY = "entry"
    SCALEIN = "scalein"
    REVERSAL = "reversal"
    RETRY = "retry"


# A hedged reversal is the first step of the stop loss: refusing it in DEGRADED would leave the
# losing side unhedged, so it is the one purpose DEGRADED and the signal cooldown let through.
PROTECTIVE = frozenset({Purpose.REVERSAL})
# An owner holds at most one of these at a time (one entry per position, invariant 2), so a
# repeated request (an ask that timed out and was sent again) gets the same grant back.
ONE_PER_OWNER = frozenset({Purpose.ENTRY, Purpose.REVERSAL, Purpose.RETRY})


class RefusalReason(StrEnum):
    INVALID_REQUEST = "invalid_request"
    STATE_HALTED = "state_halted"
    STATE_DEGRADED = "state_degraded"
    SIGNAL_COOLDOWN = "signal_cooldown"
    NO_EQUITY = "no_equity"
    MAX_POSITIONS = "max_concurrent_positions"
    MIN_BALANCE = "min_balance"
    BALANCE = "insufficient_balance"
    MAX_POSITION = "max_position"
    MAX_WINDOW = "max_window"
    MAX_ASSET = "max_asset"
    MAX_TOTAL = "max_total_exposure"
    DAILY_LOSS_BUDGET = "daily_loss_budget"
    NOT_RECONCILED = "not_reconciled"  # trading opens after the first reconciliation
    ADOPTED_WINDOW = "adopted_window"  # reconciliation adopted shares in this window


ADOPTED = "adopted"
"""The purpose of a reservation that records shares reconciliation adopted (AdoptExposure)."""

# Refusals that say nothing about the window's signal: no cooldown follows them.
_NO_COOLDOWN = frozenset({"signal_cooldown", "not_reconciled"})


class StateCause(StrEnum):
    """Why risk changed state; `RiskStateChanged.reason` is `"<cause>: <detail>"`."""

    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    DRAWDOWN_HALT = "drawdown_halt"
    MANUAL_HALT = "manual_halt"
    MANUAL_RESUME = "manual_resume"
    RECOVERED = "recovered"


def cause_of(reason: str) -> StateCause | None:
    """The cause code at the front of a `RiskStateChanged.reason` (None: not one of ours)."""
    code = reason.split(":", 1)[0].strip()
    return StateCause(code) if code in StateCause.__members__.values() else None


def reservation_id(owner: str, number: int) -> str:
    """Unique per risk stream (`number` counts every grant ever made), readable in SQL, and
    never mistaken for a client order id (which has four "/"-separated parts)."""
    return f"{owner}/reservation-{number}"


# --- the book ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    reservation_id: str
    owner: str  # position id
    window_id: str
    asset: str
    amount: Decimal
    purpose: str
    # True from the grant until a resize says the funded order is over: the kill switch's list.
    is_entry_open: bool
    reserved_at: float = 0.0  # when it was granted: an owner that never opens is let go later


def _no_refusals() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskBook:
    """Everything risk knows: the fold of its stream plus the venue's last reported balance."""

    starting_equity: Decimal
    realized_total: Decimal = ZERO
    peak_equity: Decimal  # high-water mark of equity (reset to equity by a manual Resume)
    collateral: Decimal | None = None  # the venue's last report; None until one arrives
    reservations: tuple[Reservation, ...] = ()
    granted_count: int = 0  # every reservation ever granted: numbers the next id
    state: RiskState = RiskState.NORMAL
    state_reason: str = ""
    state_since: float = 0.0
    day_start: float = 0.0  # 00:00 UTC of the day the figures below belong to
    day_start_equity: Decimal
    realized_today: Decimal = ZERO
    recoveries_today: int = 0
    refusals: int = 0
    # Window id -> time of its last refusal (read-only; evolve builds a new one).
    last_refusal_at: Mapping[str, float] = field(default_factory=_no_refusals)
    # Why new entries may not be funded yet (None: they may). An observation like `collateral`:
    # the shell closes it at start until the first reconciliation of the run succeeded.
    trading_closed: str | None = None

    @property
    def equity(self) -> Decimal:
        return self.starting_equity + self.realized_total

    @property
    def exposure(self) -> Decimal:
        return sum((r.amount for r in self.reservations), ZERO)

    @property
    def owners(self) -> frozenset[str]:
        return frozenset(r.owner for r in self.reservations)

    def find(self, reservation_id: str) -> Reservation | None:
        return next((r for r in self.reservations if r.reservation_id == reservation_id), None)


def initial_book(starting_equity: Decimal) -> RiskBook:
    """The book before any event. Its day is rolled to the first event's (or now's) day."""
    return RiskBook(
        starting_equity=starting_equity,
        peak_equity=starting_equity,
        day_start_equity=starting_equity,
    )


def rebuild_book(starting_equity: Decimal, events: Iterable[Event]) -> RiskBook:
    """The book after the stream `events` (what a restarted risk actor starts from)."""
    return rebuild(events, initial_book(starting_equity), evolve)


def _day_of(ts: float) -> float:
    return (ts // DAY_S) * DAY_S  # epoch days start at 00:00 UTC


def roll_day(book: RiskBook, now: float) -> RiskBook:
    """Start a new UTC day if `now` is in one: today's loss and recoveries restart from zero and
    the day's starting equity is the equity at the turn. Never goes back to an earlier day."""
    day = _day_of(now)
    if day <= book.day_start:
        return book
    # A cooldown is seconds long; keeping a day of history is ample and keeps the map bounded.
    kept = {w: t for w, t in book.last_refusal_at.items() if t >= day - DAY_S}
    return replace(
        book,
        day_start=day,
        day_start_equity=book.equity,
        realized_today=ZERO,
        recoveries_today=0,
        last_refusal_at=MappingProxyType(kept),
    )


def observe_balance(book: RiskBook, collateral: Decimal) -> RiskBook:
    """Record the venue's collateral balance (not journaled: the venue is its source)."""
    return replace(book, collateral=collateral)


# --- evolve --------------------------------------------------------------------------------------


def evolve(book: RiskBook, event: Event) -> RiskBook:
    """Apply one journaled risk event. Raises on an event that contradicts the book (a bug)."""
    book = roll_day(book, event.ts)
    match event:
        case CapitalReserved():
            reservation = Reservation(
                reservation_id=event.reservation_id,
                owner=event.owner,
                window_id=event.window_id,
                asset=event.asset,
                amount=event.amount,
                purpose=event.purpose,
                is_entry_open=True,
                reserved_at=event.ts,
            )
            return replace(
                book,
                reservations=(*book.reservations, reservation),
                granted_count=book.granted_count + 1,
            )
        case CapitalResized():
            _require(book, event.reservation_id, event)
            return replace(
                book,
                reservations=tuple(
                    replace(r, amount=event.amount, is_entry_open=False)
                    if r.reservation_id == event.reservation_id
                    else r
                    for r in book.reservations
                ),
            )
        case CapitalReleased():
            _require(book, event.reservation_id, event)
            realized_total = book.realized_total + event.realized_pnl
            return replace(
                book,
                reservations=tuple(
                    r for r in book.reservations if r.reservation_id != event.reservation_id
                ),
                realized_total=realized_total,
                realized_today=book.realized_today + event.realized_pnl,
                peak_equity=max(book.peak_equity, book.starting_equity + realized_total),
            )
        case CapitalRefused():
            if event.reason in _NO_COOLDOWN:
                return replace(book, refusals=book.refusals + 1)
            refused_at = {**book.last_refusal_at, event.window_id: event.ts}
            return replace(
                book, refusals=book.refusals + 1, last_refusal_at=MappingProxyType(refused_at)
            )
        case RiskStateChanged():
            cause = cause_of(event.reason)
            return replace(
                book,
                state=RiskState(event.new),
                state_reason=event.reason,
                state_since=event.ts,
                recoveries_today=book.recoveries_today
                + (1 if cause is StateCause.RECOVERED else 0),
                peak_equity=book.equity if cause is StateCause.MANUAL_RESUME else book.peak_equity,
            )
        case _:
            msg = f"risk stream holds an event risk does not journal: {type(event).__name__} {event!r}"
            raise TypeError(msg)


def _require(book: RiskBook, reservation_id: str, event: Event) -> None:
    if book.find(reservation_id) is None:
        msg = (
            f"{type(event).__name__} {event.event_id} names reservation {reservation_id!r}, "
            "which is not outstanding"
        )
        raise ValueError(msg)


# --- figures -------------------------------------------------------------------------------------


def daily_loss(book: RiskBook) -> Decimal:
    """Today's realised loss (0 when the day is in profit)."""
    return max(ZERO, -book.realized_today)


def daily_loss_limit(book: RiskBook, settings: RiskSettings) -> Decimal:
    return max(ZERO, book.day_start_equity * settings.daily_loss_limit_pct / HUNDRED)


def _is_daily_loss_breached(book: RiskBook, settings: RiskSettings) -> bool:
    limit = daily_loss_limit(book, settings)
    # A day that starts with no equity has no loss budget at all.
    return limit <= 0 or daily_loss(book) >= limit


def drawdown_pct(book: RiskBook) -> Decimal:
    """How far equity is below its peak, in percent of the peak (100 once nothing is left)."""
    if book.peak_equity <= 0:
        return ZERO if book.equity >= book.peak_equity else HUNDRED
    return max(ZERO, (book.peak_equity - book.equity) * HUNDRED / book.peak_equity)


def daily_loss_warning(book: RiskBook, now: float, settings: RiskSettings) -> str | None:
    """A warning text once today's loss reaches `daily_loss_warning_fraction` of the limit."""
    book = roll_day(book, now)
    limit = daily_loss_limit(book, settings)
    loss = daily_loss(book)
    if loss <= 0 or loss < limit * settings.daily_loss_warning_fraction:
        return None
    return (
        f"today's realised loss {loss} is {_pct(loss, limit)}% of the daily loss limit {limit} "
        f"({settings.daily_loss_limit_pct}% of the day's starting equity {book.day_start_equity})"
    )


def owners_with_open_entries(book: RiskBook) -> tuple[str, ...]:
    """Position ids whose funded entry order may still be live: the kill switch's targets."""
    return tuple(sorted({r.owner for r in book.reservations if r.is_entry_open}))


def snapshot(book: RiskBook, now: float, settings: RiskSettings) -> RiskSnapshot:
    book = roll_day(book, now)
    free = max(ZERO, book.equity - book.exposure)
    return RiskSnapshot(
        state=book.state,
        equity=book.equity,
        # Before the venue's first report, what the book says is free.
        collateral=book.collateral if book.collateral is not None else free,
        exposure=book.exposure,
        reservations=len(book.reservations),
        realized_pnl_today=book.realized_today,
        refusals=book.refusals,
        open_positions=len(book.owners),
        drawdown_pct=drawdown_pct(book).quantize(CENT, rounding=ROUND_DOWN),
        daily_loss_limit=daily_loss_limit(book, settings),
        state_reason=book.state_reason,
    )


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return HUNDRED
    return (part * HUNDRED / whole).quantize(CENT, rounding=ROUND_DOWN)


# --- decide --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Assess:
    """Time passed or the thresholds changed: apply the state transitions now due."""


RiskCommand: TypeAlias = (
    Reserve | AdoptExposure | ResizeReservation | ReleaseReservation | Halt | Resume | Assess
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to answer, what to journal (in order), and what to log."""

    reply: Granted | Refused | RiskState | None
    events: tuple[Event, ...]
    notes: tuple[str, ...] = ()


def decide(book: RiskBook, command: RiskCommand, now: float, settings: RiskSettings) -> Decision:
    """Decide one command at `now`. Pure: the caller journals `events` and evolves the book.

    Every command first applies the state transitions due at `now` (so a request just after
    00:00 UTC sees the new day), and every command that changes the book is followed by them
    again (a release that crosses the daily loss limit degrades in the same decision).
    """
    book = roll_day(book, now)
    before = _transitions(book, now, settings)
    book = _apply(book, before)
    notes: tuple[str, ...] = ()
    reply: Granted | Refused | RiskState | None = None
    match command:
        case Reserve():
            reply, events = _reserve(book, command, now, settings)
        case AdoptExposure():
            reply, events = _adopt(book, command, now)
        case ResizeReservation():
            events, notes = _resize(book, command, now)
        case ReleaseReservation():
            events, notes = _release(book, command, now)
        case Halt(reason=reason):
            events = _halt(book, reason, now)
        case Resume(reason=reason):
            events, notes = _resume(book, reason, now, settings)
        case Assess():
            events = ()
        case _:
            assert_never(command)
    book = _apply(book, events)
    after = _transitions(book, now, settings)
    book = _apply(book, after)
    if isinstance(command, Halt | Resume):
        reply = book.state
    return Decision(reply=reply, events=(*before, *events, *after), notes=notes)


def _apply(book: RiskBook, events: Iterable[Event]) -> RiskBook:
    return rebuild(events, book, evolve)


def _change(book: RiskBook, new: RiskState, cause: StateCause, detail: str, now: float) -> Event:
    return RiskStateChanged(
        stream_id=STREAM, ts=now, old=book.state.value, new=new.value, reason=f"{cause}: {detail}"
    )


def _transitions(book: RiskBook, now: float, settings: RiskSettings) -> tuple[Event, ...]:
    if book.state is RiskState.HALTED:
        return ()  # only a manual Resume leaves HALTED
    drawdown = drawdown_pct(book)
    if drawdown >= settings.halt_drawdown_pct:
        detail = (
            f"equity {book.equity} is {drawdown.quantize(CENT, rounding=ROUND_DOWN)}% below its "
            f"peak {book.peak_equity} (halt at {settings.halt_drawdown_pct}%)"
        )
        return (_change(book, RiskState.HALTED, StateCause.DRAWDOWN_HALT, detail, now),)
    causes = _degrading_causes(book, settings)
    if book.state is RiskState.NORMAL and causes:
        cause, detail = causes[0]
        return (_change(book, RiskState.DEGRADED, cause, detail, now),)
    if book.state is RiskState.DEGRADED and not causes:
        if now - book.state_since < settings.recovery_cooldown_s:
            return ()
        if book.recoveries_today >= settings.max_recoveries_per_day:
            return ()
        detail = (
            f"daily loss {daily_loss(book)} under its limit {daily_loss_limit(book, settings)} "
            f"and drawdown {drawdown.quantize(CENT, rounding=ROUND_DOWN)}% under "
            f"{settings.degraded_drawdown_pct}%, after {now - book.state_since:.0f}s in DEGRADED "
            f"(recovery {book.recoveries_today + 1} of {settings.max_recoveries_per_day} today)"
        )
        return (_change(book, RiskState.NORMAL, StateCause.RECOVERED, detail, now),)
    return ()


def _degrading_causes(book: RiskBook, settings: RiskSettings) -> list[tuple[StateCause, str]]:
    causes: list[tuple[StateCause, str]] = []
    if _is_daily_loss_breached(book, settings):
        causes.append(
            (
                StateCause.DAILY_LOSS,
                f"today's realised loss {daily_loss(book)} reached the limit "
                f"{daily_loss_limit(book, settings)} ({settings.daily_loss_limit_pct}% of "
                f"the day's starting equity {book.day_start_equity})",
            )
        )
    drawdown = drawdown_pct(book)
    if drawdown >= settings.degraded_drawdown_pct:
        causes.append(
            (
                StateCause.DRAWDOWN,
                f"equity {book.equity} is {drawdown.quantize(CENT, rounding=ROUND_DOWN)}% below "
                f"its peak {book.peak_equity} (degraded at {settings.degraded_drawdown_pct}%)",
            )
        )
    return causes


def _reserve(
    book: RiskBook, request: Reserve, now: float, settings: RiskSettings
) -> tuple[Granted | Refused, tuple[Event, ...]]:
    problem = _invalid(request)
    if problem is not None:
        return _refuse(request, RefusalReason.INVALID_REQUEST, problem, now)
    if request.purpose in ONE_PER_OWNER:
        held = next(
            (
                r
                for r in book.reservations
                if r.owner == request.owner and r.purpose == request.purpose
            ),
            None,
        )
        if held is not None:
            return Granted(reservation_id=held.reservation_id, amount=held.amount), ()
    gate = _gate(book, request, now, settings)
    if gate is not None:
        return _refuse(request, *gate, now)
    amount, binding = _grantable(book, request, settings)
    floor = max(request.minimum, CENT)
    if amount < floor:
        reason, detail = binding if binding is not None else (RefusalReason.BALANCE, "")
        detail = f"{detail}; asked {request.amount}, at most {amount} left, minimum {floor}"
        return _refuse(request, reason, detail, now)
    granted = Granted(
        reservation_id=reservation_id(request.owner, book.granted_count + 1), amount=amount
    )
    return granted, (
        CapitalReserved(
            stream_id=STREAM,
            ts=now,
            reservation_id=granted.reservation_id,
            owner=request.owner,
            window_id=request.window_id,
            asset=request.asset,
            amount=granted.amount,
            purpose=request.purpose,
        ),
    )


def _adopt(book: RiskBook, request: AdoptExposure, now: float) -> tuple[Granted, tuple[Event, ...]]:
    """Shares the wallet holds without a reservation: always recorded (the money is spent;
    refusing would not unspend it), so every cap counts them from now on. Once per owner."""
    held = next(
        (r for r in book.reservations if r.owner == request.owner and r.purpose == ADOPTED), None
    )
    if held is not None:
        return Granted(reservation_id=held.reservation_id, amount=held.amount), ()
    amount = max(request.amount, ZERO)
    granted = Granted(
        reservation_id=reservation_id(request.owner, book.granted_count + 1), amount=amount
    )
    return granted, (
        CapitalReserved(
            stream_id=STREAM,
            ts=now,
            reservation_id=granted.reservation_id,
            owner=request.owner,
            window_id=request.window_id,
            asset=request.asset,
            amount=amount,
            purpose=ADOPTED,
        ),
    )


def _invalid(request: Reserve) -> str | None:
    if request.purpose not in Purpose.__members__.values():
        known = ", ".join(p.value for p in Purpose)
        return f"purpose {request.purpose!r} is not one of {known}"
    if not request.amount.is_finite() or request.amount <= 0:
        return f"amount {request.amount} must be a positive number"
    if not request.minimum.is_finite() or request.minimum < 0 or request.minimum > request.amount:
        return f"minimum {request.minimum} must be between 0 and the amount {request.amount}"
    if not request.owner or not request.window_id or not request.asset:
        return f"owner {request.owner!r}, window {request.window_id!r} and asset {request.asset!r} are all needed"
    return None


def _gate(
    book: RiskBook, request: Reserve, now: float, settings: RiskSettings
) -> tuple[RefusalReason, str] | None:
    """The refusals that do not depend on the amount."""
    is_protective = request.purpose in PROTECTIVE
    if book.trading_closed is not None and not is_protective:
        return RefusalReason.NOT_RECONCILED, book.trading_closed
    adopted = next(
        (
            r
            for r in book.reservations
            if r.purpose == ADOPTED
            and r.window_id == request.window_id
            and r.owner != request.owner
        ),
        None,
    )
    if adopted is not None and not is_protective:
        # Two positions on one token would read one wallet balance and heal against each other.
        return RefusalReason.ADOPTED_WINDOW, (
            f"window {request.window_id} holds adopted shares ({adopted.owner}); no new entries"
        )
    if book.state is RiskState.HALTED:
        return RefusalReason.STATE_HALTED, f"kill switch on ({book.state_reason})"
    if book.state is RiskState.DEGRADED and not is_protective:
        return RefusalReason.STATE_DEGRADED, f"no new entries ({book.state_reason})"
    refused_at = book.last_refusal_at.get(request.window_id)
    if (
        not is_protective
        and refused_at is not None
        and now - refused_at < settings.signal_cooldown_s
    ):
        return RefusalReason.SIGNAL_COOLDOWN, (
            f"window {request.window_id} was refused at {refused_at:.0f}; no re-evaluation "
            f"until {refused_at + settings.signal_cooldown_s:.0f}"
        )
    if book.equity <= 0:
        return RefusalReason.NO_EQUITY, f"equity is {book.equity}"
    owners = book.owners
    if request.owner not in owners and len(owners) >= settings.max_concurrent_positions:
        return RefusalReason.MAX_POSITIONS, (
            f"{len(owners)} positions hold capital, the most allowed is "
            f"{settings.max_concurrent_positions}"
        )
    free = _free(book)
    if free < settings.min_balance_to_trade:
        return RefusalReason.MIN_BALANCE, (
            f"free balance {free} is under the minimum to trade {settings.min_balance_to_trade}"
        )
    return None


def _free(book: RiskBook) -> Decimal:
    free = book.equity - book.exposure
    if book.collateral is not None:
        free = min(free, book.collateral)
    return free


def _grantable(
    book: RiskBook, request: Reserve, settings: RiskSettings
) -> tuple[Decimal, tuple[RefusalReason, str] | None]:
    """The largest grant up to `request.amount`, and the limit that clipped it (if any).

    The daily loss budget binds every purpose, a hedged reversal included (see the module
    docstring): a refused reversal leaves the stop loss to sell the losing side.
    """
    equity = book.equity
    loss_limit = daily_loss_limit(book, settings)
    loss_today = daily_loss(book)

    def used(selector: str, key: str) -> Decimal:
        return sum((r.amount for r in book.reservations if getattr(r, selector) == key), ZERO)

    def cap(pct: Decimal) -> Decimal:
        return equity * pct / HUNDRED

    collateral_note = "" if book.collateral is None else f", venue collateral {book.collateral}"
    limits = (
        (
            RefusalReason.BALANCE,
            _free(book),
            f"equity {equity} less reserved {book.exposure}{collateral_note}",
        ),
        (
            RefusalReason.MAX_POSITION,
            cap(settings.max_position_pct) - used("owner", request.owner),
            f"position {request.owner} holds {used('owner', request.owner)} of its cap "
            f"{cap(settings.max_position_pct)} ({settings.max_position_pct}% of equity {equity})",
        ),
        (
            RefusalReason.MAX_WINDOW,
            cap(settings.max_window_pct) - used("window_id", request.window_id),
            f"window {request.window_id} holds {used('window_id', request.window_id)} of its cap "
            f"{cap(settings.max_window_pct)} ({settings.max_window_pct}% of equity {equity})",
        ),
        (
            RefusalReason.MAX_ASSET,
            cap(settings.max_asset_pct) - used("asset", request.asset),
            f"asset {request.asset} holds {used('asset', request.asset)} of its cap "
            f"{cap(settings.max_asset_pct)} ({settings.max_asset_pct}% of equity {equity})",
        ),
        (
            RefusalReason.MAX_TOTAL,
            cap(settings.max_total_exposure_pct) - book.exposure,
            f"total exposure {book.exposure} of its cap {cap(settings.max_total_exposure_pct)} "
            f"({settings.max_total_exposure_pct}% of equity {equity})",
        ),
        (
            # Everything reserved may still be lost: it must fit in what today may still lose.
            RefusalReason.DAILY_LOSS_BUDGET,
            loss_limit - loss_today - book.exposure,
            f"today's realised loss {loss_today} and reserved {book.exposure} leave "
            f"{max(ZERO, loss_limit - loss_today - book.exposure)} of the daily loss limit "
            f"{loss_limit} ({settings.daily_loss_limit_pct}% of the day's starting equity "
            f"{book.day_start_equity})",
        ),
    )
    reason, headroom, detail = min(limits, key=lambda limit: limit[1])
    if headroom >= request.amount:
        return request.amount, None
    # Clipped: whole cents, rounded down, so the clip can never exceed the limit.
    amount = max(ZERO, headroom).quantize(CENT, rounding=ROUND_DOWN)
    return amount, (reason, detail)


def _refuse(
    request: Reserve, reason: RefusalReason, detail: str, now: float
) -> tuple[Refused, tuple[Event, ...]]:
    return Refused(reason=reason.value, detail=detail), (
        CapitalRefused(
            stream_id=STREAM,
            ts=now,
            owner=request.owner,
            window_id=request.window_id,
            amount=request.amount,
            reason=reason.value,
            detail=detail,
        ),
    )


def _resize(
    book: RiskBook, command: ResizeReservation, now: float
) -> tuple[tuple[Event, ...], tuple[str, ...]]:
    held = book.find(command.reservation_id)
    if held is None:
        # A resize sent again after its release (a restarted position): nothing to change.
        return (), (
            f"resize of reservation {command.reservation_id!r}, which is not outstanding, ignored",
        )
    if not command.amount.is_finite() or command.amount < 0:
        return (), (
            f"resize of reservation {command.reservation_id!r} to {command.amount} ignored: "
            "an amount cannot be negative",
        )
    notes: tuple[str, ...] = ()
    if command.amount > held.amount:
        # A fact about money already spent: recorded as it is, so exposure stays true, and
        # reported, because capital was spent that risk never granted.
        notes = (
            f"reservation {command.reservation_id!r} of {held.owner} grew from {held.amount} to "
            f"{command.amount}: more was spent than risk granted",
        )
    event = CapitalResized(
        stream_id=STREAM, ts=now, reservation_id=command.reservation_id, amount=command.amount
    )
    return (event,), notes


def _release(
    book: RiskBook, command: ReleaseReservation, now: float
) -> tuple[tuple[Event, ...], tuple[str, ...]]:
    if book.find(command.reservation_id) is None:
        # Counting its P&L again would count a loss twice.
        return (), (
            f"release of reservation {command.reservation_id!r} (pnl {command.realized_pnl}), "
            "which is not outstanding, ignored",
        )
    if not command.realized_pnl.is_finite():
        msg = (
            f"release of {command.reservation_id!r} carries a non-finite pnl {command.realized_pnl}"
        )
        raise ValueError(msg)
    event = CapitalReleased(
        stream_id=STREAM,
        ts=now,
        reservation_id=command.reservation_id,
        realized_pnl=command.realized_pnl,
    )
    return (event,), ()


def _halt(book: RiskBook, reason: str, now: float) -> tuple[Event, ...]:
    if book.state is RiskState.HALTED:
        return ()
    return (_change(book, RiskState.HALTED, StateCause.MANUAL_HALT, reason, now),)


def _resume(
    book: RiskBook, reason: str, now: float, settings: RiskSettings
) -> tuple[tuple[Event, ...], tuple[str, ...]]:
    if book.state is RiskState.NORMAL:
        return (), ()
    if _is_daily_loss_breached(book, settings):
        if book.state is RiskState.DEGRADED:
            return (), (
                f"resume ({reason}) leaves risk DEGRADED: today's loss {daily_loss(book)} is "
                f"at its limit {daily_loss_limit(book, settings)} until 00:00 UTC",
            )
        detail = f"{reason}; today's loss {daily_loss(book)} keeps new entries closed"
        return (_change(book, RiskState.DEGRADED, StateCause.MANUAL_RESUME, detail, now),), ()
    return (_change(book, RiskState.NORMAL, StateCause.MANUAL_RESUME, reason, now),), ()


# --- reconciliation with the journal ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalFacts:
    """What the other streams say about the owners and windows of outstanding reservations."""

    # Owner (position id) -> the reservation its PositionOpened names (the one its P&L goes to).
    opened: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Owner -> the realised P&L of its PositionSettled.
    settled: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    closed_windows: frozenset[str] = frozenset()


NO_FACTS = JournalFacts()


def journal_facts(events: Iterable[Event], known: JournalFacts = NO_FACTS) -> JournalFacts:
    """Fold the PositionOpened, PositionSettled and WindowClosed events risk reconciles with
    onto what is `known` (any other event is ignored: the shell asks for these only). Facts
    only accumulate, so the shell reads each event once."""
    opened = dict(known.opened)
    settled = dict(known.settled)
    closed = set(known.closed_windows)
    for event in events:
        match event:
            case PositionOpened():
                opened[event.position_id] = event.reservation_id
            case PositionSettled():
                settled[event.position_id] = event.realized_pnl
            case WindowClosed():
                closed.add(event.window_id)
            case _:
                pass
    return JournalFacts(
        opened=MappingProxyType(opened),
        settled=MappingProxyType(settled),
        closed_windows=frozenset(closed),
    )


def stale_releases(
    book: RiskBook, facts: JournalFacts, now: float, orphan_grace_s: float | None
) -> tuple[tuple[ReleaseReservation, str], ...]:
    """The releases risk owes itself, each with why: the ones a position's tell never delivered.

    - The owner settled (its PositionSettled is durable before its release is sent, so a
      release lost with a dead or restarting risk is still known): the reservation its
      PositionOpened names is released with the settlement's realised P&L, its scale-ins with
      0, exactly what the position sends. Without this the loss never reaches the daily gate.
    - The owner never opened, and its window closed, or `orphan_grace_s` passed since the
      grant (a Reserve ask that timed out for the window but was granted here; an entry whose
      position never started): released with 0, nothing was spent. The window gives up
      starting such a position well before this grace, so no position trades on it later.

    Releasing is idempotent: a release of what is no longer outstanding is ignored by `decide`.
    """
    releases: list[tuple[ReleaseReservation, str]] = []
    for r in book.reservations:
        pnl = facts.settled.get(r.owner)
        if pnl is not None:
            # Its P&L goes once, to the reservation its PositionOpened names (the first one
            # it holds if that fact is missing).
            main = facts.opened.get(r.owner) or next(
                x.reservation_id for x in book.reservations if x.owner == r.owner
            )
            is_main = main == r.reservation_id
            releases.append(
                (
                    ReleaseReservation(
                        reservation_id=r.reservation_id,
                        realized_pnl=pnl if is_main else ZERO,
                        timestamp=now,
                    ),
                    f"position {r.owner} settled with pnl {pnl} but its release never arrived",
                )
            )
            continue
        if r.owner in facts.opened:
            continue
        why = None
        if r.window_id in facts.closed_windows:
            why = f"window {r.window_id} closed and position {r.owner} never opened"
        elif orphan_grace_s is not None and now - r.reserved_at >= orphan_grace_s:
            why = (
                f"position {r.owner} has not opened {now - r.reserved_at:.0f}s after the grant "
                f"(grace {orphan_grace_s:.0f}s)"
            )
        if why is not None:
            releases.append(
                (
                    ReleaseReservation(
                        reservation_id=r.reservation_id, realized_pnl=ZERO, timestamp=now
                    ),
                    why,
                )
            )
    return tuple(releases)
