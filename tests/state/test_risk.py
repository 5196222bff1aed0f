"""state.risk: every cap, gate and state transition of the risk book, as pure decisions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages import (
    AdoptExposure,
    Granted,
    Halt,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    Resume,
    RiskState,
)
from config.settings import RiskSettings
from state.events import Event, from_record, to_record
from state.risk import (
    DAY_S,
    STREAM,
    Assess,
    Decision,
    JournalFacts,
    RefusalReason,
    RiskBook,
    RiskCommand,
    StateCause,
    cause_of,
    daily_loss,
    daily_loss_limit,
    daily_loss_warning,
    decide,
    drawdown_pct,
    evolve,
    initial_book,
    journal_facts,
    observe_balance,
    owners_with_open_entries,
    rebuild_book,
    roll_day,
    snapshot,
    stale_releases,
)
from state.trading_events import (
    CapitalRefused,
    CapitalReleased,
    CapitalReserved,
    CapitalResized,
    PositionSettled,
    RiskStateChanged,
    WindowClosed,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DEFAULTS = RiskSettings()
D = Decimal
# For tests of the other caps: a day's loss budget of 90% of equity stays out of their way (the
# halt level must stay above the daily limit, and the caps must still nest).
ROOMY: dict[str, object] = {"daily_loss_limit_pct": D(90), "halt_drawdown_pct": D(95)}
# Where a test commits all the equity, only this much budget can be had (the limit must be
# below the halt level, which is at most 100%).
ALMOST_ALL: dict[str, object] = {"daily_loss_limit_pct": D(99), "halt_drawdown_pct": D(100)}


def reserve(
    owner: str = "W1/UP",
    *,
    window: str | None = None,
    asset: str = "BTC",
    amount: str | Decimal = "10",
    purpose: str = "entry",
    minimum: str | Decimal = "0",
) -> Reserve:
    return Reserve(
        owner=owner,
        window_id=window if window is not None else owner.split("/", maxsplit=1)[0],
        asset=asset,
        amount=D(amount),
        purpose=purpose,
        timestamp=0.0,
        minimum=D(minimum),
    )


def release(reservation_id: str, pnl: str | Decimal = "0") -> ReleaseReservation:
    return ReleaseReservation(reservation_id=reservation_id, realized_pnl=D(pnl), timestamp=0.0)


def resize(reservation_id: str, amount: str | Decimal) -> ResizeReservation:
    return ResizeReservation(reservation_id=reservation_id, amount=D(amount), timestamp=0.0)


@dataclass
class Desk:
    """A risk book driven like the actor drives it: decide, then evolve every event."""

    book: RiskBook
    now: float = T0
    settings: RiskSettings = DEFAULTS

    def send(self, command: RiskCommand) -> Decision:
        decision = decide(self.book, command, self.now, self.settings)
        self.book = reduce(evolve, decision.events, self.book)
        return decision

    def grant(self, command: Reserve) -> Granted:
        reply = self.send(command).reply
        assert isinstance(reply, Granted), reply
        return reply

    def refusal(self, command: Reserve) -> Refused:
        reply = self.send(command).reply
        assert isinstance(reply, Refused), reply
        return reply

    def lose(self, amount: str, owner: str = "LOSER/UP") -> Decision:
        granted = self.grant(reserve(owner, amount="1", purpose="entry"))
        return self.send(release(granted.reservation_id, f"-{amount}"))

    def at(self, seconds_after_t0: float) -> Desk:
        self.now = T0 + seconds_after_t0
        return self


def state_of(d: Desk) -> RiskState:
    return d.book.state


def desk(equity: str = "100", /, **risk: object) -> Desk:
    return Desk(book=initial_book(D(equity)), settings=RiskSettings.model_validate(risk))


# --- grants and caps ------------------------------------------------------------------------------


def test_a_request_within_every_cap_is_granted_in_full_and_journaled_on_the_risk_stream() -> None:
    d = desk(**ROOMY)
    decision = d.send(reserve("W1/UP", amount="10"))
    assert decision.reply == Granted(reservation_id="W1/UP/reservation-1", amount=D(10))
    (event,) = decision.events
    assert isinstance(event, CapitalReserved)
    assert (event.stream_id, event.ts, event.owner, event.window_id, event.asset) == (
        STREAM,
        T0,
        "W1/UP",
        "W1",
        "BTC",
    )
    assert (event.amount, event.purpose) == (D(10), "entry")
    assert d.book.exposure == D(10)


def test_a_position_is_clipped_to_its_cap_of_25_percent_of_equity() -> None:
    d = desk(**ROOMY)
    assert d.grant(reserve("W1/UP", amount="40")).amount == D(25)


def test_a_clip_below_the_requests_minimum_is_a_refusal_naming_the_binding_cap() -> None:
    d = desk(**ROOMY)
    decision = d.send(reserve("W1/UP", amount="40", minimum="30"))
    assert isinstance(decision.reply, Refused)
    assert decision.reply.reason == RefusalReason.MAX_POSITION
    assert "W1/UP" in decision.reply.detail
    assert "minimum 30" in decision.reply.detail
    (event,) = decision.events
    assert isinstance(event, CapitalRefused)
    assert (event.reason, event.amount, event.window_id) == ("max_position", D(40), "W1")
    assert d.book.exposure == 0


def test_a_scale_in_counts_against_its_positions_cap() -> None:
    d = desk(**ROOMY)
    d.grant(reserve("W1/UP", amount="20"))
    assert d.grant(reserve("W1/UP", amount="10", purpose="scalein")).amount == D(5)
    refused = d.refusal(reserve("W1/UP", amount="1", purpose="scalein"))
    assert refused.reason == RefusalReason.MAX_POSITION


def test_both_sides_of_one_window_share_the_window_cap() -> None:
    d = desk(**ROOMY)
    d.grant(reserve("W1/UP", amount="25"))
    granted = d.grant(reserve("W1/DOWN", amount="25"))
    assert granted.amount == D(15)  # 40% of 100, less the 25 the UP side holds


def test_windows_of_one_asset_share_the_asset_cap() -> None:
    d = desk(**ROOMY, max_window_pct=25)
    d.grant(reserve("W1/UP", amount="25"))
    d.grant(reserve("W2/UP", amount="25"))
    refused = d.refusal(reserve("W3/UP", amount="5"))
    assert refused.reason == RefusalReason.MAX_ASSET
    assert d.grant(reserve("W4/UP", asset="ETH", amount="5")).amount == D(5)


def test_the_aggregate_cap_holds_across_assets() -> None:
    d = desk(**ROOMY, max_window_pct=25, max_asset_pct=25, max_total_exposure_pct=60)
    for window, asset in (("W1", "BTC"), ("W2", "ETH")):
        d.grant(reserve(f"{window}/UP", asset=asset, amount="25"))
    assert d.grant(reserve("W3/UP", asset="SOL", amount="25")).amount == D(10)
    refused = d.refusal(reserve("W4/UP", asset="XRP", amount="1"))
    assert refused.reason == RefusalReason.MAX_TOTAL


def test_more_owners_than_max_concurrent_positions_are_refused_but_a_holder_may_scale_in() -> None:
    d = desk(**ROOMY, max_concurrent_positions=2)
    d.grant(reserve("W1/UP", amount="5"))
    d.grant(reserve("W2/UP", amount="5"))
    assert d.refusal(reserve("W3/UP", amount="5")).reason == RefusalReason.MAX_POSITIONS
    assert d.grant(reserve("W1/UP", amount="5", purpose="scalein")).amount == D(5)


def test_a_released_position_frees_its_capital_and_its_place() -> None:
    d = desk(**ROOMY, max_concurrent_positions=1)
    first = d.grant(reserve("W1/UP", amount="25"))
    d.send(release(first.reservation_id, "0"))
    assert d.book.exposure == 0
    assert d.grant(reserve("W2/UP", amount="25")).amount == D(25)


def test_concurrent_windows_can_never_spend_the_same_collateral() -> None:
    d = desk(
        **ALMOST_ALL,
        max_position_pct=100,
        max_window_pct=100,
        max_asset_pct=100,
        max_total_exposure_pct=100,
    )
    assert d.grant(reserve("W1/UP", amount="70")).amount == D(70)
    # The venue still shows all 100 (the order has not filled): reservations count anyway, and
    # only the day's loss budget of 99 (never the venue's stale 100) is left to share.
    d.book = observe_balance(d.book, D(100))
    assert d.grant(reserve("W2/UP", amount="70")).amount == D(29)
    assert d.book.exposure == D(99)
    assert d.refusal(reserve("W3/UP", amount="1")).reason == RefusalReason.DAILY_LOSS_BUDGET
    d.settings = RiskSettings.model_validate({**ALMOST_ALL, "min_balance_to_trade": D(2)})
    assert d.refusal(reserve("W4/UP", amount="1")).reason == RefusalReason.MIN_BALANCE


def test_a_venue_balance_below_the_books_free_capital_bounds_the_grant() -> None:
    d = desk(**ROOMY)
    d.book = observe_balance(d.book, D("12.345"))
    granted = d.grant(reserve("W1/UP", amount="20"))
    assert granted.amount == D("12.34")  # clipped down to whole cents


def test_below_the_minimum_balance_to_trade_nothing_is_granted() -> None:
    d = desk()
    d.book = observe_balance(d.book, D("0.99"))
    refused = d.refusal(reserve("W1/UP", amount="0.5"))
    assert refused.reason == RefusalReason.MIN_BALANCE
    assert "0.99" in refused.detail


def test_without_equity_nothing_is_granted() -> None:
    d = desk("0")
    refused = d.refusal(reserve("W1/UP", amount="1", purpose="reversal"))
    assert refused.reason == RefusalReason.NO_EQUITY


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (reserve(amount="0"), "amount 0"),
        (reserve(amount="-5"), "amount -5"),
        (reserve(amount="NaN"), "amount NaN"),
        (reserve(purpose="entyr"), "'entyr'"),
        (reserve(amount="5", minimum="6"), "minimum 6"),
        (reserve(window=""), "window ''"),
    ],
)
def test_malformed_requests_are_refused_as_invalid_and_name_the_bad_value(
    request_: Reserve, needle: str
) -> None:
    d = desk()
    refused = d.refusal(request_)
    assert refused.reason == RefusalReason.INVALID_REQUEST
    assert needle in refused.detail
    assert d.book.refusals == 1


def test_a_repeated_entry_request_gets_the_same_grant_back_and_journals_nothing() -> None:
    d = desk(**ROOMY)
    first = d.grant(reserve("W1/UP", amount="10"))
    again = d.send(reserve("W1/UP", amount="10"))
    assert again.reply == first
    assert again.events == ()
    assert d.book.exposure == D(10)


# --- resize and release ---------------------------------------------------------------------------


def test_a_resize_sets_the_reservation_to_what_was_spent_and_closes_its_entry() -> None:
    d = desk(**ROOMY)
    granted = d.grant(reserve("W1/UP", amount="20"))
    d.grant(reserve("W2/UP", amount="20"))
    assert owners_with_open_entries(d.book) == ("W1/UP", "W2/UP")
    decision = d.send(resize(granted.reservation_id, "12.5"))
    assert [type(e) for e in decision.events] == [CapitalResized]
    assert d.book.exposure == D("32.5")
    assert owners_with_open_entries(d.book) == ("W2/UP",)


def test_a_resize_above_the_grant_is_recorded_and_reported() -> None:
    d = desk()
    granted = d.grant(reserve("W1/UP", amount="10"))
    decision = d.send(resize(granted.reservation_id, "11"))
    assert d.book.exposure == D(11)
    assert any("more was spent than risk granted" in n for n in decision.notes)


@pytest.mark.parametrize("command", [resize("nope", "1"), release("nope", "-50")])
def test_a_resize_or_release_of_an_unknown_reservation_changes_nothing_and_is_noted(
    command: RiskCommand,
) -> None:
    d = desk()
    decision = d.send(command)
    assert decision.events == ()
    assert "'nope'" in decision.notes[0]
    assert d.book.equity == D(100)  # a repeated release must not count its loss twice


def test_a_release_books_its_pnl_into_equity_and_todays_figures() -> None:
    d = desk()
    granted = d.grant(reserve("W1/UP", amount="10"))
    decision = d.send(release(granted.reservation_id, "-2.5"))
    assert [type(e) for e in decision.events] == [CapitalReleased]
    assert (d.book.equity, d.book.realized_today, d.book.exposure) == (D("97.5"), D("-2.5"), D(0))


# --- daily loss -----------------------------------------------------------------------------------


def test_the_daily_loss_limit_degrades_risk_and_leaves_no_budget_even_for_a_reversal() -> None:
    d = desk()
    decision = d.lose("5")  # 5% of the day's starting equity of 100
    change = decision.events[-1]
    assert isinstance(change, RiskStateChanged)
    assert (change.old, change.new) == ("NORMAL", "DEGRADED")
    assert cause_of(change.reason) is StateCause.DAILY_LOSS
    assert d.refusal(reserve("W1/UP")).reason == RefusalReason.STATE_DEGRADED
    assert d.refusal(reserve("W1/UP", purpose="scalein")).reason == RefusalReason.STATE_DEGRADED
    # No exemption: a reversal could lose what it reserved, and the day has nothing left to
    # lose; the position's stop sells the losing side instead.
    refused = d.refusal(reserve("W2/DOWN", purpose="reversal"))
    assert refused.reason == RefusalReason.DAILY_LOSS_BUDGET


def test_a_loss_just_under_the_limit_keeps_trading_open() -> None:
    d = desk()
    d.lose("4.99")
    assert state_of(d) is RiskState.NORMAL


def test_a_warning_is_given_at_70_percent_of_the_daily_limit() -> None:
    d = desk()
    d.lose("3.49")
    assert daily_loss_warning(d.book, d.now, d.settings) is None
    d.lose("0.01")
    warning = daily_loss_warning(d.book, d.now, d.settings)
    assert warning is not None
    assert "3.50" in warning
    assert "70.00%" in warning


def test_the_day_resets_at_midnight_utc_and_degraded_recovers_after_its_cooldown() -> None:
    d = desk(recovery_cooldown_s=1800)
    d.at(DAY_S - 600).lose("6")  # 23:50
    assert state_of(d) is RiskState.DEGRADED
    d.at(DAY_S + 1).send(Assess())  # 00:00:01: a new day, but only 601 s in DEGRADED
    today = roll_day(d.book, d.now)
    assert (today.realized_today, today.day_start_equity) == (D(0), D(94))
    assert snapshot(d.book, d.now, d.settings).daily_loss_limit == D("4.7")
    assert state_of(d) is RiskState.DEGRADED
    decision = d.at(DAY_S + 1200).send(Assess())  # 00:20, 1800 s after degrading
    (change,) = decision.events
    assert isinstance(change, RiskStateChanged)
    assert cause_of(change.reason) is StateCause.RECOVERED
    assert state_of(d) is RiskState.NORMAL
    assert isinstance(d.send(reserve("W9/UP")).reply, Granted)


def test_the_days_limit_is_a_percentage_of_that_days_starting_equity() -> None:
    d = desk(degraded_drawdown_pct=10, halt_drawdown_pct=15)
    d.lose("4")
    d.at(DAY_S + 10)
    d.lose("4.79")  # under 5% of 96 = 4.80
    assert state_of(d) is RiskState.NORMAL
    d.lose("0.01")
    assert state_of(d) is RiskState.DEGRADED


def test_automatic_recoveries_stop_after_the_days_allowance() -> None:
    d = desk(max_recoveries_per_day=1, recovery_cooldown_s=60)
    profit = d.grant(reserve("P/UP", amount="1"))
    d.lose("5")
    assert state_of(d) is RiskState.DEGRADED
    d.at(100).send(release(profit.reservation_id, "1"))  # today's loss back to 4: recovered
    assert state_of(d) is RiskState.NORMAL
    # Half of the 1 left in today's loss budget, so the next loss still finds room for its grant.
    profit = d.grant(reserve("P2/UP", amount="0.5"))
    d.lose("1")
    assert state_of(d) is RiskState.DEGRADED
    d.at(200).send(release(profit.reservation_id, "1"))
    d.at(DAY_S - 1).send(Assess())
    assert state_of(d) is RiskState.DEGRADED  # second recovery today is not allowed
    d.at(DAY_S + 1).send(Assess())
    assert state_of(d) is RiskState.NORMAL


def test_no_automatic_recovery_when_the_allowance_is_zero() -> None:
    d = desk(max_recoveries_per_day=0)
    d.lose("5")
    d.at(3 * DAY_S).send(Assess())
    assert state_of(d) is RiskState.DEGRADED


# --- the daily loss budget (the pre-trade gate of the daily loss limit) ---------------------------


def test_the_daily_loss_budget_clips_a_grant_to_what_today_may_still_lose() -> None:
    d = desk("1000")  # the paper run's defaults: a position may hold 250, the day may lose 50
    held = d.grant(reserve("W1/UP", amount="250"))
    assert held.amount == D(50)
    assert d.refusal(reserve("W2/UP", amount="250")).reason == RefusalReason.DAILY_LOSS_BUDGET
    d.send(release(held.reservation_id, "-50"))  # the worst the open position could do
    assert (daily_loss(d.book), state_of(d)) == (D(50), RiskState.DEGRADED)  # the limit, no more


def test_a_clipped_grant_leaves_exactly_the_limit_for_realised_loss_and_reservations() -> None:
    d = desk()
    d.lose("1.5")
    assert d.grant(reserve("W1/UP", amount="25")).amount == D("3.5")  # 5 - 1.5 lost
    assert daily_loss(d.book) + d.book.exposure == daily_loss_limit(d.book, d.settings) == D(5)
    assert state_of(d) is RiskState.NORMAL


def test_the_budget_clips_in_whole_cents_rounded_down() -> None:
    d = desk("100.999")  # a limit of 5.04995
    assert d.grant(reserve("W1/UP", amount="25")).amount == D("5.04")


def test_a_grant_is_refused_once_realised_loss_and_reservations_reach_the_limit() -> None:
    d = desk()
    d.lose("3")
    assert d.grant(reserve("W1/UP", amount="2")).amount == D(2)
    assert state_of(d) is RiskState.NORMAL  # the alarm has not fired: the gate comes first
    decision = d.send(reserve("W2/UP", amount="1"))
    assert isinstance(decision.reply, Refused)
    assert decision.reply.reason == RefusalReason.DAILY_LOSS_BUDGET
    assert "realised loss 3" in decision.reply.detail
    assert "reserved 2" in decision.reply.detail
    assert "daily loss limit 5" in decision.reply.detail
    (event,) = decision.events
    assert isinstance(event, CapitalRefused)
    assert event.reason == "daily_loss_budget"
    assert d.book.exposure == D(2)


def test_a_clip_of_the_budget_below_the_requests_minimum_is_a_budget_refusal() -> None:
    d = desk()
    d.lose("2")
    refused = d.refusal(reserve("W1/UP", amount="10", minimum="4"))
    assert refused.reason == RefusalReason.DAILY_LOSS_BUDGET
    assert "at most 3.00 left, minimum 4" in refused.detail
    assert d.grant(reserve("W2/UP", amount="10", minimum="3")).amount == D(3)


def test_the_budget_binds_a_hedged_reversal_too() -> None:
    d = desk()
    d.lose("4")
    assert d.grant(reserve("W1/DOWN", amount="10", purpose="reversal")).amount == D(1)
    refused = d.refusal(reserve("W2/DOWN", amount="10", purpose="reversal"))
    assert refused.reason == RefusalReason.DAILY_LOSS_BUDGET


@pytest.mark.parametrize(
    ("pnl", "budget_after"),
    [
        ("0", "2"),  # the reservation returned whole: its budget is back
        ("1", "3"),  # a profit frees more than was reserved: today's loss shrank
        ("-0.5", "1.5"),  # a loss spends part of it for good
        ("-2", "0"),  # a loss of all it reserved spends all of it
    ],
)
def test_a_release_returns_the_reservations_budget_less_what_it_lost(
    pnl: str, budget_after: str
) -> None:
    d = desk()
    d.lose("3")
    held = d.grant(reserve("W1/UP", amount="10"))
    assert held.amount == D(2)
    assert d.refusal(reserve("W2/UP", amount="1")).reason == RefusalReason.DAILY_LOSS_BUDGET
    d.send(release(held.reservation_id, pnl))
    # A reversal, so that neither DEGRADED (after the last case) nor W2's cooldown applies.
    ask = reserve("W3/DOWN", amount="10", purpose="reversal")
    if D(budget_after) == 0:
        assert d.refusal(ask).reason == RefusalReason.DAILY_LOSS_BUDGET
    else:
        assert d.grant(ask).amount == D(budget_after)


def test_reservations_held_over_midnight_count_against_the_new_days_budget() -> None:
    d = desk()
    d.at(DAY_S - 60).grant(reserve("W1/UP", amount="4"))
    d.at(DAY_S + 60)
    assert d.grant(reserve("W2/UP", amount="4")).amount == D(1)  # 5% of 100, less the 4 held


def test_a_limit_tightened_below_what_is_reserved_grants_nothing_more() -> None:
    d = desk(**ROOMY)
    d.grant(reserve("W1/UP", amount="20"))
    d.settings = DEFAULTS  # 5% of 100 now, and 20 are already reserved
    assert d.refusal(reserve("W2/UP", amount="1")).reason == RefusalReason.DAILY_LOSS_BUDGET
    assert "leave 0 of the daily loss limit 5" in d.refusal(reserve("W3/UP")).detail


# --- drawdown and the kill switch -----------------------------------------------------------------


def test_a_drawdown_over_days_degrades_and_does_not_recover_at_the_day_reset() -> None:
    d = desk()
    d.lose("4.9")
    d.at(DAY_S + 10).lose("3.2")  # each day under its limit; 8.1% below the peak
    assert state_of(d) is RiskState.DEGRADED
    assert cause_of(d.book.state_reason) is StateCause.DRAWDOWN
    assert drawdown_pct(d.book) == D("8.1")
    assert d.refusal(reserve("W1/UP")).reason == RefusalReason.STATE_DEGRADED
    # A reversal is still let through, within what today may still lose: 5% of 95.1 less 3.2.
    assert d.grant(reserve("W2/DOWN", amount="10", purpose="reversal")).amount == D("1.55")
    d.at(5 * DAY_S).send(Assess())
    assert state_of(d) is RiskState.DEGRADED


def test_the_halt_drawdown_fires_the_kill_switch_which_never_recovers_by_itself() -> None:
    d = desk(daily_loss_limit_pct=11, halt_drawdown_pct=12)
    decision = d.lose("12")
    states = [(e.old, e.new) for e in decision.events if isinstance(e, RiskStateChanged)]
    assert states == [("NORMAL", "HALTED")]
    assert cause_of(d.book.state_reason) is StateCause.DRAWDOWN_HALT
    assert d.refusal(reserve("W1/UP", purpose="reversal")).reason == RefusalReason.STATE_HALTED
    d.at(10 * DAY_S).send(Assess())
    assert state_of(d) is RiskState.HALTED


def test_resume_clears_the_halt_and_measures_drawdown_from_the_equity_now() -> None:
    d = desk(daily_loss_limit_pct=11, halt_drawdown_pct=12)
    d.lose("12")
    d.at(DAY_S + 5)
    decision = d.send(Resume(reason="checked the losses"))
    assert decision.reply is RiskState.NORMAL
    assert cause_of(d.book.state_reason) is StateCause.MANUAL_RESUME
    assert (d.book.peak_equity, drawdown_pct(d.book)) == (D(88), D(0))
    assert isinstance(d.send(reserve("W1/UP")).reply, Granted)


def test_resume_cannot_override_the_days_loss_limit() -> None:
    d = desk()
    d.lose("5")
    d.send(Halt(reason="operator"))
    assert d.send(Resume()).reply is RiskState.DEGRADED
    decision = d.send(Resume())
    assert decision.reply is RiskState.DEGRADED
    assert decision.events == ()
    assert "until 00:00 UTC" in decision.notes[0]


def test_a_manual_halt_refuses_everything_and_a_second_halt_journals_nothing() -> None:
    d = desk()
    d.grant(reserve("W1/UP"))
    decision = d.send(Halt(reason="invariant 4 violated"))
    assert decision.reply is RiskState.HALTED
    (change,) = decision.events
    assert isinstance(change, RiskStateChanged)
    assert change.reason == "manual_halt: invariant 4 violated"
    assert d.send(Halt(reason="again")).events == ()
    assert d.refusal(reserve("W2/UP", purpose="reversal")).reason == RefusalReason.STATE_HALTED


def test_resume_from_normal_changes_nothing() -> None:
    d = desk()
    decision = d.send(Resume())
    assert (decision.reply, decision.events) == (RiskState.NORMAL, ())


def test_tightened_thresholds_take_effect_at_the_next_assessment() -> None:
    d = desk()
    d.lose("3")
    assert state_of(d) is RiskState.NORMAL
    d.settings = RiskSettings(daily_loss_limit_pct=D(3))
    d.send(Assess())
    assert state_of(d) is RiskState.DEGRADED


# --- signal cooldown ------------------------------------------------------------------------------


def test_after_a_refusal_the_window_is_refused_without_re_evaluation_until_the_cooldown_ends() -> (
    None
):
    d = desk(max_concurrent_positions=1, signal_cooldown_s=30)
    holder = d.grant(reserve("W0/UP", amount="5"))
    assert d.refusal(reserve("W1/UP")).reason == RefusalReason.MAX_POSITIONS
    d.send(release(holder.reservation_id))  # capacity is free again...
    d.at(29)
    cooled = d.refusal(reserve("W1/DOWN"))  # ...but the window is still cooling down
    assert cooled.reason == RefusalReason.SIGNAL_COOLDOWN
    assert isinstance(d.send(reserve("W2/UP")).reply, Granted)  # other windows are unaffected
    d.send(release("W2/UP/reservation-2"))
    d.at(30)  # cooldown refusals did not extend it
    assert isinstance(d.send(reserve("W1/UP")).reply, Granted)


def test_a_hedged_reversal_is_not_blocked_by_the_windows_cooldown() -> None:
    d = desk(signal_cooldown_s=30)
    d.refusal(reserve("W1/UP", amount="40", minimum="30"))
    assert d.refusal(reserve("W1/DOWN")).reason == RefusalReason.SIGNAL_COOLDOWN
    assert isinstance(d.send(reserve("W1/DOWN", purpose="reversal")).reply, Granted)


# --- snapshot, fold, ids --------------------------------------------------------------------------


def test_the_snapshot_reports_the_books_figures() -> None:
    d = desk()
    d.grant(reserve("W1/UP", amount="2"))
    d.grant(reserve("W2/UP", amount="1"))
    d.lose("2")
    d.refusal(reserve("W3/UP", amount="0"))
    d.book = observe_balance(d.book, D(80))
    shot = snapshot(d.book, d.now, d.settings)
    assert shot.state is RiskState.NORMAL
    assert (shot.equity, shot.exposure, shot.collateral) == (D(98), D(3), D(80))
    assert (shot.reservations, shot.open_positions, shot.refusals) == (2, 2, 1)
    assert (shot.realized_pnl_today, shot.daily_loss_limit, shot.drawdown_pct) == (
        D(-2),
        D(5),
        D(2),
    )


def test_cause_of_reads_the_code_in_front_of_a_reason() -> None:
    assert cause_of("daily_loss: lost 5") is StateCause.DAILY_LOSS
    assert cause_of("manual_halt: a: b") is StateCause.MANUAL_HALT
    assert cause_of("something else") is None


def test_evolve_refuses_an_event_that_names_no_outstanding_reservation() -> None:
    book = initial_book(D(100))
    with pytest.raises(ValueError, match="'ghost'"):
        evolve(
            book,
            CapitalReleased(stream_id=STREAM, ts=T0, reservation_id="ghost", realized_pnl=D(0)),
        )


def test_risk_events_survive_the_journal_codec() -> None:
    d = desk()
    granted = d.grant(reserve("W1/UP", amount="10"))
    events = [
        *d.send(resize(granted.reservation_id, "7")).events,
        *d.send(Halt(reason="x")).events,
        *d.send(reserve("W2/UP")).events,
    ]
    assert [from_record(to_record(e)) for e in events] == events


# --- properties -----------------------------------------------------------------------------------

OWNERS = ("W1/UP", "W1/DOWN", "W2/UP", "W2/DOWN", "W3/UP", "W4/DOWN", "W5/UP")
ASSET_OF_WINDOW = {"W1": "BTC", "W2": "BTC", "W3": "ETH", "W4": "ETH", "W5": "SOL"}
money = st.decimals(min_value=D("0.01"), max_value=D(60), places=2)


@st.composite
def risk_settings(draw: st.DrawFn) -> RiskSettings:
    # Nested caps a few steps apart, so every one of them is the binding one in some examples.
    gaps = st.sampled_from([0, 10, 35])
    position = draw(st.integers(5, 35))
    window = min(100, position + draw(gaps))
    asset = min(100, window + draw(gaps))
    total = min(100, asset + draw(gaps))
    # From a budget tighter than any cap to one looser than most, so that in some examples the
    # day's loss budget binds and in others the caps do.
    daily_loss_limit = draw(st.sampled_from([2, 5, 11, 40, 90]))
    return RiskSettings(
        daily_loss_limit_pct=D(daily_loss_limit),
        halt_drawdown_pct=D(max(12, daily_loss_limit + 5)),
        max_position_pct=D(position),
        max_window_pct=D(window),
        max_asset_pct=D(asset),
        max_total_exposure_pct=D(total),
        max_concurrent_positions=draw(st.integers(2, 7)),
        signal_cooldown_s=draw(st.sampled_from([0.0, 30.0])),
        recovery_cooldown_s=60.0,
    )


reserves = st.builds(
    lambda owner, amount, purpose, minimum: reserve(
        owner,
        asset=ASSET_OF_WINDOW[owner.split("/")[0]],
        amount=amount,
        purpose=purpose,
        minimum=min(minimum, amount),
    ),
    st.sampled_from(OWNERS),
    money,
    st.sampled_from(["entry", "scalein", "scalein", "reversal", "retry"]),
    st.sampled_from([D(0), D(0), D(1), D(5)]),
)
# Requests dominate, so that most examples press against the caps; the rest interleave.
commands = st.one_of(
    reserves,
    reserves,
    reserves,
    reserves,
    # Sizes and P&L as fractions of the reservation: mostly what can happen (spent at most the
    # grant, lost at most the reservation), sometimes more (a fill above the grant, fees).
    st.builds(
        lambda i, f: ("resize", i, f),
        st.integers(0, 20),
        st.sampled_from([D(0), D("0.5"), D(1), D(1), D("1.5")]),
    ),
    st.builds(
        lambda i, f: ("release", i, f),
        st.integers(0, 20),
        st.one_of(*[st.decimals(min_value=D(-1), max_value=D(1), places=2)] * 3, st.just(D(-2))),
    ),
    st.builds(lambda c: ("balance", c), st.decimals(min_value=D(0), max_value=D(150), places=2)),
    st.builds(lambda s: ("wait", s), st.sampled_from([1.0, 45.0, 3600.0, DAY_S])),
    st.sampled_from([Halt(reason="property"), Resume(), Resume()]),
)


def _resolve(d: Desk, command: object) -> RiskCommand | None:
    """Turn an abstract step into a command against whatever the book holds now."""
    match command:
        case ("resize" | "release" as kind, int() as index, Decimal() as fraction):
            if not d.book.reservations:
                return None
            held = d.book.reservations[index % len(d.book.reservations)]
            value = (held.amount * fraction).quantize(D("0.01"), rounding=ROUND_DOWN)
            if kind == "resize":
                return resize(held.reservation_id, value)
            return release(held.reservation_id, value)
        case ("balance", Decimal() as collateral):
            d.book = observe_balance(d.book, collateral)
            return None
        case ("wait", float() as seconds):
            d.now += seconds
            return Assess()
        case _:
            assert isinstance(command, Reserve | Halt | Resume)
            return command


@settings(max_examples=500, deadline=None)
@given(risk_settings(), st.lists(commands, min_size=10, max_size=60))
def test_risk_never_approves_exposure_beyond_any_cap_whatever_the_interleaving(
    risk: RiskSettings, steps: list[object]
) -> None:
    d = Desk(book=initial_book(D(100)), settings=risk)
    journal: list[Event] = []
    # Until something spends more than its reservation, what is reserved plus what today lost
    # never exceeds today's loss limit (the limit is not tightened within an example).
    within_reservations = True
    for step in steps:
        command = _resolve(d, step)
        if command is None:
            continue
        before = d.book
        if isinstance(command, ResizeReservation | ReleaseReservation):
            held_before = before.find(command.reservation_id)
            assert held_before is not None
            if isinstance(command, ResizeReservation):
                spent_beyond = command.amount > held_before.amount
            else:
                spent_beyond = -command.realized_pnl > held_before.amount
            within_reservations = within_reservations and not spent_beyond
        decision = d.send(command)
        journal.extend(decision.events)
        today = roll_day(d.book, d.now)
        at_risk_today = daily_loss(today) + today.exposure
        if within_reservations:
            assert at_risk_today <= daily_loss_limit(today, risk)
        if not isinstance(decision.reply, Granted) or not decision.events:
            continue
        # Whatever was spent before, a grant never takes today's worst case past the limit.
        assert at_risk_today <= daily_loss_limit(today, risk)
        # A new grant: check every cap against the equity it was granted on.
        equity = d.book.equity
        book = d.book
        grant = decision.reply
        (held,) = [r for r in book.reservations if r.reservation_id == grant.reservation_id]

        def used(attr: str, key: str, book: RiskBook = book) -> Decimal:
            return sum((r.amount for r in book.reservations if getattr(r, attr) == key), D(0))

        assert grant.amount > 0
        assert used("owner", held.owner) <= equity * risk.max_position_pct / 100
        assert used("window_id", held.window_id) <= equity * risk.max_window_pct / 100
        assert used("asset", held.asset) <= equity * risk.max_asset_pct / 100
        assert book.exposure <= equity * risk.max_total_exposure_pct / 100
        assert book.exposure <= equity
        assert len(book.owners) <= risk.max_concurrent_positions
        if before.collateral is not None:
            assert grant.amount <= before.collateral
        assert before.state is not RiskState.HALTED
        assert book.state is RiskState.NORMAL or held.purpose == "reversal"
    # The fold of what was journaled is the book the decisions built (minus the unjournaled
    # venue balance): what a restarted risk actor starts from.
    rebuilt = roll_day(rebuild_book(D(100), journal), d.now)
    assert rebuilt == roll_day(replace(d.book, collateral=None), d.now)


@given(st.lists(st.sampled_from(["lose", "win", "wait"]), max_size=40))
def test_a_day_never_loses_more_than_its_limit_before_entries_close(steps: list[str]) -> None:
    d = desk()
    for step in steps:
        was_open = d.book.state is RiskState.NORMAL
        if step == "wait":
            d.now += 6 * 3600
            d.send(Assess())
            continue
        reply = d.send(reserve("X/UP", amount="1")).reply
        if isinstance(reply, Granted):
            assert was_open or d.book.state is RiskState.NORMAL
            d.send(release(reply.reservation_id, "-1" if step == "lose" else "0.5"))
        limit = d.book.day_start_equity * d.settings.daily_loss_limit_pct / 100
        if -d.book.realized_today >= limit:
            assert state_of(d) is not RiskState.NORMAL


# --- reconciliation with the journal ----------------------------------------------------------------


def test_a_settled_owner_is_released_with_its_pnl_on_the_reservation_it_opened_with() -> None:
    desk = Desk(book=initial_book(D(100)), settings=RiskSettings.model_validate(ROOMY))
    entry = desk.grant(reserve("W1/UP", amount="10"))
    scale_in = desk.grant(reserve("W1/UP", amount="5", purpose="scalein"))
    other = desk.grant(reserve("W2/UP", amount="5", asset="ETH"))
    facts = JournalFacts(
        opened={"W1/UP": entry.reservation_id, "W2/UP": other.reservation_id},
        settled={"W1/UP": D(-4)},
    )
    releases = stale_releases(desk.book, facts, T0 + 5, orphan_grace_s=120.0)
    assert [(r.reservation_id, r.realized_pnl) for r, _ in releases] == [
        (entry.reservation_id, D(-4)),
        (scale_in.reservation_id, D(0)),
    ]
    for r, _ in releases:
        desk.send(r)
    # Applied twice (a tick racing the position's own release), the P&L counts once.
    for r, _ in stale_releases(desk.book, facts, T0 + 5, orphan_grace_s=120.0):
        desk.send(r)
    assert (desk.book.realized_today, len(desk.book.reservations)) == (D(-4), 1)


def test_an_owner_that_never_opened_is_released_after_the_grace_or_once_its_window_closed() -> None:
    desk = Desk(book=initial_book(D(100)), settings=RiskSettings.model_validate(ROOMY))
    lost = desk.grant(reserve("W1/UP", amount="10"))
    closed = desk.grant(reserve("W2/UP", amount="10", asset="ETH"))
    opened = desk.grant(reserve("W3/UP", amount="10", asset="SOL"))
    facts = JournalFacts(opened={"W3/UP": opened.reservation_id}, closed_windows=frozenset({"W2"}))
    assert [r.reservation_id for r, _ in stale_releases(desk.book, facts, T0 + 119, 120.0)] == [
        closed.reservation_id
    ]
    late = stale_releases(desk.book, facts, T0 + 120, 120.0)
    assert [(r.reservation_id, r.realized_pnl) for r, _ in late] == [
        (lost.reservation_id, D(0)),
        (closed.reservation_id, D(0)),
    ]
    assert "has not opened 120s after the grant" in late[0][1]
    assert stale_releases(desk.book, facts, T0 + 10_000, None)[0][0].reservation_id == (
        closed.reservation_id
    )


def test_journal_facts_fold_openings_settlements_and_closed_windows() -> None:
    facts = journal_facts(
        [
            PositionSettled(
                stream_id="position/W1/UP",
                ts=T0,
                position_id="W1/UP",
                how="sold",
                size=D(0),
                cost=D(5),
                proceeds=D(6),
                fees=D(0),
                realized_pnl=D(1),
            ),
            WindowClosed(stream_id="window/W2", ts=T0, window_id="W2", winner=None, traded=False),
        ]
    )
    assert (dict(facts.settled), dict(facts.opened), facts.closed_windows) == (
        {"W1/UP": D(1)},
        {},
        frozenset({"W2"}),
    )


# --- the reconciliation gate and adopted exposure ---------------------------------------------------


def test_before_the_first_reconciliation_entries_are_refused_without_a_signal_cooldown() -> None:
    d = desk(**ROOMY)
    d.book = replace(d.book, trading_closed="trading opens after the first reconciliation")
    refused = d.refusal(reserve("W1/UP"))
    assert refused.reason == "not_reconciled"
    assert "W1" not in d.book.last_refusal_at  # the window may enter as soon as trading opens
    d.book = replace(d.book, trading_closed=None)
    d.grant(reserve("W1/UP"))


def test_adopted_shares_are_always_recorded_once_and_count_against_the_caps() -> None:
    d = desk(**ROOMY)
    d.book = replace(d.book, state=RiskState.HALTED)  # even halted: the money is spent already
    adopt = AdoptExposure(
        owner="W9~adopted/UP", window_id="W9", asset="BTC", amount=D(30), timestamp=0.0
    )
    first = d.send(adopt)
    assert isinstance(first.reply, Granted)
    (event,) = first.events
    assert isinstance(event, CapitalReserved)
    assert (event.purpose, event.amount) == ("adopted", D(30))
    again = d.send(adopt)
    assert again.reply == first.reply
    assert again.events == ()
    assert d.book.exposure == D(30)


def test_no_entry_is_funded_in_a_window_that_holds_adopted_shares() -> None:
    d = desk(**ROOMY)
    d.send(
        AdoptExposure(
            owner="W1~adopted/UP", window_id="W1", asset="BTC", amount=D(3), timestamp=0.0
        )
    )
    refused = d.refusal(reserve("W1/DOWN", window="W1"))
    assert refused.reason == "adopted_window"


def test_journal_facts_accumulate_onto_what_is_known() -> None:
    first = journal_facts(
        [WindowClosed(stream_id="window/W2", ts=T0, window_id="W2", winner=None, traded=False)]
    )
    later = journal_facts(
        [WindowClosed(stream_id="window/W3", ts=T0, window_id="W3", winner=None, traded=False)],
        first,
    )
    assert later.closed_windows == frozenset({"W2", "W3"})
    assert first.closed_windows == frozenset({"W2"})  # folding does not change what it was given
