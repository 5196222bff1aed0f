"""The reconciler: compares our journal with the exchange; adopts, never destroys (invariant 6).

A thin shell over `state.reconcile`: at start and every `interval_s` it gathers the venue's
positions, closed positions and unowned open orders (through the gateway) and our open and
settled positions (from the journal), asks the pure rules for a plan, journals each decision
durably on stream "reconciler" and carries it out:

- an adoption: risk records the exposure (`AdoptExposure`, always granted), `PositionAdopted`
  is journaled, and a position actor (purpose "adopted") is started under "positions"; it
  journals the shares as a correction and protects them with an exit plan and the stop rule
  of any position, armed only by prices seen after adoption (no entry; adoption sells nothing);
- an unowned order past its grace: `CancelOrder` as owner "reconciler", then
  `UnownedOrderCancelled`;
- a ghost nobody runs whose market the venue closed: `PositionSettled(how="ghost")` with the
  venue's realised P&L on the position's stream (its owner is gone; risk releases its capital
  from that fact); any other ghost is reported (`PositionReported`) and left;
- a settled token whose P&L differs from the venue's closed position of it: log ERROR and
  `SettlementMismatch`.

The first pass that completes journals `TradingOpened` and tells risk `OpenTrading`: until then
risk funds no entry. A pass whose venue reads fail changes nothing and is tried again after
`retry_s` (first pass) or at the next interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from actors.journal import AppendDurable, LastSeqByType, query
from actors.messages import (
    AdoptExposure,
    CancelFailed,
    Cancelled,
    CancelOrder,
    GetClosedPositions,
    GetPositions,
    GetReconcileStatus,
    GetUnownedOrders,
    Granted,
    OpenTrading,
    QueryFailed,
    ReconcileStatus,
    position_actor,
    window_id,
)
from runtime.api import Actor, ActorDead, AskTimeout, Timer, UnhandledMessage
from runtime.logs import ActorLogger, actor_logger
from state.events import Event
from state.reconcile import Adoption, Ghost, OurPosition, Plan, ReconcileSettings, plan
from state.recovery import POSITIONS_VIEW_TYPES, PositionsView, positions_view
from state.trading_events import (
    PositionAdopted,
    PositionReported,
    PositionSettled,
    SettlementMismatch,
    TradingOpened,
    UnownedOrderCancelled,
)
from supervisors import ChildSpec, Restart, StartChild, StartRefused
from venues.types import (
    ZERO,
    ClosedPosition,
    ConditionId,
    MarketWindow,
    OrderId,
    OrderSnapshot,
    TokenId,
    VenuePosition,
)

if TYPE_CHECKING:
    from actors.messages import Outcome

__all__ = ["STREAM", "PositionStart", "ReconcilerActor"]

STREAM = "reconciler"

T = TypeVar("T")

PositionStart = Callable[..., Actor]
"""`partial(PositionActor, settings=...)`: completed with the position's identity keywords."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pass:
    """The timer: run one reconciliation pass."""


