"""The position actor: the one owner of every order of one position (invariant 5).

A thin shell over `state.position`: it observes (market, wallet, venue answers), asks the pure
rules what to do, journals their events durably *before* acting (two-phase orders, invariant
2), folds the events into its state and performs the actions through the venue gateway
("venue"), risk ("risk") and its window ("window/<wid>"). On (re)start it rebuilds its state
from its own journal stream and verifies every order that could still change against the venue
before it acts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias, assert_never

from actors.feed import GetBook
from actors.journal import AppendDurable, read_stream
from actors.messages import (
    CancelEntries,
    CancelFailed,
    Cancelled,
    CancelOrder,
    ClaimOrders,
    FindOrder,
    GetBalance,
    Granted,
    MarketUpdate,
    OrderEvent,
    OrderFound,
    Outcome,
    Placed,
    PlaceFailed,
    PlaceOrder,
    QueryFailed,
    Redeem,
    Redeemed,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    ReversalRequest,
    WindowResolved,
    window_actor,
    window_id,
)
from config.messages import ConfigChanged
from config.messages import Subscribe as SubscribeToConfig
from config.messages import Unsubscribe as UnsubscribeFromConfig
from runtime.api import Actor, ActorDead, AskTimeout, Timer, UnhandledMessage
from state.events import Event
from state.position import (
    ADOPTED,
    OUTCOME_UNKNOWN_KINDS,
    Action,
    CancelAnswered,
    CancelEntriesRequested,
    CheckTicked,
    Command,
    Decision,
    EntriesHalted,
    Evaluate,
    FillsExpected,
    MarketSeen,
    Observation,
    Open,
    OrderLookedUp,
    OrderUpdateSeen,
    PlacementAnswered,
    PlacementFailed,
    PositionSettings,
    RedeemAnswered,
    RedeemFailed,
    RedeemWinnings,
    RefreshWallet,
    ReleaseCapital,
    RequestReversal,
    ReservationResized,
    ReserveScaleIn,
    ResizeCapital,
    ResolutionSeen,
    ScaleInGranted,
    ScaleInRefused,
    StopPosition,
    SubmitOrder,
    SyncWithVenue,
    TradeSeen,
    VenueFailed,
    VenueSynced,
    WalletSeen,
    WithdrawOrder,
    decide,
    evolve,
    initial_state,
    market_view,
    observe,
    orders_to_verify,
)
from venues.types import (
    BookSnapshot,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderUpdate,
    TradeUpdate,
)

if TYPE_CHECKING:
    from runtime.api import Address

__all__ = ["GetPosition", "PositionActor", "PositionCommand"]

log = logging.getLogger(__name__)

MAX_ROUNDS = 50
"""Evaluation rounds per message; the rules settle in a handful, more means a rule loops."""

OUTCOME_UNKNOWN_AT_VENUE = "OutcomeUnknown"
"""The gateway's QueryFailed kind for a client id that is not on the venue's book and whose
fate it cannot establish (it may have traded in full before a gateway restart)."""

_BEFORE_COMMIT = (WithdrawOrder, SyncWithVenue)
"""Actions that may run before the facts decided so far are durable (see `_commit`)."""

MAX_UNROUTED = 200
"""Venue events for orders not known yet (their placement answer is still on its way)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPosition:
    """Ask: reply with the position's current `PositionState` (status, tests)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Resume:
    """Sent to itself by `on_start`: open, or verify against the venue after a restart."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Check:
    """The check timer: timeouts, balance reads, missing prices, every `check_interval_s`."""


PositionCommand: TypeAlias = (
    MarketUpdate
    | OrderEvent
    | WindowResolved
    | CancelEntries
    | ConfigChanged
    | GetPosition
    | _Resume
    | _Check
)

CONFIG_SECTION = "position"
"""The attribute of `config.settings.Settings` that holds the `PositionSettings`."""


