"""RiskActor on the deterministic runtime, with the real journal, the real venue gateway over
the real paper exchange, and a supervisor that restarts it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import pytest

from actors.journal import AppendDurable, JournalActor, JournalStats, Query, Stats, read_stream
from actors.messages import (
    CancelEntries,
    GetRiskSnapshot,
    Granted,
    Halt,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    Resume,
    RiskSnapshot,
    RiskState,
    UpdateBalance,
    position_actor,
)
from actors.risk import RiskActor
from actors.venue import VenueGatewayActor, paper_venue
from config.messages import ConfigChanged
from config.settings import RiskSettings, Settings
from runtime.api import Actor, Address
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from runtime.logs import ACTOR_LOGGER_NAME
from runtime.pykka_backend import PykkaRuntime
from state.journal_store import JournalStore
from state.risk import DAY_S, STREAM, StateCause, cause_of
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
from supervisors import ChildSpec, Flags, Supervisor
from venues.paper.settings import PaperSettings
from venues.settings import VenueSettings

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
D = Decimal


def roomy(**changes: object) -> RiskSettings:
    """For tests of other limits: a day's loss budget of 90% of equity stays out of their way
    (the halt level must stay above the daily limit; validated like any settings)."""
    return RiskSettings.model_validate(
        {"daily_loss_limit_pct": D(90), "halt_drawdown_pct": D(95), **changes}
    )


ROOMY = roomy()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRecorded:
    pass


class Recorder(Actor):
    """Stands in for a position actor: keeps whatever risk tells it."""

    def __init__(self) -> None:
        self.received: list[object] = []

    def receive(self, message: object) -> object:
        if isinstance(message, GetRecorded):
            return tuple(self.received)
        self.received.append(message)
        return None


@pytest.fixture
def rt() -> Iterator[DeterministicRuntime]:
    runtime = DeterministicRuntime(ManualClock(T0))
    yield runtime
    runtime.shutdown()


def start(
    rt: DeterministicRuntime,
    settings: RiskSettings | None = None,
    *,
    starting: str = "100",
    venue_collateral: str | None = None,
    **actor_options: object,
) -> Address:
    """The journal, optionally the venue gateway over a paper exchange, and risk under a
    supervisor that restarts it."""
    # A slow flush timer: these tests advance days of simulated time.
    rt.spawn(
        lambda: JournalActor(partial(JournalStore, ":memory:"), flush_interval_s=600.0),
        name="journal",
    )
    if venue_collateral is not None:
        factory = paper_venue(PaperSettings(starting_collateral=D(venue_collateral)))
        rt.spawn(lambda: VenueGatewayActor(factory, VenueSettings(), market=None), name="venue")
    spec = ChildSpec(
        id="risk",
        start=partial(
            RiskActor,
            settings or RiskSettings(),
            starting_collateral=D(starting),
            **actor_options,  # type: ignore[arg-type]
        ),
    )
    rt.spawn(lambda: Supervisor(Flags(intensity=5), (spec,), watchdog_s=0), name="sup")
    rt.run_until_idle()
    return rt.address("risk")


def reserve(
    owner: str, amount: str = "10", *, purpose: str = "entry", asset: str = "BTC"
) -> Reserve:
    return Reserve(
        owner=owner,
        window_id=owner.split("/", maxsplit=1)[0],
        asset=asset,
        amount=D(amount),
        purpose=purpose,
        timestamp=0.0,
    )


def grant(risk: Address, owner: str, amount: str = "10", **kw: str) -> Granted:
    reply = risk.ask(reserve(owner, amount, **kw))
    assert isinstance(reply, Granted), reply
    return reply


def journaled(rt: DeterministicRuntime) -> list[object]:
    return list(read_stream(rt.address("journal"), STREAM))


def shot(risk: Address) -> RiskSnapshot:
    reply = risk.ask(GetRiskSnapshot())
    assert isinstance(reply, RiskSnapshot)
    return reply


def positions(rt: DeterministicRuntime, *owners: str) -> dict[str, Address]:
    for owner in owners:
        rt.spawn(Recorder, name=position_actor(owner))
    return {owner: rt.address(position_actor(owner)) for owner in owners}


def told(recorder: Address) -> tuple[object, ...]:
    received = recorder.ask(GetRecorded())
    assert isinstance(received, tuple)
    return received


def crash_and_restart(rt: DeterministicRuntime, risk: Address) -> None:
    before = rt.lookup("risk")
    risk.tell("an unknown message crashes risk")
    rt.run_until_idle()
    assert rt.lookup("risk") is not before  # the supervisor started a new incarnation


# --- reservations ---------------------------------------------------------------------------------


def test_a_grant_is_durable_in_the_journal_before_the_window_hears_of_it(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, ROOMY)
    granted = grant(risk, "W1/UP", "10")
    # Nothing waits in the journal's buffer: the reply came after the commit, not before it.
    stats = rt.lookup("journal").ask(Stats())
    assert isinstance(stats, JournalStats)
    assert (stats.pending, stats.flushed) == (0, 1)
    (event,) = journaled(rt)
    assert isinstance(event, CapitalReserved)
    assert (event.reservation_id, event.amount, event.owner) == (
        granted.reservation_id,
        D(10),
        "W1/UP",
    )


def test_caps_and_refusals_are_answered_as_values_and_journaled(rt: DeterministicRuntime) -> None:
    risk = start(rt, ROOMY)
    assert grant(risk, "W1/UP", "40").amount == D(25)  # 25% of equity 100
    refused = risk.ask(reserve("W1/UP", "5", purpose="scalein"))
    assert isinstance(refused, Refused)
    assert refused.reason == "max_position"
    assert shot(risk).refusals == 1
    # A refusal holds no capital: answered at once, journaled with the next durable write.
    assert [type(e) for e in journaled(rt)] == [CapitalReserved]
    grant(risk, "W2/UP", "10")
    events = journaled(rt)
    assert [type(e) for e in events] == [CapitalReserved, CapitalRefused, CapitalReserved]


def test_a_refusal_is_journaled_by_the_next_tick_when_no_grant_follows(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, ROOMY, tick_interval_s=10.0)
    grant(risk, "W1/UP", "40")
    assert isinstance(risk.ask(reserve("W1/UP", "5", purpose="scalein")), Refused)
    rt.advance(11)
    assert [type(e) for e in journaled(rt)] == [CapitalReserved, CapitalRefused]


def test_refusals_are_logged_once_per_interval_with_a_count_of_the_rest(
    rt: DeterministicRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    risk = start(rt, roomy(signal_cooldown_s=0), refusal_log_interval_s=60.0)
    grant(risk, "W1/UP", "25")
    with caplog.at_level(logging.INFO, logger=ACTOR_LOGGER_NAME):
        for _ in range(5):
            assert isinstance(risk.ask(reserve("W1/UP", "5", purpose="scalein")), Refused)
        rt.advance(61)
    lines = [r.getMessage() for r in caplog.records if "capital_refused" in r.getMessage()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("capital_refused ")
    assert "reason=max_position" in lines[0]
    assert "capital_refused_repeats" in lines[1]
    assert "count=4" in lines[1]
    assert sum(isinstance(e, CapitalRefused) for e in journaled(rt)) == 5  # all journaled


def test_concurrent_windows_cannot_reserve_the_same_collateral(rt: DeterministicRuntime) -> None:
    settings = RiskSettings(
        max_position_pct=D(60),
        max_window_pct=D(60),
        max_asset_pct=D(100),
        max_total_exposure_pct=D(100),
        # The most a day's loss budget can be: the limit must stay below the halt level.
        daily_loss_limit_pct=D(99),
        halt_drawdown_pct=D(100),
    )
    risk = start(rt, settings)
    # Both asks are queued before either is answered; risk handles them one at a time.
    first = rt.lookup("risk")
    first.tell(reserve("W1/UP", "60"))
    assert grant(risk, "W2/UP", "60").amount == D(39)
    assert shot(risk).exposure == D(99)


def test_the_venues_balance_bounds_what_risk_grants(rt: DeterministicRuntime) -> None:
    # The book believes in 1000, but the paper exchange's wallet holds 30.
    risk = start(rt, ROOMY, starting="1000", venue_collateral="30")
    assert shot(risk).collateral == D(30)
    assert grant(risk, "W1/UP", "200").amount == D(30)
    risk.tell(UpdateBalance(collateral=D(500), timestamp=T0))
    assert grant(risk, "W2/UP", "200").amount == D(200)


def test_the_days_loss_budget_bounds_what_open_positions_can_lose(
    rt: DeterministicRuntime,
) -> None:
    # The paper run that lost 117 in an hour against a limit of 50: a position may hold 250.
    risk = start(rt, starting="1000")
    granted = grant(risk, "W1/UP", "250")
    assert granted.amount == D(50)  # 5% of 1000: all the day may still lose
    refused = risk.ask(reserve("W2/UP", "250"))
    assert isinstance(refused, Refused)
    assert refused.reason == "daily_loss_budget"
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(5), timestamp=T0)
    )
    assert grant(risk, "W3/UP", "250").amount == D(50)  # a profit, and the reservation back
    assert [type(e) for e in journaled(rt)] == [
        CapitalReserved,
        CapitalRefused,
        CapitalReleased,
        CapitalReserved,
    ]


def test_a_released_loss_past_the_daily_limit_closes_new_entries(rt: DeterministicRuntime) -> None:
    risk = start(rt)
    granted = grant(risk, "W1/UP", "5")
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(-5), timestamp=T0)
    )
    snapshot = shot(risk)
    assert (snapshot.state, snapshot.equity, snapshot.realized_pnl_today) == (
        RiskState.DEGRADED,
        D(95),
        D(-5),
    )
    refused = risk.ask(reserve("W2/UP"))
    assert isinstance(refused, Refused)
    assert refused.reason == "state_degraded"
    # Nothing is left of the day's budget, for a reversal either: the stop sells instead.
    refused = risk.ask(reserve("W3/DOWN", purpose="reversal"))
    assert isinstance(refused, Refused)
    assert refused.reason == "daily_loss_budget"


def test_the_day_resets_at_midnight_utc_on_the_runtime_clock_and_trading_resumes(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, RiskSettings(recovery_cooldown_s=600))
    rt.advance(DAY_S - 300)  # 23:55
    granted = grant(risk, "W1/UP", "10")
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(-6), timestamp=0.0)
    )
    assert shot(risk).state is RiskState.DEGRADED
    rt.advance(299)  # 23:59:59: same day, still degraded
    assert shot(risk).state is RiskState.DEGRADED
    rt.advance(310)  # 00:05:09, past the 600 s cooldown: the next tick recovers
    snapshot = shot(risk)
    assert (snapshot.state, snapshot.realized_pnl_today) == (RiskState.NORMAL, D(0))
    assert snapshot.daily_loss_limit == D("4.7")  # 5% of the new day's starting equity 94
    changes = [e for e in journaled(rt) if isinstance(e, RiskStateChanged)]
    assert [(e.old, e.new) for e in changes] == [("NORMAL", "DEGRADED"), ("DEGRADED", "NORMAL")]
    assert cause_of(changes[1].reason) is StateCause.RECOVERED
    assert changes[1].ts >= T0 + DAY_S + 300
    assert isinstance(risk.ask(reserve("W2/UP")), Granted)


# --- kill switch ----------------------------------------------------------------------------------


def test_the_kill_switch_tells_only_owners_with_open_entries_to_cancel_them(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, ROOMY)
    owners = positions(rt, "W1/UP", "W2/UP", "W3/UP", "W4/UP")
    resting = grant(risk, "W1/UP")
    filled = grant(risk, "W2/UP")
    settled = grant(risk, "W3/UP")
    risk.tell(ResizeReservation(reservation_id=filled.reservation_id, amount=D(9), timestamp=0.0))
    risk.tell(
        ReleaseReservation(reservation_id=settled.reservation_id, realized_pnl=D(1), timestamp=0.0)
    )
    assert resting.reservation_id
    assert risk.ask(Halt(reason="operator pulled the switch")) is RiskState.HALTED
    rt.run_until_idle()
    (cancel,) = told(owners["W1/UP"])
    assert isinstance(cancel, CancelEntries)
    assert cancel.reason == "kill switch: manual_halt: operator pulled the switch"
    for owner in ("W2/UP", "W3/UP", "W4/UP"):
        assert told(owners[owner]) == ()
    refused = risk.ask(reserve("W5/UP", purpose="reversal"))
    assert isinstance(refused, Refused)
    assert refused.reason == "state_halted"


def test_while_halted_open_entries_are_reminded_until_they_close(rt: DeterministicRuntime) -> None:
    risk = start(rt, kill_switch_resend_s=30.0, tick_interval_s=10.0)
    owners = positions(rt, "W1/UP")
    granted = grant(risk, "W1/UP")
    risk.tell(Halt(reason="x"))
    rt.advance(35)
    assert len(told(owners["W1/UP"])) == 2  # once at the halt, once 30 s later
    risk.tell(ResizeReservation(reservation_id=granted.reservation_id, amount=D(0), timestamp=0.0))
    rt.advance(120)
    assert len(told(owners["W1/UP"])) == 2


def test_a_position_that_is_not_running_is_told_once_it_runs(rt: DeterministicRuntime) -> None:
    risk = start(rt, kill_switch_resend_s=30.0, tick_interval_s=10.0)
    grant(risk, "W1/UP")
    risk.tell(Halt(reason="x"))  # position/W1/UP does not exist yet
    rt.run_until_idle()
    owner = positions(rt, "W1/UP")["W1/UP"]
    rt.advance(30)
    assert [type(m) for m in told(owner)] == [CancelEntries]


def test_a_halting_drawdown_fires_the_kill_switch_by_itself(rt: DeterministicRuntime) -> None:
    risk = start(rt, RiskSettings(daily_loss_limit_pct=D(11), halt_drawdown_pct=D(12)))
    owners = positions(rt, "W1/UP", "W2/UP")
    grant(risk, "W1/UP")
    loser = grant(risk, "W2/UP", "20")
    risk.tell(
        ReleaseReservation(reservation_id=loser.reservation_id, realized_pnl=D(-12), timestamp=0.0)
    )
    rt.run_until_idle()
    assert shot(risk).state is RiskState.HALTED
    (cancel,) = told(owners["W1/UP"])
    assert isinstance(cancel, CancelEntries)
    assert "drawdown_halt" in cancel.reason
    rt.advance(3 * DAY_S)
    assert shot(risk).state is RiskState.HALTED  # never by itself
    assert risk.ask(Resume(reason="reviewed")) is RiskState.NORMAL
    assert shot(risk).drawdown_pct == 0


# --- restart --------------------------------------------------------------------------------------


def test_a_restarted_risk_rebuilds_its_outstanding_reservations_from_the_journal(
    rt: DeterministicRuntime,
) -> None:
    settings = roomy(max_total_exposure_pct=D(60), max_asset_pct=D(60))
    risk = start(rt, settings)
    kept = grant(risk, "W1/UP", "25")
    resized = grant(risk, "W2/UP", "25", asset="ETH")
    gone = grant(risk, "W3/UP", "5", asset="SOL")
    risk.tell(ResizeReservation(reservation_id=resized.reservation_id, amount=D(20), timestamp=0.0))
    risk.tell(
        ReleaseReservation(reservation_id=gone.reservation_id, realized_pnl=D(-2), timestamp=0.0)
    )
    before = shot(risk)
    crash_and_restart(rt, risk)
    after = shot(risk)
    assert after == before
    assert (after.exposure, after.reservations, after.equity) == (D(45), 2, D(98))
    # The rebuilt reservations still count: 60% of 98 is 58.80, less the 45 outstanding.
    assert grant(risk, "W4/UP", "25", asset="XRP").amount == D("13.80")
    # Ids keep counting, and the old grants can still be released.
    risk.tell(
        ReleaseReservation(reservation_id=kept.reservation_id, realized_pnl=D(0), timestamp=0.0)
    )
    assert shot(risk).reservations == 2
    ids = [e.reservation_id for e in journaled(rt) if isinstance(e, CapitalReserved)]
    assert len(set(ids)) == 4


def test_a_restarted_risk_keeps_the_days_loss_and_its_state(rt: DeterministicRuntime) -> None:
    risk = start(rt)
    granted = grant(risk, "W1/UP")
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(-5), timestamp=0.0)
    )
    crash_and_restart(rt, risk)
    snapshot = shot(risk)
    assert (snapshot.state, snapshot.realized_pnl_today) == (RiskState.DEGRADED, D(-5))
    refused = risk.ask(reserve("W2/UP"))
    assert isinstance(refused, Refused)
    assert refused.reason == "state_degraded"


def test_a_restart_while_halted_tells_open_entries_again_at_once(rt: DeterministicRuntime) -> None:
    risk = start(rt)
    owners = positions(rt, "W1/UP")
    grant(risk, "W1/UP")
    risk.tell(Halt(reason="x"))
    rt.run_until_idle()
    crash_and_restart(rt, risk)
    assert [type(m) for m in told(owners["W1/UP"])] == [CancelEntries, CancelEntries]
    assert shot(risk).state is RiskState.HALTED


def test_a_repeated_entry_request_after_a_restart_gets_the_same_grant(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt)
    first = grant(risk, "W1/UP", "10")
    crash_and_restart(rt, risk)
    assert grant(risk, "W1/UP", "10") == first
    assert sum(isinstance(e, CapitalReserved) for e in journaled(rt)) == 1


# --- hot reload -----------------------------------------------------------------------------------


def test_new_thresholds_apply_without_a_restart(rt: DeterministicRuntime) -> None:
    risk = start(rt, ROOMY)
    granted = grant(risk, "W1/UP", "10")
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(-3), timestamp=0.0)
    )
    assert shot(risk).state is RiskState.NORMAL
    tighter = RiskSettings(max_position_pct=D(10), daily_loss_limit_pct=D(3))
    risk.tell(
        ConfigChanged(
            settings=Settings(risk=tighter), changed=("risk.max_position_pct",), needs_restart=()
        )
    )
    rt.run_until_idle()
    assert shot(risk).state is RiskState.DEGRADED  # the tighter daily limit applies at once
    assert risk.ask(Resume()) is RiskState.DEGRADED
    looser = roomy(max_position_pct=D(10))
    risk.tell(ConfigChanged(settings=Settings(risk=looser), changed=(), needs_restart=()))
    rt.advance(1800)  # the recovery cooldown, then the next tick
    assert shot(risk).state is RiskState.NORMAL
    assert grant(risk, "W2/UP", "50").amount == D("9.70")  # 10% of equity 97


def test_resize_and_release_events_are_journaled_in_order(rt: DeterministicRuntime) -> None:
    risk = start(rt)
    granted = grant(risk, "W1/UP", "10")
    risk.tell(ResizeReservation(reservation_id=granted.reservation_id, amount=D(8), timestamp=0.0))
    risk.tell(
        ReleaseReservation(reservation_id=granted.reservation_id, realized_pnl=D(2), timestamp=0.0)
    )
    rt.run_until_idle()
    events = journaled(rt)
    assert [type(e) for e in events] == [CapitalReserved, CapitalResized, CapitalReleased]
    assert shot(risk).equity == D(102)


# --- threads --------------------------------------------------------------------------------------


def test_windows_asking_from_many_threads_never_commit_more_than_the_days_loss_budget() -> None:
    runtime = PykkaRuntime(ManualClock(T0))
    try:
        runtime.spawn(
            lambda: JournalActor(partial(JournalStore, ":memory:"), flush_interval_s=600.0),
            name="journal",
        )
        every_cap_at_100 = RiskSettings(
            max_position_pct=D(100),
            max_window_pct=D(100),
            max_asset_pct=D(100),
            max_total_exposure_pct=D(100),
            max_concurrent_positions=100,
            # The most a day's loss budget can be: the limit must stay below the halt level.
            daily_loss_limit_pct=D(99),
            halt_drawdown_pct=D(100),
        )
        runtime.spawn(lambda: RiskActor(every_cap_at_100, starting_collateral=D(100)), name="risk")
        risk = runtime.address("risk")
        replies: list[object] = []
        lock = threading.Lock()

        def window(n: int) -> None:
            reply = risk.ask(reserve(f"W{n}/UP", "7"), timeout_s=20.0)
            with lock:
                replies.append(reply)

        threads = [threading.Thread(target=window, args=(n,)) for n in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30.0)
        grants = [r for r in replies if isinstance(r, Granted)]
        assert len(replies) == 30
        assert sum((g.amount for g in grants), D(0)) == D(99)  # 14 x 7, then the last 1
        assert len({g.reservation_id for g in grants}) == len(grants) == 15
        assert shot(risk).exposure == D(99)
    finally:
        runtime.shutdown(timeout_s=5.0)


def test_a_risk_scoped_to_a_later_run_ignores_the_reservations_of_earlier_runs(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt)
    grant(risk, "W1/UP", "25")
    (old,) = rt.lookup("journal").ask(Query(sql="SELECT max(seq) FROM events"))
    rt.lookup("sup").stop()
    rt.spawn(
        lambda: RiskActor(RiskSettings(), starting_collateral=D(100), journal_after_seq=old[0]),
        name="risk",
    )
    assert (shot(risk).exposure, shot(risk).reservations) == (D(0), 0)


# --- reconciliation with the journal --------------------------------------------------------------


def journal_fact(rt: DeterministicRuntime, *events: object) -> None:
    rt.address("journal").ask(AppendDurable(events=events))  # type: ignore[arg-type]


def opened(owner: str, reservation_id: str) -> PositionOpened:
    return PositionOpened(
        stream_id=position_actor(owner),
        ts=T0,
        position_id=owner,
        window_id=owner.split("/", maxsplit=1)[0],
        outcome="UP",
        token_id="tok",
        condition_id="cond",
        reservation_id=reservation_id,
        entry_price=D("0.5"),
        entry_size=D(20),
        purpose="entry",
    )


def settled(owner: str, pnl: str) -> PositionSettled:
    return PositionSettled(
        stream_id=position_actor(owner),
        ts=T0,
        position_id=owner,
        how="resolved",
        size=D(0),
        cost=D(10),
        proceeds=D(10) + D(pnl),
        fees=D(0),
        realized_pnl=D(pnl),
    )


def test_a_settled_positions_release_lost_with_risk_is_applied_from_the_journal_at_restart(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, ROOMY)
    entry = grant(risk, "W1/UP", "10")
    scale_in = grant(risk, "W1/UP", "5", purpose="scalein")
    # The position settled, but its releases were told to a risk that was down: never applied.
    journal_fact(rt, opened("W1/UP", entry.reservation_id), settled("W1/UP", "-7"))
    crash_and_restart(rt, risk)
    after = shot(risk)
    assert (after.reservations, after.exposure, after.realized_pnl_today) == (0, D(0), D(-7))
    releases = {
        e.reservation_id: e.realized_pnl for e in journaled(rt) if isinstance(e, CapitalReleased)
    }
    assert releases == {entry.reservation_id: D(-7), scale_in.reservation_id: D(0)}
    # The position's own release, arriving late, is not counted a second time.
    risk.tell(
        ReleaseReservation(reservation_id=entry.reservation_id, realized_pnl=D(-7), timestamp=0.0)
    )
    rt.advance(30)
    assert shot(risk).realized_pnl_today == D(-7)
    assert len([e for e in journaled(rt) if isinstance(e, CapitalReleased)]) == 2


def test_a_settlement_is_reconciled_on_the_tick_without_a_restart(rt: DeterministicRuntime) -> None:
    risk = start(rt, ROOMY, tick_interval_s=10.0)
    entry = grant(risk, "W1/UP", "10")
    journal_fact(rt, opened("W1/UP", entry.reservation_id), settled("W1/UP", "3"))
    assert shot(risk).reservations == 1
    rt.advance(10)
    after = shot(risk)
    assert (after.reservations, after.realized_pnl_today, after.equity) == (0, D(3), D(103))


def test_a_grant_whose_position_never_opens_is_released_after_the_grace_period(
    rt: DeterministicRuntime,
) -> None:
    risk = start(rt, ROOMY, tick_interval_s=10.0, orphan_grace_s=120.0)
    orphan = grant(risk, "W1/UP", "10")  # the window's ask timed out: nobody will use it
    running = grant(risk, "W2/UP", "10", asset="ETH")
    journal_fact(rt, opened("W2/UP", running.reservation_id))
    rt.advance(110)
    assert shot(risk).reservations == 2  # within the grace: the position may still start
    rt.advance(20)
    after = shot(risk)
    assert (after.reservations, after.exposure, after.realized_pnl_today) == (1, D(10), D(0))
    (released,) = [e for e in journaled(rt) if isinstance(e, CapitalReleased)]
    assert (released.reservation_id, released.realized_pnl) == (orphan.reservation_id, D(0))


def test_a_grant_for_a_closed_window_whose_position_never_opened_is_released_at_once(
    rt: DeterministicRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    risk = start(rt, ROOMY, tick_interval_s=10.0, orphan_grace_s=3600.0)
    orphan = grant(risk, "W1/UP", "10")
    journal_fact(
        rt, WindowClosed(stream_id="window/W1", ts=T0, window_id="W1", winner=None, traded=True)
    )
    with caplog.at_level(logging.INFO, logger=ACTOR_LOGGER_NAME):
        rt.advance(10)
    assert shot(risk).reservations == 0
    (released,) = [e for e in journaled(rt) if isinstance(e, CapitalReleased)]
    assert released.reservation_id == orphan.reservation_id
    (line,) = [r.getMessage() for r in caplog.records if "reservation_reconciled" in r.getMessage()]
    assert "window W1 closed" in line


def test_a_fact_read_on_an_earlier_tick_still_counts_when_the_settlement_comes_later(
    rt: DeterministicRuntime,
) -> None:
    # Each tick reads only what is new: the opening read long before must still be known.
    risk = start(rt, ROOMY, tick_interval_s=10.0, orphan_grace_s=60.0)
    entry = grant(risk, "W1/UP", "10")
    scale_in = grant(risk, "W1/UP", "5", purpose="scalein")
    journal_fact(rt, opened("W1/UP", entry.reservation_id))
    rt.advance(100)  # past the orphan grace: the opening keeps both reservations
    assert shot(risk).reservations == 2
    journal_fact(rt, settled("W1/UP", "-4"))
    rt.advance(10)
    releases = {
        e.reservation_id: e.realized_pnl for e in journaled(rt) if isinstance(e, CapitalReleased)
    }
    assert releases == {entry.reservation_id: D(-4), scale_in.reservation_id: D(0)}
    assert shot(risk).realized_pnl_today == D(-4)