class ReconcilerActor(Actor):
    """Accepts:
    GetReconcileStatus(): ask -> ReconcileStatus (passes completed this run, last at).
    _Pass: its own timer.
    """

    def __init__(
        self,
        settings: ReconcileSettings,
        *,
        position_start: PositionStart,
        venue: str = "venue",
        risk: str = "risk",
        journal: str = "journal",
        positions: str = "positions",
        ask_timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        self._position_start = position_start
        self._venue_name = venue
        self._risk_name = risk
        self._journal_name = journal
        self._positions_name = positions
        self._ask_timeout_s = ask_timeout_s
        self._passes = 0
        self._last_success_at: float | None = None
        self._unowned_since: dict[OrderId, float] = {}
        self._audited: frozenset[TokenId] = frozenset()
        self._reported: set[TokenId] = set()
        self._timer: Timer | None = None
        # (the last seq of each type it reads, the view): see `_positions_view`
        self._view: tuple[tuple[int, ...], PositionsView] | None = None

    def on_start(self) -> None:
        self._log: ActorLogger = actor_logger(self.ctx.name, self.ctx.incarnation)
        self._timer = self.ctx.schedule(0.0, _Pass())

    def on_stop(self) -> None:
        self._cancel_timer()

    def on_crash(self) -> None:
        self._cancel_timer()

    def receive(self, message: object) -> object:
        match message:
            case GetReconcileStatus():
                return ReconcileStatus(passes=self._passes, last_success_at=self._last_success_at)
            case _Pass():
                self._timer = None
                is_done = self._run_pass()
                if is_done or self._passes > 0:
                    delay = self._settings.interval_s
                else:
                    delay = self._settings.retry_s
                self._timer = self.ctx.schedule(delay, _Pass())
                return None
            case _:
                msg = f"{self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    # --- one pass -----------------------------------------------------------------------------

    def _run_pass(self) -> bool:
        now = self.ctx.clock.now()
        held = self._ask_venue(GetPositions())
        unowned = self._ask_venue(GetUnownedOrders())
        closed = self._ask_venue(GetClosedPositions())
        if held is None or unowned is None or closed is None:
            return False
        view = self._positions_view()
        ours = tuple(
            OurPosition(
                position_id=p.position_id,
                token_id=TokenId(p.token_id),
                condition_id=ConditionId(p.condition_id),
                held=p.held,
                is_pending=p.is_pending,
                is_running=self._is_running(p.position_id),
            )
            for p in view.positions
        )
        decided = plan(
            now=now,
            held=_typed(held, VenuePosition),
            unowned_orders=_typed(unowned, OrderSnapshot),
            closed=_typed(closed, ClosedPosition),
            ours=ours,
            settled_pnl={ConditionId(c): pnl for c, pnl in view.settled_pnl_by_market.items()},
            settled_by_token={TokenId(t): pnl for t, pnl in view.settled_pnl_by_token.items()},
            unowned_since=self._unowned_since,
            audited=self._audited,
            settings=self._settings,
            adopted_before=view.adopted_ever,
        )
        self._carry_out(decided, now)
        self._passes += 1
        self._last_success_at = now
        if self._passes == 1:
            self._open_trading(decided, now)
        return True

    def _positions_view(self) -> PositionsView:
        """The journal's view of our positions, read again only when an event it reads is new
        (the journal knows without a query): an idle pass cost five queries."""
        journal = self.ctx.runtime.address(self._journal_name)
        last_seqs = journal.ask(LastSeqByType(), self._ask_timeout_s)
        key = tuple(last_seqs.get(t, 0) for t in sorted(POSITIONS_VIEW_TYPES))
        if self._view is None or key != self._view[0]:

            def ask_journal(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
                return query(journal, sql, params, timeout_s=self._ask_timeout_s)

            self._view = (key, positions_view(ask_journal))
        return self._view[1]

    def _carry_out(self, decided: Plan, now: float) -> None:
        self._unowned_since = dict(decided.unowned_since or {})
        for adoption in decided.adopt:
            self._adopt(adoption, now)
        for unadoptable in decided.unadoptable:
            if unadoptable.held.token_id in self._reported:
                continue  # journaled and logged once per incarnation, not every pass
            self._reported.add(unadoptable.held.token_id)
            report = self._log.error if unadoptable.needs_attention else self._log.warning
            report(
                "position_not_adoptable",
                token=unadoptable.held.token_id,
                size=unadoptable.held.size,
                reason=unadoptable.reason,
            )
            self._journal(
                PositionReported(
                    stream_id=STREAM,
                    ts=now,
                    event_id=f"{STREAM}:unadoptable:{unadoptable.held.token_id}",
                    kind="unadoptable",
                    subject=unadoptable.held.token_id,
                    detail=unadoptable.reason,
                )
            )
        for order in decided.cancel:
            self._cancel(order, now)
        for ghost in decided.ghosts:
            self._on_ghost(ghost, now)
        for mismatch in decided.mismatches:
            self._log.error(
                "settlement_mismatch",
                condition_id=mismatch.condition_id,
                token=mismatch.token_id,
                ours=mismatch.ours,
                venue=mismatch.venue,
                tolerance=self._settings.audit_tolerance,
            )
            self._journal(
                SettlementMismatch(
                    stream_id=STREAM,
                    ts=now,
                    event_id=f"{STREAM}:audit:{mismatch.token_id}",
                    condition_id=mismatch.condition_id,
                    token_id=mismatch.token_id,
                    ours=mismatch.ours,
                    venue=mismatch.venue,
                    tolerance=self._settings.audit_tolerance,
                )
            )
        if decided.audited:
            self._log.info(
                "settlement_audited",
                tokens=len(decided.audited),
                mismatches=len(decided.mismatches),
            )
        self._audited = self._audited | frozenset(decided.audited)

    def _open_trading(self, decided: Plan, now: float) -> None:
        reason = (
            f"first reconciliation: {len(decided.adopt)} adopted, "
            f"{len(decided.unadoptable)} reported, {len(self._unowned_since)} unowned orders "
            f"watched, {len(decided.ghosts)} ghosts"
        )
        self._journal(TradingOpened(stream_id=STREAM, ts=now, reason=reason))
        self._log.info("trading_opened", reason=reason)
        try:
            self.ctx.runtime.address(self._risk_name).tell(OpenTrading(reason=reason))
        except ActorDead:
            # A risk that restarts asks us (GetReconcileStatus) before it funds anything.
            self._log.warning("risk_not_alive_for_open_trading")

    # --- adoption -----------------------------------------------------------------------------

    def _adopt(self, adoption: Adoption, now: float) -> None:
        window = adoption.window
        try:
            granted = self.ctx.runtime.address(self._risk_name).ask(
                AdoptExposure(
                    owner=adoption.position_id,
                    window_id=window_id(window),
                    asset=window.asset,
                    amount=adoption.size * adoption.avg_price,
                    timestamp=now,
                ),
                self._ask_timeout_s,
            )
        except (ActorDead, AskTimeout) as e:
            self._log.warning("adoption_deferred", position=adoption.position_id, error=repr(e))
            return
        if not isinstance(granted, Granted):
            msg = f"risk answered AdoptExposure with {granted!r}, not Granted"
            raise TypeError(msg)
        self._journal(_adopted(adoption, granted.reservation_id, now))
        self._log.warning(
            "position_adopted",
            position=adoption.position_id,
            size=adoption.size,
            avg_price=adoption.avg_price,
            reason=adoption.reason,
        )
        self._start_position(adoption.position_id, window, adoption, granted.reservation_id)

    def _start_position(
        self, pid: str, window: MarketWindow, adoption: Adoption, reservation_id: str
    ) -> None:
        outcome: Outcome = adoption.outcome
        start = partial(
            self._position_start,
            position_id=pid,
            window=window,
            outcome=outcome,
            reservation_id=reservation_id,
            entry_price=adoption.avg_price,
            entry_size=adoption.size,
            purpose="adopted",
        )
        spec = ChildSpec(id=position_actor(pid), start=start, restart=Restart.TRANSIENT)
        try:
            reply = self.ctx.runtime.address(self._positions_name).ask(
                StartChild(spec=spec), self._ask_timeout_s
            )
        except (ActorDead, AskTimeout) as e:
            # Journaled: the positions supervisor rebuilds adopted positions from the journal.
            self._log.warning("adopted_position_start_deferred", position=pid, error=repr(e))
            return
        if isinstance(reply, StartRefused):
            self._log.warning("adopted_position_not_started", position=pid, reason=reply.reason)

    # --- unowned orders and ghosts ------------------------------------------------------------

    def _cancel(self, order: OrderSnapshot, now: float) -> None:
        since = self._unowned_since.get(order.order_id, now)
        try:
            reply = self.ctx.runtime.address(self._venue_name).ask(
                CancelOrder(order_id=order.order_id, owner=self.ctx.name), self._ask_timeout_s
            )
        except (ActorDead, AskTimeout) as e:
            self._log.warning("unowned_cancel_unanswered", order_id=order.order_id, error=repr(e))
            return
        match reply:
            case Cancelled(was_live=was_live):
                self._journal(
                    UnownedOrderCancelled(
                        stream_id=STREAM,
                        ts=now,
                        event_id=f"{STREAM}:cancelled:{order.order_id}",
                        order_id=order.order_id,
                        token_id=order.token_id,
                        side=order.side.value,
                        price=order.price,
                        size=order.original_size - order.size_matched,
                        unowned_since=since,
                        was_live=was_live,
                    )
                )
                self._unowned_since.pop(order.order_id, None)
                self._log.warning(
                    "unowned_order_cancelled",
                    order_id=order.order_id,
                    token=order.token_id,
                    side=order.side.value,
                    price=order.price,
                    unowned_for_s=now - since,
                )
            case CancelFailed(error_kind=kind, message=text):
                self._log.warning(
                    "unowned_cancel_failed", order_id=order.order_id, error=kind, detail=text
                )
            case _:
                msg = f"unexpected answer to CancelOrder: {reply!r}"
                raise TypeError(msg)

    def _on_ghost(self, ghost: Ghost, now: float) -> None:
        position = ghost.position
        if not ghost.is_settled_here or ghost.closed is None:
            why = (
                "its position actor runs and heals against the wallet"
                if position.is_running
                else "the venue has not confirmed its market closed"
            )
            self._log.warning(
                "ghost_position", position=position.position_id, held=position.held, left=why
            )
            self._journal(
                PositionReported(
                    stream_id=STREAM,
                    ts=now,
                    event_id=f"{STREAM}:ghost:{position.position_id}",  # journaled once, logged each pass
                    kind="ghost",
                    subject=position.position_id,
                    detail=f"journal holds {position.held}, the venue nothing; left: {why}",
                )
            )
            return
        pnl = ghost.closed.realized_pnl
        self._log.warning("ghost_position_settled", position=position.position_id, realized_pnl=pnl)
        self._journal(
            PositionSettled(
                stream_id=position_actor(position.position_id),
                ts=now,
                event_id=f"{position_actor(position.position_id)}:settled",
                position_id=position.position_id,
                how="ghost",
                size=ZERO,
                cost=ZERO,
                proceeds=ZERO,
                fees=ZERO,
                realized_pnl=pnl,
            )
        )

    # --- helpers ------------------------------------------------------------------------------

    def _ask_venue(self, message: object) -> tuple[object, ...] | None:
        try:
            reply = self.ctx.runtime.address(self._venue_name).ask(message, self._ask_timeout_s)
        except (ActorDead, AskTimeout) as e:
            self._log.warning(
                "reconcile_read_unanswered", query=type(message).__name__, error=repr(e)
            )
            return None
        if isinstance(reply, QueryFailed):
            self._log.warning(
                "reconcile_read_failed",
                query=reply.query,
                error=reply.error_kind,
                detail=reply.message,
            )
            return None
        if not isinstance(reply, tuple):
            msg = f"venue answered {type(message).__name__} with {reply!r}"
            raise TypeError(msg)
        return reply

    def _is_running(self, pid: str) -> bool:
        return self.ctx.runtime.address(position_actor(pid)).is_alive()

    def _journal(self, *events: Event) -> None:
        self.ctx.runtime.address(self._journal_name).ask(
            AppendDurable(events=events), self._ask_timeout_s
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _typed(items: tuple[object, ...], kind: type[T]) -> tuple[T, ...]:
    for item in items:
        if not isinstance(item, kind):
            msg = f"expected {kind.__name__} from the venue, got {item!r}"
            raise TypeError(msg)
    return items  # type: ignore[return-value]


def _adopted(adoption: Adoption, reservation_id: str, now: float) -> PositionAdopted:
    window = adoption.window
    return PositionAdopted(
        stream_id=STREAM,
        ts=now,
        event_id=f"{STREAM}:adopted:{adoption.position_id}",
        position_id=adoption.position_id,
        reservation_id=reservation_id,
        outcome=adoption.outcome.value,
        size=adoption.size,
        avg_price=adoption.avg_price,
        reason=adoption.reason,
        window_id=window_id(window),
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