class PositionActor(Actor):
    """Owns one position's entry, exit plan, scale-ins and stop (named `position/<pid>`).

    Accepts:
        MarketUpdate(book, confidence): tell, from its window: its token's book.
        OrderEvent(TradeUpdate | OrderUpdate): tell, from the venue gateway: its orders' events.
        WindowResolved(condition_id, winner): tell, from its window: settle.
        CancelEntries(reason): tell, from risk's kill switch: cancel the entry (and retry) only;
            exit plans and stops stay (invariant 7).
        ConfigChanged(settings): tell, from "config" (subscribed at start when it runs): new
            thresholds apply from the next decision (invariant 9); every rule reads them fresh.
        GetPosition(): ask -> `PositionState`.

    Emits: PlaceOrder / CancelOrder / FindOrder / GetBalance / Redeem asks to "venue";
    Reserve, ResizeReservation and ReleaseReservation asks to "risk" (a resize counts as done
    only once risk answered); ReversalRequest to its window; its facts to the journal (stream
    `position/<pid>`), durably before any order. An adopted position (its window forwards it
    nothing) also asks "feed" for its token's book (GetBook) at start and at each check.

    A crash loses the observations (market view, wallet reading, timers). The restarted
    incarnation folds its stream, looks up every order that could still change (an intent
    without an answer included: it is resolved by asking the venue, never resent blindly), reads
    the wallet, and only then applies its rules. Once settled it stops (Normal) and a restart
    stops again at once.
    """

    def __init__(
        self,
        *,
        position_id: str,
        window: MarketWindow,
        outcome: Outcome,
        reservation_id: str,
        entry_price: Decimal,
        entry_size: Decimal,
        purpose: str,
        settings: PositionSettings,
    ) -> None:
        self._settings = settings
        self._state = initial_state(
            position_id=position_id,
            window=window,
            outcome=outcome,
            reservation_id=reservation_id,
            entry_price=entry_price,
            entry_size=entry_size,
            purpose=purpose,
        )
        self._timer: Timer | None = None
        self._unrouted: list[TradeUpdate | OrderUpdate] = []
        self._is_finished = False
        self._unjournaled: list[Event] = []  # decided and evolved, not yet durable (`_commit`)
        self._has_said_unpriced = False
        self._risk_retry_at = 0.0  # a resize risk did not acknowledge is asked again from then

    # --- lifecycle -------------------------------------------------------------------------------

    def on_start(self) -> None:
        runtime = self.ctx.runtime
        self._journal: Address = runtime.address("journal")
        self._venue: Address = runtime.address("venue")
        self._risk: Address = runtime.address("risk")
        self._window: Address = runtime.address(window_actor(window_id(self._state.window)))
        self._config: Address = runtime.address("config")
        self._feed: Address = runtime.address("feed")
        try:
            self._config.tell(SubscribeToConfig(name=self.ctx.name))
        except ActorDead:
            log.debug("%s: no config actor; settings stay as started", self._me)
        state = self._state
        for event in read_stream(
            self._journal, state.stream_id, timeout_s=self._settings.venue_timeout_s
        ):
            state = evolve(state, event)
        self._state = state
        self.ctx.self_ref.tell(_Resume())

    def on_stop(self) -> None:
        self._cancel_timer()
        try:
            self._config.tell(UnsubscribeFromConfig(name=self.ctx.name))
        except ActorDead:
            log.debug("%s: no config actor to unsubscribe from", self._me)

    def on_crash(self) -> None:
        self._cancel_timer()

    def receive(self, message: object) -> object:
        if self._is_finished and not isinstance(message, GetPosition):
            return None  # settled: the stop takes effect after this message
        reply = self._handle(message)
        self._commit()  # what a message decided is on disk before the next message
        return reply

    def _handle(self, message: object) -> object:
        match message:
            case MarketUpdate(book=book, confidence=confidence):
                if book.token_id != self._state.token_id:
                    log.warning("%s: market update for another token %s", self._me, book.token_id)
                    return None
                self._observe(MarketSeen(view=market_view(book, confidence, self._now())))
                self._evaluate()
            case OrderEvent(event=TradeUpdate() as update):
                self._on_venue_event(update)
            case OrderEvent(event=OrderUpdate() as update):
                self._on_venue_event(update)
            case WindowResolved(condition_id=condition_id, winner=winner):
                if condition_id != self._state.window.condition_id:
                    log.warning("%s: resolution of another market %s", self._me, condition_id)
                    return None
                self._observe(ResolutionSeen(winner=winner))
                self._evaluate()
            case CancelEntries(reason=reason):
                log.info("%s: kill switch (%s): cancelling entries only", self._me, reason)
                self._observe(EntriesHalted())
                self._decide(CancelEntriesRequested(reason=reason))
                self._evaluate()
            case ConfigChanged(settings=settings):
                section = getattr(settings, CONFIG_SECTION, None)
                if isinstance(section, PositionSettings) and section != self._settings:
                    log.info("%s: position settings reloaded", self._me)
                    self._settings = section
                    self._evaluate()
            case GetPosition():
                return self._state
            case _Resume():
                self._resume()
            case _Check():
                self._on_check()
            case _:
                msg = f"{self._me} has no case for {message!r}"
                raise UnhandledMessage(msg)
        return None

    # --- handlers --------------------------------------------------------------------------------

    def _resume(self) -> None:
        state = self._state
        if state.is_settled:
            log.info("%s: already settled in the journal; stopping", self._me)
            self._finish()
            return
        self._schedule_check()
        if not state.is_opened:
            self._decide(Open())
        else:
            log.info(
                "%s: rebuilt from the journal (%d orders, %d fills, size %s); verifying at the venue",
                self._me,
                len(state.orders),
                len(state.trades),
                state.size,
            )
            self._claim_orders()
            self._perform(SyncWithVenue(client_ids=orders_to_verify(state)))
        self._read_unforwarded_market()
        self._evaluate()

    def _claim_orders(self) -> None:
        """Tell the gateway which venue orders are ours: a restarted gateway on a venue that
        does not echo client ids cannot tell otherwise (invariant 5). An ask, so the claims
        are recorded before this position's lookups match unowned orders."""
        order_ids = tuple(OrderId(o.order_id) for o in self._state.orders if o.order_id)
        if not order_ids:
            return
        try:
            self._venue.ask(
                ClaimOrders(owner=self.ctx.name, order_ids=order_ids),
                timeout_s=self._settings.venue_timeout_s,
            )
        except (AskTimeout, ActorDead) as e:
            # Reconciliation cancels unowned orders only after a grace; the next start claims.
            log.warning("%s: claiming %d orders went unanswered (%r)", self._me, len(order_ids), e)

    def _reclaim_orders(self) -> None:
        """Every check: a gateway restarted since (it forgets owners, and a venue that does not
        echo client ids cannot tell it) learns them again well within reconciliation's grace
        for unowned orders. A tell: nothing here waits on it."""
        working = tuple(
            OrderId(o.order_id)
            for o in self._state.orders
            if o.order_id and self._state.is_working(o)
        )
        if not working:
            return
        try:
            self._venue.tell(ClaimOrders(owner=self.ctx.name, order_ids=working))
        except ActorDead:
            log.debug("%s: no gateway to claim orders from", self._me)

    def _on_check(self) -> None:
        self._timer = None
        self._reclaim_orders()
        now = self._now()
        self._observe(CheckTicked(at=now))
        self._read_unforwarded_market()
        wallet_at = self._state.wallet_at
        if wallet_at is None or now - wallet_at >= self._settings.balance_check_interval_s:
            self._perform(RefreshWallet())
        self._evaluate()
        if not self._is_finished:
            self._schedule_check()

    def _read_unforwarded_market(self) -> None:
        """An adopted position's window never entered it and forwards it no book: it reads its
        token's book from the feed at each check, so its stop loss watches the price too. Only
        until the window's end: after it a book no longer moves, and a stale one must not hide
        that prices stopped (force-settlement counts the checks without one)."""
        state, now = self._state, self._now()
        if state.purpose != ADOPTED or now >= state.window.end:
            return
        try:
            book = self._feed.ask(
                GetBook(token_id=state.token_id), timeout_s=self._settings.venue_timeout_s
            )
        except (AskTimeout, ActorDead) as e:
            log.warning("%s: no book from the feed (%r); the next check asks again", self._me, e)
            return
        match book:
            case BookSnapshot():
                self._observe(MarketSeen(view=market_view(book, None, now)))
            case None:
                if not self._has_said_unpriced:
                    self._has_said_unpriced = True
                    log.warning(
                        "%s: the feed has no book of %s: its exit plan protects it, its stop "
                        "loss waits for a price",
                        self._me,
                        state.token_id,
                    )
            case _:
                msg = f"{self._me}: unexpected answer to GetBook: {book!r}"
                raise TypeError(msg)

    def _on_venue_event(self, update: TradeUpdate | OrderUpdate) -> None:
        if self._state.order_by_order_id(update.order_id) is None:
            # Its placement answer has not reached us yet (the venue reports fills as they
            # happen): keep it until the order is known. Bounded, and never silently lost.
            if len(self._unrouted) >= MAX_UNROUTED:
                dropped = self._unrouted.pop(0)
                log.error("%s: too many events for unknown orders; dropped %r", self._me, dropped)
            self._unrouted.append(update)
            return
        self._decide(_venue_command(update))
        self._evaluate()

    def _replay_unrouted(self) -> None:
        known = [u for u in self._unrouted if self._state.order_by_order_id(u.order_id)]
        if not known:
            return
        self._unrouted = [u for u in self._unrouted if u not in known]
        for update in known:
            self._decide(_venue_command(update))

    # --- the loop: observe, decide, journal, evolve, act -----------------------------------------

    def _observe(self, observation: Observation) -> None:
        self._state = observe(self._state, observation, self._settings)

    def _decide(self, command: Command) -> None:
        self._apply(decide(self._state, command, self._now(), self._settings))

    def _evaluate(self) -> None:
        for _ in range(MAX_ROUNDS):
            if self._is_finished:
                return
            before = self._state
            self._decide(Evaluate())
            if self._state == before:
                return
        msg = f"{self._me}: the position rules did not settle in {MAX_ROUNDS} rounds"
        raise RuntimeError(msg)

    def _apply(self, decision: Decision) -> None:
        for event in decision.events:
            self._state = evolve(self._state, event)
        self._unjournaled.extend(decision.events)
        if any(not isinstance(a, _BEFORE_COMMIT) for a in decision.actions):
            self._commit()
        for action in decision.actions:
            self._perform(action)

    def _commit(self) -> None:
        """Journal every fact decided so far, durably, in one commit.

        Durable before any effect: an order is only ever sent after its intent is on disk
        (invariant 2), and risk or the window only hear of what is. Facts wait only for a
        cancel or a lookup at the venue (which remembers their outcome, and a rebuilt position
        verifies every order that could still change) and for the end of the message: the stop
        path's trigger, cancel and intent are one commit, not three (~2 ms each). Asked, never
        told: a told Append could be committed after a later ask (the deterministic runtime
        runs an ask at once, ahead of tells still queued), and the stream's order would differ
        between backends."""
        if not self._unjournaled:
            return
        events = tuple(self._unjournaled)
        self._journal.ask(AppendDurable(events=events), timeout_s=self._settings.venue_timeout_s)
        del self._unjournaled[: len(events)]

    def _perform(self, action: Action) -> None:
        match action:
            case SubmitOrder(request=request):
                self._submit(request)
            case WithdrawOrder():
                self._withdraw(action)
            case SyncWithVenue(client_ids=client_ids):
                self._sync(client_ids)
            case RefreshWallet():
                self._refresh_wallet()
            case RequestReversal(size=size, midpoint=midpoint):
                self._request_reversal(size, midpoint)
            case ReserveScaleIn(amount=amount, minimum=minimum):
                self._reserve_scale_in(amount, minimum)
            case RedeemWinnings():
                self._redeem()
            case ResizeCapital(reservation_id=reservation_id, amount=amount):
                resize = ResizeReservation(
                    reservation_id=reservation_id, amount=amount, timestamp=self._now()
                )
                # Done only once risk answered (it journals before it answers). Otherwise the
                # rule asks again, but not before the next check: a risk that does not answer
                # must not stall every market update of this position.
                if self._now() < self._risk_retry_at:
                    return
                if self._inform_risk(resize):
                    self._observe(ReservationResized(reservation_id=reservation_id))
                else:
                    self._risk_retry_at = self._now() + self._settings.check_interval_s
            case ReleaseCapital(reservation_id=reservation_id, realized_pnl=pnl):
                release = ReleaseReservation(
                    reservation_id=reservation_id, realized_pnl=pnl, timestamp=self._now()
                )
                if not self._inform_risk(release):
                    # Not retried here: a settled position stops. Its PositionSettled is already
                    # durable, and risk releases from it when it reconciles (start and tick).
                    log.warning(
                        "%s: release of %s not acknowledged; risk reconciles it from the journal",
                        self._me,
                        reservation_id,
                    )
            case StopPosition():
                log.info("%s: settled; stopping", self._me)
                self._finish()
            case _:
                assert_never(action)

    # --- effects ---------------------------------------------------------------------------------

    def _submit(self, request: OrderRequest) -> None:
        try:
            reply = self._venue.ask(
                PlaceOrder(request=request, owner=self.ctx.name),
                timeout_s=self._settings.venue_timeout_s,
            )
        except (AskTimeout, ActorDead) as e:
            # The outcome is unknown: the order may be on the book. It is looked up, not resent.
            log.warning("%s: no answer placing %s (%r)", self._me, request.client_id, e)
            self._observe(VenueFailed(at=self._now()))
            self._decide(
                PlacementFailed(
                    client_id=request.client_id, error_kind=type(e).__name__, message=str(e)
                )
            )
            return
        match reply:
            case Placed(result=result) if result.order_id is not None:
                status = result.status.value if result.status is not None else "live"
                if result.making_amount > 0 or result.taking_amount > 0:
                    # The gateway tells the fills after this answer: wait for them.
                    self._observe(FillsExpected(client_id=request.client_id, at=self._now()))
                self._decide(
                    PlacementAnswered(
                        client_id=request.client_id, order_id=result.order_id, status=status
                    )
                )
                self._replay_unrouted()
            case Placed(result=result):
                self._decide(
                    PlacementFailed(
                        client_id=request.client_id,
                        error_kind="RejectedError",
                        message=result.error or "placed without an order id",
                    )
                )
            case PlaceFailed(error_kind=error_kind, message=message, is_retryable=is_retryable):
                log.info("%s: %s refused: %s", self._me, request.client_id, message)
                if is_retryable or error_kind in OUTCOME_UNKNOWN_KINDS:
                    self._observe(VenueFailed(at=self._now()))
                self._decide(
                    PlacementFailed(
                        client_id=request.client_id,
                        error_kind=error_kind,
                        message=message,
                        is_retryable=is_retryable,
                    )
                )
            case _:
                msg = f"{self._me}: unexpected answer to PlaceOrder: {reply!r}"
                raise TypeError(msg)

    def _withdraw(self, action: WithdrawOrder) -> None:
        try:
            reply = self._venue.ask(
                CancelOrder(order_id=OrderId(action.order_id), owner=self.ctx.name),
                timeout_s=self._settings.venue_timeout_s,
            )
        except (AskTimeout, ActorDead) as e:
            log.warning("%s: no answer cancelling %s (%r)", self._me, action.client_id, e)
            self._observe(VenueFailed(at=self._now()))
            return
        match reply:
            case Cancelled(was_live=was_live):
                # "Not found" / already gone is a success (invariant 4).
                self._decide(
                    CancelAnswered(
                        client_id=action.client_id, was_live=was_live, reason=action.reason
                    )
                )
            case CancelFailed(error_kind=error_kind, message=message):
                # Cancel and place fail independently: whatever else was decided still happens.
                log.warning(
                    "%s: cancel of %s failed (%s): %s",
                    self._me,
                    action.client_id,
                    error_kind,
                    message,
                )
                self._observe(VenueFailed(at=self._now()))
            case _:
                msg = f"{self._me}: unexpected answer to CancelOrder: {reply!r}"
                raise TypeError(msg)

    def _sync(self, client_ids: tuple[str, ...]) -> None:
        is_complete = True
        for client_id in client_ids:
            try:
                reply = self._venue.ask(
                    self._find_order(client_id), timeout_s=self._settings.venue_timeout_s
                )
            except (AskTimeout, ActorDead) as e:
                reply = QueryFailed(
                    query="FindOrder",
                    error_kind=type(e).__name__,
                    message=str(e),
                    is_retryable=True,
                )
            match reply:
                case OrderFound(order_id=order_id, order=order, trades=trades):
                    self._decide(
                        OrderLookedUp(
                            client_id=client_id,
                            order_id=order_id,
                            is_active=order is not None,
                            trades=trades,
                        )
                    )
                    self._replay_unrouted()
                case QueryFailed(error_kind=kind, message=message) if (
                    kind == OUTCOME_UNKNOWN_AT_VENUE
                ):
                    # Not among the venue's open orders, and the gateway cannot tell more:
                    # it is not on the book. What it may have traded, the wallet will show
                    # (self-healing); asking again would block this position for good.
                    log.warning("%s: %s is not on the venue: %s", self._me, client_id, message)
                    self._give_up_on(client_id, message)
                case QueryFailed(error_kind=error_kind, message=message):
                    log.warning(
                        "%s: could not look up %s (%s): %s",
                        self._me,
                        client_id,
                        error_kind,
                        message,
                    )
                    self._observe(VenueFailed(at=self._now()))
                    is_complete = False
                case _:
                    msg = f"{self._me}: unexpected answer to FindOrder: {reply!r}"
                    raise TypeError(msg)
        if self._refresh_wallet() and is_complete:
            self._observe(VenueSynced(at=self._now()))

    def _find_order(self, client_id: str) -> FindOrder:
        state = self._state
        order = state.order(client_id)
        if order is None or order.order_id is not None:
            return FindOrder(
                client_id=client_id,
                condition_id=state.window.condition_id,
                order_id=None if order is None else OrderId(order.order_id or ""),
            )
        # Its order id is unknown: the request lets a venue that never echoes client ids
        # recognise it (never resent on a guess: invariant 2).
        return FindOrder(
            client_id=client_id,
            condition_id=state.window.condition_id,
            request=order.request(state.token_id),
            intended_at=order.intended_at,
        )

    def _give_up_on(self, client_id: str, message: str) -> None:
        order = self._state.order(client_id)
        if order is None:
            return
        if order.order_id is None:
            self._decide(
                PlacementFailed(
                    client_id=client_id, error_kind=OUTCOME_UNKNOWN_AT_VENUE, message=message
                )
            )
        else:
            self._decide(
                OrderLookedUp(
                    client_id=client_id, order_id=order.order_id, is_active=False, trades=()
                )
            )

    def _refresh_wallet(self) -> bool:
        try:
            reply = self._venue.ask(
                GetBalance(token_id=self._state.token_id, refresh=True),
                timeout_s=self._settings.venue_timeout_s,
            )
        except (AskTimeout, ActorDead) as e:
            reply = QueryFailed(
                query="GetBalance", error_kind=type(e).__name__, message=str(e), is_retryable=True
            )
        match reply:
            case Decimal():
                self._observe(WalletSeen(balance=reply, at=self._now()))
                return True
            case QueryFailed(error_kind=error_kind, message=message):
                log.warning("%s: balance read failed (%s): %s", self._me, error_kind, message)
                self._observe(VenueFailed(at=self._now()))
                return False
            case _:
                msg = f"{self._me}: unexpected answer to GetBalance: {reply!r}"
                raise TypeError(msg)

    def _request_reversal(self, size: Decimal, midpoint: Decimal) -> None:
        state = self._state
        log.info("%s: midpoint %s at the stop: asking the window to reverse", self._me, midpoint)
        try:
            self._window.tell(
                ReversalRequest(
                    position_id=state.position_id,
                    losing=state.outcome,
                    size=size,
                    timestamp=self._now(),
                )
            )
        except ActorDead:
            # Journaled already; the hedged stop still sells after hedge_min_seconds.
            log.warning("%s: window %s is not alive for the reversal", self._me, self._window.name)

    def _reserve_scale_in(self, amount: Decimal, minimum: Decimal) -> None:
        state = self._state
        request = Reserve(
            owner=state.position_id,
            window_id=window_id(state.window),
            asset=state.window.asset,
            amount=amount,
            purpose="scalein",
            timestamp=self._now(),
            minimum=minimum,
        )
        try:
            reply = self._risk.ask(request, timeout_s=self._settings.venue_timeout_s)
        except (AskTimeout, ActorDead) as e:
            log.warning("%s: no answer from risk for a scale-in of %s (%r)", self._me, amount, e)
            self._observe(ScaleInRefused(at=self._now()))
            return
        match reply:
            case Granted(reservation_id=reservation_id, amount=granted):
                self._decide(ScaleInGranted(reservation_id=reservation_id, amount=granted))
            case Refused(reason=reason, detail=detail):
                log.info("%s: scale-in refused by risk (%s): %s", self._me, reason, detail)
                self._observe(ScaleInRefused(at=self._now()))
            case _:
                msg = f"{self._me}: unexpected answer to Reserve: {reply!r}"
                raise TypeError(msg)

    def _redeem(self) -> None:
        try:
            reply = self._venue.ask(
                Redeem(condition_id=self._state.window.condition_id),
                timeout_s=self._settings.venue_timeout_s,
            )
        except (AskTimeout, ActorDead) as e:
            reply = QueryFailed(
                query="Redeem", error_kind=type(e).__name__, message=str(e), is_retryable=True
            )
        match reply:
            case Redeemed(amount=amount):
                self._decide(RedeemAnswered(amount=amount))
            case QueryFailed(error_kind=error_kind, message=message):
                log.warning("%s: redemption failed (%s): %s", self._me, error_kind, message)
                self._observe(RedeemFailed(at=self._now()))
            case _:
                msg = f"{self._me}: unexpected answer to Redeem: {reply!r}"
                raise TypeError(msg)

    def _inform_risk(self, message: ResizeReservation | ReleaseReservation) -> bool:
        """Ask, not tell: a tell queued in risk's mailbox when it crashes is dropped unseen,
        while an answer means risk has journaled it. False: risk may not have it."""
        try:
            self._risk.ask(message, timeout_s=self._settings.venue_timeout_s)
        except (ActorDead, AskTimeout) as e:
            log.warning("%s: risk did not acknowledge %r (%r)", self._me, message, e)
            return False
        return True

    # --- helpers ---------------------------------------------------------------------------------

    def _finish(self) -> None:
        self._is_finished = True
        self._cancel_timer()
        self.ctx.stop_self()

    def _schedule_check(self) -> None:
        self._cancel_timer()
        self._timer = self.ctx.schedule(self._settings.check_interval_s, _Check())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _now(self) -> float:
        return self.ctx.clock.now()

    @property
    def _me(self) -> str:
        return f"{self.ctx.name}#{self.ctx.incarnation}"


def _venue_command(update: TradeUpdate | OrderUpdate) -> Command:
    match update:
        case TradeUpdate():
            return TradeSeen(update=update)
        case OrderUpdate():
            return OrderUpdateSeen(update=update)
        case _:
            assert_never(update)
