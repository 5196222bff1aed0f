"""The risk actor: the only place capital is committed (invariant 3), one message at a time.

A thin shell over `state.risk`: it asks the pure `decide` what to answer, journals the events
durably on stream "risk" before answering or acting, evolves its book, and performs the effects
(the kill switch's `CancelEntries`, rate-limited logs). The rules themselves, and the one reason
risk recovers by itself, are documented in state/risk.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from actors.journal import AppendDurable, LastSeqByType, Query, QueryRefused, read_stream
from actors.messages import (
    AdoptExposure,
    CancelEntries,
    GetBalance,
    GetReconcileStatus,
    GetRiskSnapshot,
    Granted,
    Halt,
    OpenTrading,
    QueryFailed,
    ReconcileStatus,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    Resume,
    RiskState,
    UpdateBalance,
    position_actor,
)
from config.messages import ConfigChanged
from config.settings import RiskSettings
from runtime.api import Actor, ActorDead, AskTimeout, Timer
from runtime.logs import ActorLogger, actor_logger
from state.events import Event, EventRecord, decode_all
from state.risk import (
    DAY_S,
    NO_FACTS,
    STREAM,
    Assess,
    RiskBook,
    RiskCommand,
    daily_loss_warning,
    decide,
    evolve,
    initial_book,
    journal_facts,
    observe_balance,
    owners_with_open_entries,
    rebuild_book,
    snapshot,
    stale_releases,
)
from state.trading_events import CapitalRefused, RiskStateChanged

# The facts risk reconciles its reservations with (see `state.risk.stale_releases`).
_FACT_TYPES = ("PositionOpened", "PositionSettled", "WindowClosed")

__all__ = ["RiskActor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tick:
    """The actor's own timer: re-assess, poll the balance, re-send the kill switch, flush logs."""


