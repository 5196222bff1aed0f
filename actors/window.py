"""The window actor: one per market window, a thin shell over `state.window`.

It keeps both tokens' books and the asset's reference price from the feed, scores the window
on its own timer, asks risk for capital, journals the entry durably and then asks the
"positions" supervisor to start the position actor that owns the entry's orders from then on.
It forwards each book change to the positions holding that token, answers their reversal
requests, follows the resolution and stops itself when its positions are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Protocol, TypeAlias

from actors.journal import Append, AppendDurable, read_stream
from actors.messages import (
    BookUpdate,
    GetRiskSnapshot,
    Granted,
    MarketUpdate,
    Outcome,
    Refused,
    ReleaseReservation,
    ReversalRequest,
    RiskSnapshot,
    SpotUpdate,
    WindowOpened,
    WindowResolved,
    position_actor,
)
from runtime.api import Actor, ActorDead, AskTimeout, Timer
from runtime.logs import ActorLogger, actor_logger
from state.events import Event
from state.fold import rebuild
from state.trading_events import EntryDecided, WindowClosed
from state.window import (
    Entry,
    EntryIntent,
    WindowState,
    anchor,
    close,
    confidence_in,
    decide,
    decide_reversal,
    discovered,
    evolve,
    force_close,
    granted,
    initial_state,
    observe_book,
    observe_spot,
    positions_of_token,
    refused,
    reserve_request,
    should_abandon_start,
    should_stop,
    wants_bankroll,
)
from strategy.entry import Skip
from strategy.settings import StrategySettings
from supervisors import ChildSpec, Restart, StartChild, StartRefused
from venues.types import BookSnapshot, MarketWindow

__all__ = ["PositionStart", "WindowActor", "WindowCommand", "default_position_start"]

_ALREADY_EXISTS = "a child with this id already exists"


class PositionStart(Protocol):
    """Builds the position actor of one entry (the `start` of its child spec). The tree passes
    `functools.partial(PositionActor, settings=position_settings)`."""

    def __call__(
        self,
        *,
        position_id: str,
        window: MarketWindow,
        outcome: Outcome,
        reservation_id: str,
        entry_price: Decimal,
        entry_size: Decimal,
        purpose: str,
    ) -> Actor: ...


def default_position_start(
    *,
    position_id: str,
    window: MarketWindow,
    outcome: Outcome,
    reservation_id: str,
    entry_price: Decimal,
    entry_size: Decimal,
    purpose: str,
) -> Actor:
    """The real position actor with default position settings (the tree passes its own)."""
    # Imported when a position starts, not when windows load: the position actor is its own
    # module with its own dependencies, and window tests run without it.
    from actors.position import PositionActor  # noqa: PLC0415
    from state.position import PositionSettings  # noqa: PLC0415

    actor: Actor = PositionActor(
        position_id=position_id,
        window=window,
        outcome=outcome,
        reservation_id=reservation_id,
        entry_price=entry_price,
        entry_size=entry_size,
        purpose=purpose,
        settings=PositionSettings(),
    )
    return actor


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tick:
    """The window's own timer: decide (while open), force-close, or stop (once closed)."""


WindowCommand: TypeAlias = (
    WindowOpened | BookUpdate | SpotUpdate | WindowResolved | ReversalRequest | _Tick
)