class RiskActor(Actor):
    """Serialises every capital decision: reservations, caps, loss limits, kill switch.

    Accepts:
        Reserve: ask -> Granted | Refused (CapitalReserved is journaled before the reply;
            CapitalRefused with the next durable write, tick or stop, see `_run`).
        ResizeReservation, ReleaseReservation: tells or asks (-> None, once journaled) from
            positions and windows (CapitalResized, CapitalReleased). Unknown reservation ids
            are logged and ignored.
        Halt(reason), Resume(reason): ask or tell -> RiskState (RiskStateChanged).
        UpdateBalance(collateral): the venue's balance (also polled from `venue` every
            `balance_poll_interval_s` with `GetBalance`).
        GetRiskSnapshot: ask -> RiskSnapshot.
        AdoptExposure: ask -> Granted, always (CapitalReserved purpose "adopted"): shares
            reconciliation found; entries into that window are refused while it is held.
        OpenTrading(reason): from the reconciler. With `reconciler` set, entries are refused
            ("not_reconciled", no signal cooldown) from start until then; a restarted risk asks
            the reconciler (GetReconcileStatus) whether the run was reconciled already.
        ConfigChanged: applies the new `settings.risk` thresholds at once and re-assesses.

    Emits `CancelEntries` to `position/<owner>` for every owner with an open entry when risk
    goes HALTED, and again every `kill_switch_resend_s` while halted for entries still open (a
    position that was restarting when the switch fired is not missed). Exit plans and stops are
    never its business. Refusals are logged once per reason per `refusal_log_interval_s` with a
    count of the ones in between; every one is journaled.

    A crash loses nothing that was granted, resized or released: those events are durable
    before their reply or effect. It can lose the refusals of the last tick, which hold no
    capital.
    The next incarnation folds stream "risk" (outstanding reservations, equity, the day's loss,
    state), applies the transitions due by now, re-sends the kill switch if halted, and reads
    the venue's balance before its first decision. `starting_collateral` must be the same value
    every incarnation is given: the book's equity is it plus the realised P&L journaled since.
    `journal_after_seq` scopes the fold to one run (e.g. the seq of its RunStarted, when a paper
    run starts a fresh exchange on an old journal file); 0 folds the whole stream.

    Releases are tells, so one can be lost (risk dead, or its mailbox dropped in a crash). On
    start and on every tick risk reconciles its outstanding reservations with the journal (one
    `Query`): an owner with a PositionSettled is released with that P&L; an owner that never
    opened is released with 0 once its window closed or `orphan_grace_s` after the grant
    (None: never by age). Each is journaled as CapitalReleased and logged with why.
    """

    def __init__(
        self,
        settings: RiskSettings,
        *,
        starting_collateral: Decimal,
        journal: str = "journal",
        journal_after_seq: int = 0,
        venue: str = "venue",
        tick_interval_s: float = 10.0,
        balance_poll_interval_s: float | None = 30.0,
        refusal_log_interval_s: float = 60.0,
        kill_switch_resend_s: float = 30.0,
        ask_timeout_s: float = 5.0,
        orphan_grace_s: float | None = 120.0,
        reconciler: str | None = None,
    ) -> None:
        for name, value in (
            ("orphan_grace_s", orphan_grace_s),
            ("tick_interval_s", tick_interval_s),
            ("refusal_log_interval_s", refusal_log_interval_s),
            ("kill_switch_resend_s", kill_switch_resend_s),
            ("ask_timeout_s", ask_timeout_s),
            ("balance_poll_interval_s", balance_poll_interval_s),
        ):
            if value is not None and not value > 0:
                msg = f"RiskActor {name} must be > 0, got {value!r}"
                raise ValueError(msg)
        if not starting_collateral.is_finite() or starting_collateral < 0:
            msg = f"RiskActor starting_collateral must be >= 0, got {starting_collateral!r}"
            raise ValueError(msg)
        self._settings = settings
        self._starting_collateral = starting_collateral
        self._journal = journal
        self._journal_after_seq = journal_after_seq
        self._facts = NO_FACTS  # what the journal says of reservations' owners and windows
        self._facts_through = journal_after_seq  # the last seq folded into `_facts`
        self._venue = venue
        self._tick_interval_s = tick_interval_s
        self._balance_poll_interval_s = balance_poll_interval_s
        self._refusal_log_interval_s = refusal_log_interval_s
        self._kill_switch_resend_s = kill_switch_resend_s
        self._ask_timeout_s = ask_timeout_s
        self._orphan_grace_s = orphan_grace_s
        self._reconciler = reconciler
        self._book: RiskBook = initial_book(starting_collateral)
        self._timer: Timer | None = None
        self._next_balance_poll = -math.inf
        self._cancel_sent_at: dict[str, float] = {}
        self._refusal_log: dict[str, tuple[float, int]] = {}  # reason -> (logged at, held back)
        self._warned_day: float | None = None
        self._log: ActorLogger | None = None
        self._held_refusals: list[Event] = []  # answered, not yet journaled (see `_run`)

    # --- lifecycle ------------------------------------------------------------------------------

    def on_start(self) -> None:
        self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        journal = self.ctx.runtime.address(self._journal)
        events = read_stream(
            journal, STREAM, after_seq=self._journal_after_seq, timeout_s=self._ask_timeout_s
        )
        self._book = rebuild_book(self._starting_collateral, events)
        self._logger().info(
            "risk_rebuilt",
            events=len(events),
            state=self._book.state.value,
            equity=self._book.equity,
            reservations=len(self._book.reservations),
            exposure=self._book.exposure,
        )
        if self._reconciler is not None and not self._was_reconciled():
            self._book = replace(
                self._book, trading_closed="trading opens after the first reconciliation"
            )
            self._logger().info("trading_closed", until="the first reconciliation succeeds")
        self._poll_balance()
        self._run(Assess())
        self._reconcile()
        if self._book.state is RiskState.HALTED:
            # The previous incarnation may have died before every position heard the switch.
            self._send_cancel_entries(only_due=False)
        self._timer = self.ctx.schedule(self._tick_interval_s, _Tick())

    def on_stop(self) -> None:
        self._cancel_timer()
        try:
            self._journal_durably()
        except (ActorDead, AskTimeout) as e:
            # Only refusals: losing them forgets a cooldown, never capital (see `_run`).
            self._logger().warning(
                "refusals_not_journaled", count=len(self._held_refusals), why=repr(e)
            )

    def on_crash(self) -> None:
        self._cancel_timer()

    def receive(self, message: object) -> object:
        match message:
            case (
                Reserve()
                | AdoptExposure()
                | ResizeReservation()
                | ReleaseReservation()
                | Halt()
                | Resume()
            ):
                return self._run(message)
            case OpenTrading(reason=reason):
                self._open_trading(reason)
                return None
            case UpdateBalance(collateral=collateral):
                self._book = observe_balance(self._book, collateral)
                return None
            case GetRiskSnapshot():
                return snapshot(self._book, self.ctx.clock.now(), self._settings)
            case ConfigChanged(settings=settings, changed=changed):
                self._on_config_changed(settings.risk, changed)
                return None
            case _Tick():
                self._on_tick()
                return None
            case _:
                return super().receive(message)

    # --- handlers -------------------------------------------------------------------------------

    def _run(self, command: RiskCommand) -> Granted | Refused | RiskState | None:
        now = self.ctx.clock.now()
        decision = decide(self._book, command, now, self._settings)
        if decision.events and all(isinstance(e, CapitalRefused) for e in decision.events):
            # A refusal grants nothing, so it need not be on disk before the reply: one lost in
            # a crash only forgets a count and a window's refusal cooldown, which at worst lets
            # that window be asked about again sooner, and every grant is still checked against
            # every cap. Held, not told, so the stream keeps its order on every backend: they
            # go out with the next durable write, the next tick, or the stop.
            self._held_refusals.extend(decision.events)
        elif decision.events:
            # Durable before the reply and before any effect: a grant nobody journaled could be
            # spent twice after a restart (invariant 3), a lost release would lock capital.
            self._journal_durably(decision.events)
        for event in decision.events:
            self._book = evolve(self._book, event)
        log = self._logger()
        for note in decision.notes:
            log.warning("risk_note", detail=note)
        # An explicit Halt while already halted still tells every open entry again at once.
        is_halting = isinstance(command, Halt)
        for event in decision.events:
            match event:
                case CapitalRefused():
                    self._log_refusal(event, now)
                case RiskStateChanged():
                    self._log_state_change(event)
                    is_halting = is_halting or event.new == RiskState.HALTED
                case _:
                    pass  # grants, resizes and releases have no effect beyond the journal
        if self._book.state is not RiskState.HALTED:
            self._cancel_sent_at.clear()
        elif is_halting:
            self._send_cancel_entries(only_due=False)
        self._warn_about_daily_loss(now)
        return decision.reply

    def _was_reconciled(self) -> bool:
        """A restarted risk asks the reconciler whether this run was reconciled already (the
        gate is not journaled: it belongs to the run, and the journal outlives runs)."""
        assert self._reconciler is not None
        try:
            status = self.ctx.runtime.address(self._reconciler).ask(
                GetReconcileStatus(), self._ask_timeout_s
            )
        except (ActorDead, AskTimeout):
            return False  # not started yet (the first start): it will tell OpenTrading
        return isinstance(status, ReconcileStatus) and status.passes > 0

    def _open_trading(self, reason: str) -> None:
        if self._book.trading_closed is None:
            return
        self._book = replace(self._book, trading_closed=None)
        self._logger().info("trading_opened", reason=reason)

    def _journal_durably(self, events: tuple[Event, ...] = ()) -> None:
        """Commit the held refusals and then `events`, in that order, and wait for the commit."""
        batch = (*self._held_refusals, *events)
        if not batch:
            return
        self.ctx.runtime.address(self._journal).ask(
            AppendDurable(events=batch), self._ask_timeout_s
        )
        self._held_refusals.clear()

    def _log_state_change(self, event: RiskStateChanged) -> None:
        log = self._logger()
        if event.new == RiskState.NORMAL:
            log.info("risk_state_changed", old=event.old, new=event.new, reason=event.reason)
        else:
            log.warning("risk_state_changed", old=event.old, new=event.new, reason=event.reason)

    def _send_cancel_entries(self, *, only_due: bool) -> None:
        if self._book.state is not RiskState.HALTED:
            return
        now = self.ctx.clock.now()
        owners = owners_with_open_entries(self._book)
        # Entries that closed since the last send need no more reminders.
        self._cancel_sent_at = {o: t for o, t in self._cancel_sent_at.items() if o in owners}
        message = CancelEntries(reason=f"kill switch: {self._book.state_reason}")
        for owner in owners:
            sent_at = self._cancel_sent_at.get(owner)
            if only_due and sent_at is not None and now - sent_at < self._kill_switch_resend_s:
                continue
            self._cancel_sent_at[owner] = now
            try:
                self.ctx.runtime.address(position_actor(owner)).tell(message)
            except ActorDead:
                # Not running now (starting, or restarting): told again on a later tick.
                self._logger().warning("cancel_entries_undelivered", owner=owner)

    def _on_tick(self) -> None:
        self._timer = self.ctx.schedule(self._tick_interval_s, _Tick())
        now = self.ctx.clock.now()
        if now >= self._next_balance_poll:
            self._poll_balance()
        self._run(Assess())
        self._journal_durably()
        self._reconcile()
        self._send_cancel_entries(only_due=True)
        self._flush_refusal_log(now)

    def _reconcile(self) -> None:
        """Apply the releases the journal shows were owed (see `state.risk.stale_releases`)."""
        book = self._book
        if not book.reservations:
            return
        try:
            if not self._read_new_facts():
                return
        except (ActorDead, AskTimeout) as e:
            self._logger().warning("reconcile_deferred", why=repr(e))
            return
        now = self.ctx.clock.now()
        for release, why in stale_releases(self._book, self._facts, now, self._orphan_grace_s):
            self._logger().warning(
                "reservation_reconciled",
                reservation=release.reservation_id,
                realized_pnl=release.realized_pnl,
                why=why,
            )
            self._run(release)

    def _read_new_facts(self) -> bool:
        """Fold what was journaled since the last read into `_facts` (False: the journal
        refused the read). They accumulate in memory (a few per window), where re-reading them
        all every tick grew with the run; and most ticks find nothing new, which the journal
        knows without a query."""
        journal = self.ctx.runtime.address(self._journal)
        last_seqs = journal.ask(LastSeqByType(), self._ask_timeout_s)
        if all(last_seqs.get(t, 0) <= self._facts_through for t in _FACT_TYPES):
            return True
        sql = (
            "SELECT seq, event_id, stream_id, type, version, ts, payload FROM events "
            f"WHERE seq > ? AND type IN ({', '.join('?' * len(_FACT_TYPES))}) ORDER BY seq"
        )
        rows = journal.ask(
            Query(sql=sql, params=(self._facts_through, *_FACT_TYPES)), self._ask_timeout_s
        )
        if isinstance(rows, QueryRefused):
            # A bug in the query, not in risk's book: crashing would only loop; say it loudly.
            self._logger().error("reconcile_refused", reason=rows.reason)
            return False
        records = [
            EventRecord(
                seq=seq,
                event_id=event_id,
                stream_id=stream_id,
                type_name=type_name,
                version=version,
                ts=ts,
                payload=payload,
            )
            for seq, event_id, stream_id, type_name, version, ts, payload in rows
        ]
        self._facts = journal_facts(decode_all(records), self._facts)
        if rows:
            self._facts_through = int(rows[-1][0])
        return True

    def _poll_balance(self) -> None:
        if self._balance_poll_interval_s is None:
            return
        now = self.ctx.clock.now()
        self._next_balance_poll = now + self._balance_poll_interval_s
        try:
            reply = self.ctx.runtime.address(self._venue).ask(
                GetBalance(token_id=None, refresh=False), self._ask_timeout_s
            )
        except ActorDead:
            self._logger().debug("balance_unavailable", venue=self._venue, why="not running")
            return
        except AskTimeout:
            self._logger().warning("balance_unavailable", venue=self._venue, why="timed out")
            return
        match reply:
            case Decimal():
                self._book = observe_balance(self._book, reply)
            case QueryFailed(error_kind=kind, message=text):
                self._logger().warning(
                    "balance_unavailable", venue=self._venue, why=f"{kind}: {text}"
                )
            case _:
                self._logger().warning(
                    "balance_unavailable", venue=self._venue, why=f"unexpected reply {reply!r}"
                )

    def _on_config_changed(self, settings: RiskSettings, changed: tuple[str, ...]) -> None:
        if settings == self._settings:
            return
        self._logger().info(
            "risk_settings_applied", keys=",".join(k for k in changed if k.startswith("risk."))
        )
        self._settings = settings
        self._run(Assess())

    # --- logging --------------------------------------------------------------------------------

    def _log_refusal(self, event: CapitalRefused, now: float) -> None:
        logged_at, held_back = self._refusal_log.get(event.reason, (-math.inf, 0))
        if now - logged_at < self._refusal_log_interval_s:
            self._refusal_log[event.reason] = (logged_at, held_back + 1)
            return
        self._refusal_log[event.reason] = (now, 0)
        self._logger().info(
            "capital_refused",
            reason=event.reason,
            owner=event.owner,
            window=event.window_id,
            amount=event.amount,
            detail=event.detail,
            earlier_unlogged=held_back,
        )

    def _flush_refusal_log(self, now: float) -> None:
        for reason, (logged_at, held_back) in list(self._refusal_log.items()):
            if held_back and now - logged_at >= self._refusal_log_interval_s:
                self._refusal_log[reason] = (now, 0)
                self._logger().info(
                    "capital_refused_repeats",
                    reason=reason,
                    count=held_back,
                    interval_s=self._refusal_log_interval_s,
                )

    def _warn_about_daily_loss(self, now: float) -> None:
        day = (now // DAY_S) * DAY_S
        if self._warned_day == day:
            return
        warning = daily_loss_warning(self._book, now, self._settings)
        if warning is not None:
            self._warned_day = day
            self._logger().warning("daily_loss_warning", detail=warning)

    def _logger(self) -> ActorLogger:
        if self._log is None:
            self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        return self._log

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