class WindowActor(Actor):
    """One market window: signals, entries, reversals, the window's lifecycle.

    Accepts:
        WindowOpened, BookUpdate, SpotUpdate, WindowResolved: tells from the feed.
        ReversalRequest: tell from one of its positions; at most one reversal per window.
        _Tick: its own timer, every `decision_interval_s`.

    Emits:
        Journal (stream `window/<window_id>`): WindowDiscovered at its first start,
        WindowAnchored once the open is seen, SignalScored every decision tick it can score,
        EntryDecided (durably, before the position starts), WindowClosed.
        Reserve (ask) and ReleaseReservation to "risk"; GetRiskSnapshot (ask) for the bankroll;
        StartChild (ask) to "positions"; MarketUpdate and WindowResolved to its positions.

    A crash loses only market data (books, reference price, volatility), which the feed sends
    again, and the refusal cooldown, which risk enforces on its own. The next incarnation folds
    its stream, so it knows the sides it entered and never enters them again (invariant 2),
    and starts the position of any entry it journaled whose position never ran.

    A position that does not start (StartChild unanswered or refused) is tried again every
    tick. Once its window has closed, or `position_start_deadline_s` after the entry decision
    (shorter than risk's grace for grants nobody opened), the entry is given up and its
    reservation released to risk with P&L 0: the capital is not locked, and no position ever
    trades on capital risk has let go.
    """

    def __init__(
        self,
        *,
        window: MarketWindow,
        settings: StrategySettings,
        position_start: PositionStart = default_position_start,
        journal: str = "journal",
        risk: str = "risk",
        positions: str = "positions",
        ask_timeout_s: float = 5.0,
        position_start_deadline_s: float = 60.0,
    ) -> None:
        for name, value in (
            ("ask_timeout_s", ask_timeout_s),
            ("position_start_deadline_s", position_start_deadline_s),
        ):
            if not value > 0:
                msg = f"WindowActor {name} must be > 0, got {value!r}"
                raise ValueError(msg)
        self._settings = settings
        self._position_start = position_start
        self._journal = journal
        self._risk = risk
        self._positions = positions
        self._ask_timeout_s = ask_timeout_s
        self._position_start_deadline_s = position_start_deadline_s
        self._state: WindowState = initial_state(window)
        # Entries whose position has not started yet (StartChild unanswered or refused): tried
        # again every tick until it starts, or given up with their capital released.
        self._unstarted: dict[str, Entry] = {}
        self._timer: Timer | None = None
        self._log: ActorLogger | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def on_start(self) -> None:
        self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        journal = self.ctx.runtime.address(self._journal)
        events = read_stream(journal, self._state.stream_id, timeout_s=self._ask_timeout_s)
        self._state = rebuild(events, self._state, evolve)
        fact = discovered(self._state, self.ctx.clock.now())
        if fact is not None:
            self._journal_told(fact)
        for entry in self._state.entries:
            # A position that never journaled anything never ran: the previous incarnation
            # died between journaling the entry and starting it. Started ones are their
            # supervisor's business (a settled one must not be started again).
            if not self._has_position_run(entry):
                self._start_or_abandon(entry)
        self._logger().info(
            "window_started",
            events=len(events),
            entries=",".join(e.position_id for e in self._state.entries) or "none",
            closed=self._state.is_closed,
        )
        self._schedule_tick()

    def on_stop(self) -> None:
        self._cancel_timer()

    def on_crash(self) -> None:
        self._cancel_timer()

    def receive(self, message: object) -> object:
        match message:
            case BookUpdate(book=book):
                self._on_book(book)
            case SpotUpdate():
                self._state = observe_spot(self._state, message, self._settings)
                self._anchor_if_ready()
            case WindowOpened(window=window):
                self._logger().debug("window_opened", condition_id=window.condition_id)
            case WindowResolved():
                self._on_resolved(message)
            case ReversalRequest():
                self._on_reversal_request(message)
            case _Tick():
                self._on_tick()
            case _:
                return super().receive(message)
        return None

    # --- handlers -------------------------------------------------------------------------------

    def _on_book(self, book: BookSnapshot) -> None:
        self._state = observe_book(self._state, book)
        self._anchor_if_ready()
        holders = positions_of_token(self._state, book.token_id)
        if not holders:
            return
        now = self.ctx.clock.now()
        for entry in holders:
            confidence = confidence_in(self._state, entry.outcome, self._settings)
            update = MarketUpdate(book=book, confidence=confidence, timestamp=now)
            self._tell_position(entry, update, must_arrive=False)

    def _on_tick(self) -> None:
        now = self.ctx.clock.now()
        state, settings = self._state, self._settings
        for entry in tuple(self._unstarted.values()):
            self._start_or_abandon(entry)
        if state.is_closed:
            live = sum(1 for e in state.entries if self._is_position_alive(e))
            if should_stop(state, now=now, live_positions=live, settings=settings):
                self._logger().info("window_stopping", live_positions=live)
                self.ctx.stop_self()
                return
        else:
            forced = force_close(state, now, settings)
            if forced is not None:
                self._logger().warning("window_force_closed", reason="no resolution seen")
                self._journal_durably(forced)
            else:
                self._decide(now)
        self._schedule_tick()

    def _decide(self, now: float) -> None:
        risk = self._risk_snapshot() if wants_bankroll(self._state, now, self._settings) else None
        decision = decide(
            self._state,
            now=now,
            bankroll=None if risk is None else risk.equity,
            settings=self._settings,
            max_stake=None if risk is None else _max_stake(risk, self._settings),
        )
        if decision.scored is not None:
            self._journal_told(decision.scored)
        if decision.intent is not None:
            self._enter(decision.intent, now)

    def _on_reversal_request(self, request: ReversalRequest) -> None:
        now = self.ctx.clock.now()
        result = decide_reversal(self._state, request, now=now, settings=self._settings)
        if isinstance(result, Skip):
            self._logger().info(
                "reversal_declined",
                position=request.position_id,
                reason=result.reason,
                detail=result.detail,
            )
            return
        self._enter(result, now)

    def _on_resolved(self, resolved: WindowResolved) -> None:
        if resolved.condition_id != self._state.window.condition_id:
            msg = (
                f"window {self._state.window_id} got the resolution of another market: "
                f"{resolved.condition_id!r}"
            )
            raise ValueError(msg)
        for entry in self._state.entries:
            self._tell_position(entry, resolved, must_arrive=True)
        event = close(self._state, winner=resolved.winner, now=self.ctx.clock.now())
        if event is not None:
            self._logger().info("window_resolved", winner=resolved.winner.value)
            self._journal_durably(event)

    # --- effects --------------------------------------------------------------------------------

    def _enter(self, intent: EntryIntent, now: float) -> None:
        """Reserve, journal the entry durably, then start its position (in that order: an
        order exists only once its capital is reserved and its decision is on disk)."""
        request = reserve_request(self._state, intent, now=now, settings=self._settings)
        try:
            reply = self.ctx.runtime.address(self._risk).ask(request, self._ask_timeout_s)
        except (ActorDead, AskTimeout) as e:
            # Unknown outcome: risk may have granted. Its grants are per owner and purpose, so
            # asking again later returns the same reservation, never a second one.
            self._logger().warning("risk_unavailable", position=intent.position_id, error=e)
            self._state = refused(self._state, now, self._settings)
            return
        match reply:
            case Refused(reason=reason, detail=detail):
                self._logger().info(
                    "entry_refused", position=intent.position_id, reason=reason, detail=detail
                )
                self._state = refused(self._state, now, self._settings)
            case Granted():
                self._on_granted(intent, reply, now)
            case _:
                msg = f"risk answered Reserve with {reply!r}, expected Granted or Refused"
                raise TypeError(msg)

    def _on_granted(self, intent: EntryIntent, grant: Granted, now: float) -> None:
        result = granted(self._state, intent, grant, now=now, settings=self._settings)
        if isinstance(result, Skip):
            self._logger().info("entry_skipped", position=intent.position_id, reason=result.reason)
            release = ReleaseReservation(
                reservation_id=grant.reservation_id, realized_pnl=Decimal(0), timestamp=now
            )
            self.ctx.runtime.address(self._risk).tell(release)
            self._state = refused(self._state, now, self._settings)
            return
        self._journal_durably(result)
        self._logger().info(
            "entry_decided",
            position=result.position_id,
            purpose=result.purpose,
            price=result.price,
            size=result.size,
            reservation=result.reservation_id,
        )
        entry = next(e for e in self._state.entries if e.position_id == result.position_id)
        self._start_position(entry)

    def _start_position(self, entry: Entry) -> None:
        start = partial(
            self._position_start,
            position_id=entry.position_id,
            window=self._state.window,
            outcome=entry.outcome,
            reservation_id=entry.reservation_id,
            entry_price=entry.price,
            entry_size=entry.size,
            purpose=entry.purpose,
        )
        spec = ChildSpec(
            id=position_actor(entry.position_id), start=start, restart=Restart.TRANSIENT
        )
        try:
            reply = self.ctx.runtime.address(self._positions).ask(
                StartChild(spec=spec), self._ask_timeout_s
            )
        except (ActorDead, AskTimeout) as e:
            # The entry is journaled; starting its position is idempotent, so try again next tick.
            self._logger().warning("position_start_deferred", position=entry.position_id, error=e)
            self._unstarted[entry.position_id] = entry
            return
        self._unstarted.pop(entry.position_id, None)
        match reply:
            case StartRefused(reason=reason) if reason == _ALREADY_EXISTS:
                self._logger().info("position_already_running", position=entry.position_id)
            case StartRefused(reason=reason):
                # The entry is journaled and its capital reserved: try again next tick (the
                # supervisor may be full, or the position's start failed for now).
                self._logger().error(
                    "position_start_failed", position=entry.position_id, reason=reason
                )
                self._unstarted[entry.position_id] = entry
            case _:
                self._logger().info("position_started", position=entry.position_id)

    def _start_or_abandon(self, entry: Entry) -> None:
        reason = should_abandon_start(
            self._state,
            entry,
            now=self.ctx.clock.now(),
            start_deadline_s=self._position_start_deadline_s,
        )
        if reason is None:
            self._start_position(entry)
            return
        self._unstarted.pop(entry.position_id, None)
        if self._has_position_run(entry):
            return  # a start whose answer was lost did run: the position owns its capital now
        self._logger().warning(
            "entry_abandoned",
            position=entry.position_id,
            reservation=entry.reservation_id,
            reason=reason,
        )
        if not entry.reservation_id:
            return  # decided before grants were journaled with entries: risk's own sweep frees it
        release = ReleaseReservation(
            reservation_id=entry.reservation_id,
            realized_pnl=Decimal(0),
            timestamp=self.ctx.clock.now(),
        )
        try:
            self.ctx.runtime.address(self._risk).tell(release)
        except ActorDead:
            # Risk releases a grant nobody opened by itself when it reconciles.
            self._logger().warning("release_undelivered", reservation=entry.reservation_id)

    def _has_position_run(self, entry: Entry) -> bool:
        """A position that journaled nothing never ran (it journals PositionOpened first)."""
        if self._is_position_alive(entry):
            return True
        journal = self.ctx.runtime.address(self._journal)
        stream = position_actor(entry.position_id)
        return bool(read_stream(journal, stream, timeout_s=self._ask_timeout_s))

    def _risk_snapshot(self) -> RiskSnapshot | None:
        try:
            reply = self.ctx.runtime.address(self._risk).ask(GetRiskSnapshot(), self._ask_timeout_s)
        except (ActorDead, AskTimeout) as e:
            self._logger().warning("risk_unavailable", error=e)
            return None
        if not isinstance(reply, RiskSnapshot):
            msg = f"risk answered GetRiskSnapshot with {reply!r}"
            raise TypeError(msg)
        return reply

    def _anchor_if_ready(self) -> None:
        event = anchor(self._state, self.ctx.clock.now(), self._settings)
        if event is not None:
            self._logger().info(
                "window_anchored", price_to_beat=event.price_to_beat, exact=event.exact
            )
            self._journal_told(event)

    def _tell_position(self, entry: Entry, message: object, *, must_arrive: bool) -> None:
        try:
            self.ctx.runtime.lookup(position_actor(entry.position_id)).tell(message)
        except ActorDead:
            # Settled positions stop; a book change can skip them. A resolution that cannot be
            # delivered is worth a line: that position settles by its own checks instead.
            if must_arrive:
                self._logger().warning(
                    "position_unreachable", position=entry.position_id, message=message
                )

    def _is_position_alive(self, entry: Entry) -> bool:
        return self.ctx.runtime.address(position_actor(entry.position_id)).is_alive()

    def _journal_told(self, event: Event) -> None:
        self.ctx.runtime.address(self._journal).tell(Append(event=event))
        self._state = evolve(self._state, event)

    def _journal_durably(self, event: EntryDecided | WindowClosed) -> None:
        # An exception here (the journal down or failing) crashes the window before any effect:
        # the restarted window reads what was committed and decides again from there.
        self.ctx.runtime.address(self._journal).ask(
            AppendDurable(events=(event,)), self._ask_timeout_s
        )
        self._state = evolve(self._state, event)

    def _schedule_tick(self) -> None:
        self._timer = self.ctx.schedule(self._settings.decision_interval_s, _Tick())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _logger(self) -> ActorLogger:
        if self._log is None:
            self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        return self._log


def _max_stake(risk: RiskSnapshot, settings: StrategySettings) -> Decimal | None:
    """A share of today's loss limit: risk reserves a position's whole stake against that
    budget, so sizing by equity alone would let one or two positions take all of it."""
    if risk.daily_loss_limit <= 0:
        return None
    return risk.daily_loss_limit * settings.max_stake_of_loss_limit
