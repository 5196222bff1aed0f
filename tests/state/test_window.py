"""The window's pure state and decisions: observation, anchoring, entries once per side, the
entry band, cooldown after a refusal, reversals once per window, closing and stopping."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages import Granted, Outcome, ReversalRequest, SpotUpdate, position_id
from state.events import ActorStarted
from state.fold import rebuild
from state.trading_events import EntryDecided, SignalScored, WindowAnchored, WindowClosed
from state.window import (
    ENTRY,
    REVERSAL,
    Anchor,
    EntryIntent,
    WindowState,
    anchor,
    close,
    confidence_in,
    decide,
    decide_reversal,
    discovered,
    entry_blocked,
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
from venues.types import BookLevel, BookSnapshot, ConditionId, MarketWindow, TokenId

D = Decimal
START = 1_767_225_900.0
END = START + 900
WINDOW = MarketWindow(
    asset="BTC",
    timeframe_s=900,
    start=START,
    end=END,
    condition_id=ConditionId("0xcond"),
    up_token=TokenId("tok-up"),
    down_token=TokenId("tok-down"),
    slug="btc-updown-15m-1767225900",
)
WID = "BTC-15m-2026-01-01T00:05Z"
UP_PID = position_id(WID, Outcome.UP)
DOWN_PID = position_id(WID, Outcome.DOWN)
SETTINGS = StrategySettings()
IN_BAND = START + 300
BANKROLL = D(1000)


def book(token: str, bid: str, ask: str, at: float) -> BookSnapshot:
    return BookSnapshot(
        condition_id=WINDOW.condition_id,
        token_id=TokenId(token),
        bids=(BookLevel(D(bid), D(100)),),
        asks=(BookLevel(D(ask), D(100)),),
        tick_size=D("0.01"),
        timestamp=at,
    )


def spot(price: str, at: float, asset: str = "BTC") -> SpotUpdate:
    return SpotUpdate(asset=asset, price=D(price), timestamp=at)


def opened(at: float = START) -> WindowState:
    """A window that saw the open: price to beat 100, UP at 0.50, anchored exactly."""
    state = initial_state(WINDOW)
    state = observe_spot(state, spot("100", at), SETTINGS)
    state = observe_book(state, book("tok-up", "0.49", "0.51", at))
    state = observe_book(state, book("tok-down", "0.49", "0.51", at))
    event = anchor(state, at, SETTINGS)
    assert event is not None
    return evolve(state, event)


def moved(state: WindowState, now: float, direction: Outcome = Outcome.UP) -> WindowState:
    """The reference moved 0.2 % in `direction`; the market followed halfway."""
    if direction is Outcome.UP:
        price, up, down = "100.2", ("0.61", "0.62"), ("0.38", "0.39")
    else:
        price, up, down = "99.8", ("0.38", "0.39"), ("0.61", "0.62")
    state = observe_spot(state, spot(price, now), SETTINGS)
    state = observe_book(state, book("tok-up", *up, now))
    return observe_book(state, book("tok-down", *down, now))


def enter(state: WindowState, now: float, amount: Decimal | None = None) -> WindowState:
    """Decide, have risk grant the amount asked (or `amount`), and fold the entry in."""
    decision = decide(state, now=now, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.intent is not None, decision.skip
    grant = Granted(
        reservation_id="r1", amount=decision.intent.amount if amount is None else amount
    )
    event = granted(state, decision.intent, grant, now=now, settings=SETTINGS)
    assert isinstance(event, EntryDecided)
    return evolve(state, event)


# --- facts and observations ---------------------------------------------------------------------


def test_discovery_is_journaled_once():
    state = initial_state(WINDOW)
    event = discovered(state, START - 300)
    assert event is not None
    assert event.window_id == WID
    assert event.stream_id == f"window/{WID}"
    assert (event.up_token, event.down_token) == ("tok-up", "tok-down")
    assert discovered(evolve(state, event), START - 200) is None


def test_spots_of_other_assets_and_out_of_order_spots_are_ignored():
    state = observe_spot(initial_state(WINDOW), spot("100", START + 2), SETTINGS)
    assert observe_spot(state, spot("3300", START + 3, asset="ETH"), SETTINGS) == state
    assert observe_spot(state, spot("90", START + 1), SETTINGS) == state


def test_books_of_other_tokens_are_ignored():
    state = initial_state(WINDOW)
    assert observe_book(state, book("someone-else", "0.4", "0.5", START)) == state


def test_the_price_to_beat_is_the_first_reference_price_at_or_after_the_open():
    state = initial_state(WINDOW)
    state = observe_spot(state, spot("99", START - 1), SETTINGS)
    state = observe_spot(state, spot("100", START), SETTINGS)
    state = observe_spot(state, spot("101", START + 1), SETTINGS)
    state = observe_book(state, book("tok-up", "0.44", "0.46", START))
    event = anchor(state, START + 1, SETTINGS)
    assert event is not None
    assert (event.price_to_beat, event.open_mid_up, event.exact) == (D(100), D("0.45"), True)


def test_no_anchor_before_both_reference_points_are_seen():
    state = observe_spot(initial_state(WINDOW), spot("100", START), SETTINGS)
    assert anchor(state, START, SETTINGS) is None
    before_open = observe_book(initial_state(WINDOW), book("tok-up", "0.4", "0.5", START - 5))
    assert anchor(observe_spot(before_open, spot("100", START), SETTINGS), START, SETTINGS) is None


def test_a_window_first_seen_after_the_open_is_anchored_inexactly_and_does_not_enter():
    late = START + 200
    state = opened(at=late)
    assert state.anchor == Anchor(price_to_beat=D(100), open_mid_up=D("0.50"), is_exact=False)
    state = moved(state, IN_BAND)
    decision = decide(state, now=IN_BAND, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.intent is None
    assert decision.scored is not None
    assert decision.scored.reason == "inexact_anchor"


def test_the_anchor_is_journaled_once():
    state = opened()
    assert anchor(state, START + 1, SETTINGS) is None


# --- entries ------------------------------------------------------------------------------------


def test_nothing_is_scored_before_the_window_can_be_scored():
    decision = decide(initial_state(WINDOW), now=IN_BAND, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.scored is None
    assert decision.intent is None
    assert decision.skip is not None
    assert decision.skip.reason == "no_anchor"


def test_a_strong_move_inside_the_band_is_scored_and_asks_to_enter():
    state = moved(opened(), IN_BAND)
    decision = decide(state, now=IN_BAND, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.intent is not None
    assert decision.intent.outcome is Outcome.UP
    assert decision.intent.position_id == UP_PID
    assert decision.intent.purpose == ENTRY
    assert decision.intent.price == D("0.62")
    scored = decision.scored
    assert isinstance(scored, SignalScored)
    assert (scored.decision, scored.reason, scored.mid_up) == (
        "enter_up",
        "gates_passed",
        D("0.615"),
    )
    assert scored.confidence_additive > D("0.6")
    assert scored.confidence_bayesian > D("0.615")


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (START + 30, "before_entry_band"),
        (END - 60, "after_entry_band"),
    ],
)
def test_no_entry_outside_the_band_but_the_score_is_still_journaled(now, reason):
    state = moved(opened(), now)
    decision = decide(state, now=now, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.intent is None
    assert decision.scored is not None
    assert (decision.scored.decision, decision.scored.reason) == ("skip", reason)


def test_a_stale_reference_price_is_not_decided_on():
    state = moved(opened(), IN_BAND)
    later = IN_BAND + SETTINGS.max_data_age_s + 1
    decision = decide(state, now=later, bankroll=BANKROLL, settings=SETTINGS)
    assert decision.scored is None
    assert decision.skip is not None
    assert decision.skip.reason == "stale_reference"


def test_without_a_bankroll_the_window_skips():
    state = moved(opened(), IN_BAND)
    assert wants_bankroll(state, IN_BAND, SETTINGS)
    decision = decide(state, now=IN_BAND, bankroll=None, settings=SETTINGS)
    assert decision.intent is None
    assert decision.scored is not None
    assert decision.scored.reason == "no_bankroll"


def test_the_bankroll_is_wanted_only_when_an_entry_is_possible():
    assert not wants_bankroll(moved(opened(), START + 10), START + 10, SETTINGS)
    assert not wants_bankroll(initial_state(WINDOW), IN_BAND, SETTINGS)


def test_a_side_entered_is_never_entered_again():
    state = enter(moved(opened(), IN_BAND), IN_BAND)
    assert state.taken == frozenset({Outcome.UP})
    settings_two = SETTINGS.model_copy(update={"max_entries_per_window": 2})
    again = decide(
        moved(state, IN_BAND + 5), now=IN_BAND + 5, bankroll=BANKROLL, settings=settings_two
    )
    assert again.intent is None
    assert again.skip is not None
    assert again.skip.reason == "side_taken"


def test_the_entry_count_is_capped_per_window():
    state = enter(moved(opened(), IN_BAND), IN_BAND)
    later = IN_BAND + 60
    decision = decide(
        moved(state, later, Outcome.DOWN), now=later, bankroll=BANKROLL, settings=SETTINGS
    )
    assert decision.skip is not None
    assert decision.skip.reason == "max_entries"


def test_with_two_entries_allowed_the_other_side_can_be_entered_once():
    two = SETTINGS.model_copy(update={"max_entries_per_window": 2})
    state = moved(opened(), IN_BAND)
    decision = decide(state, now=IN_BAND, bankroll=BANKROLL, settings=two)
    assert decision.intent is not None
    grant = Granted(reservation_id="r1", amount=decision.intent.amount)
    first = granted(state, decision.intent, grant, now=IN_BAND, settings=two)
    assert isinstance(first, EntryDecided)
    state = evolve(state, first)
    later = IN_BAND + 60
    second = decide(moved(state, later, Outcome.DOWN), now=later, bankroll=BANKROLL, settings=two)
    assert second.intent is not None
    assert second.intent.outcome is Outcome.DOWN


def test_a_refusal_starts_the_cooldown():
    state = moved(opened(), IN_BAND)
    cooled = refused(state, IN_BAND, SETTINGS)
    during = IN_BAND + SETTINGS.signal_cooldown_s - 1
    blocked = entry_blocked(moved(cooled, during), during, SETTINGS)
    assert blocked is not None
    assert blocked.reason == "cooldown"
    after = IN_BAND + SETTINGS.signal_cooldown_s
    assert decide(moved(cooled, after), now=after, bankroll=BANKROLL, settings=SETTINGS).intent


def test_the_reserve_request_names_the_position_and_the_collateral():
    state = moved(opened(), IN_BAND)
    intent = EntryIntent(
        position_id=UP_PID, outcome=Outcome.UP, price=D("0.62"), size=D(50), purpose=ENTRY
    )
    request = reserve_request(state, intent, now=IN_BAND, settings=SETTINGS)
    assert (request.owner, request.window_id, request.asset) == (UP_PID, WID, "BTC")
    assert (request.amount, request.purpose, request.timestamp) == (D("31.00"), ENTRY, IN_BAND)
    assert request.minimum == D("3.10")  # 5 shares at 0.62: risk grants no crumbs


def test_a_smaller_grant_sizes_the_entry_down_truncated():
    state = moved(opened(), IN_BAND)
    intent = EntryIntent(
        position_id=UP_PID, outcome=Outcome.UP, price=D("0.62"), size=D(50), purpose=ENTRY
    )
    event = granted(
        state, intent, Granted(reservation_id="r9", amount=D(10)), now=IN_BAND, settings=SETTINGS
    )
    assert isinstance(event, EntryDecided)
    assert event.size == D("16.12")  # 10 / 0.62 = 16.129...
    assert event.reservation_id == "r9"
    assert event.event_id == f"window/{WID}:decided:{UP_PID}"


def test_a_grant_too_small_for_the_minimum_size_is_skipped():
    state = moved(opened(), IN_BAND)
    intent = EntryIntent(
        position_id=UP_PID, outcome=Outcome.UP, price=D("0.62"), size=D(50), purpose=ENTRY
    )
    result = granted(
        state, intent, Granted(reservation_id="r9", amount=D(3)), now=IN_BAND, settings=SETTINGS
    )
    assert isinstance(result, Skip)
    assert result.reason == "granted_too_small"


def test_a_rebuilt_state_knows_the_sides_it_entered():
    state = enter(moved(opened(), IN_BAND), IN_BAND)
    journaled = [
        event
        for event in (
            discovered(initial_state(WINDOW), START - 300),
            WindowAnchored(
                stream_id=state.stream_id,
                ts=START,
                window_id=WID,
                price_to_beat=D(100),
                open_mid_up=D("0.5"),
                exact=True,
            ),
            EntryDecided(
                stream_id=state.stream_id,
                ts=IN_BAND,
                window_id=WID,
                position_id=UP_PID,
                outcome="UP",
                price=D("0.62"),
                size=D(50),
                purpose=ENTRY,
                reservation_id="r1",
            ),
        )
        if event is not None
    ]
    rebuilt = rebuild(journaled, initial_state(WINDOW), evolve)
    assert rebuilt.taken == frozenset({Outcome.UP})
    assert rebuilt.is_discovered
    later = IN_BAND + 60
    assert (
        decide(moved(rebuilt, later), now=later, bankroll=BANKROLL, settings=SETTINGS).intent
        is None
    )


def test_an_event_of_another_stream_is_a_bug():
    event = ActorStarted(stream_id="lifecycle/x", ts=0.0, name="x", incarnation=1)
    with pytest.raises(TypeError, match="ActorStarted"):
        evolve(initial_state(WINDOW), event)


moves = st.lists(
    st.tuples(st.integers(min_value=1, max_value=60), st.sampled_from(list(Outcome))),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(steps=moves, max_entries=st.sampled_from([1, 2]), refuse_every=st.integers(1, 4))
def test_whatever_the_market_does_a_window_enters_each_side_at_most_once(
    steps, max_entries, refuse_every
):
    settings_ = SETTINGS.model_copy(update={"max_entries_per_window": max_entries})
    state, now, asks = opened(), START, 0
    decided: list[EntryDecided] = []
    for seconds, direction in steps:
        now += seconds
        state = moved(state, now, direction)
        decision = decide(state, now=now, bankroll=BANKROLL, settings=settings_)
        if decision.intent is None:
            continue
        asks += 1
        if asks % refuse_every == 0:
            state = refused(state, now, settings_)
            continue
        grant = Granted(reservation_id=f"r{asks}", amount=decision.intent.amount)
        event = granted(state, decision.intent, grant, now=now, settings=settings_)
        assert isinstance(event, EntryDecided)
        assert START + settings_.entry_start_s <= now <= END - settings_.entry_stop_s
        decided.append(event)
        state = evolve(state, event)
    sides = [e.outcome for e in decided]
    assert len(sides) == len(set(sides))
    assert len(decided) <= max_entries


# --- reversals ----------------------------------------------------------------------------------


def entered_up() -> WindowState:
    return enter(moved(opened(), IN_BAND), IN_BAND)


def reversal_request(
    pid: str = UP_PID, losing: Outcome = Outcome.UP, size: str = "50"
) -> ReversalRequest:
    return ReversalRequest(position_id=pid, losing=losing, size=D(size), timestamp=IN_BAND + 100)


def crashed_up(state: WindowState, now: float) -> WindowState:
    """The reference fell through the price to beat: UP is losing."""
    state = observe_spot(state, spot("99.7", now), SETTINGS)
    state = observe_book(state, book("tok-up", "0.25", "0.26", now))
    return observe_book(state, book("tok-down", "0.74", "0.75", now))


def test_a_losing_position_gets_one_reversal_on_the_other_side():
    now = IN_BAND + 100
    state = crashed_up(entered_up(), now)
    intent = decide_reversal(state, reversal_request(), now=now, settings=SETTINGS)
    assert isinstance(intent, EntryIntent)
    assert (intent.outcome, intent.purpose, intent.position_id) == (
        Outcome.DOWN,
        REVERSAL,
        DOWN_PID,
    )
    assert intent.size == D(50)
    event = granted(
        state,
        intent,
        Granted(reservation_id="r2", amount=intent.amount),
        now=now,
        settings=SETTINGS,
    )
    assert isinstance(event, EntryDecided)
    assert event.purpose == REVERSAL
    state = evolve(state, event)
    again = decide_reversal(state, reversal_request(), now=now + 5, settings=SETTINGS)
    assert again == Skip(reason="reversal_used", detail="this window already reversed once")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (reversal_request(pid="BTC-15m-other/UP"), "unknown_position"),
        (reversal_request(losing=Outcome.DOWN), "wrong_side"),
    ],
)
def test_a_reversal_request_must_come_from_a_position_of_this_window_on_its_side(request_, reason):
    now = IN_BAND + 100
    result = decide_reversal(crashed_up(entered_up(), now), request_, now=now, settings=SETTINGS)
    assert isinstance(result, Skip)
    assert result.reason == reason


def test_a_reversal_never_buys_a_side_already_entered():
    two = SETTINGS.model_copy(update={"max_entries_per_window": 2})
    state = entered_up()
    down = EntryDecided(
        stream_id=state.stream_id,
        ts=IN_BAND + 50,
        window_id=WID,
        position_id=DOWN_PID,
        outcome="DOWN",
        price=D("0.5"),
        size=D(10),
        purpose=ENTRY,
        reservation_id="r2",
    )
    state = evolve(state, down)
    now = IN_BAND + 100
    result = decide_reversal(crashed_up(state, now), reversal_request(), now=now, settings=two)
    assert isinstance(result, Skip)
    assert result.reason == "side_taken"


def test_no_reversal_near_the_end():
    now = END - SETTINGS.reversal_stop_s + 1
    result = decide_reversal(
        crashed_up(entered_up(), now), reversal_request(), now=now, settings=SETTINGS
    )
    assert isinstance(result, Skip)
    assert result.reason == "after_reversal_band"


def test_a_reversal_the_strategy_does_not_favour_is_refused():
    now = IN_BAND + 100
    state = moved(entered_up(), now)  # UP is in fact doing well
    result = decide_reversal(state, reversal_request(), now=now, settings=SETTINGS)
    assert isinstance(result, Skip)
    assert result.reason == "confidence_against_reversal"


# --- market updates, closing, stopping ----------------------------------------------------------


def test_book_changes_concern_the_positions_holding_that_token():
    state = entered_up()
    assert [e.position_id for e in positions_of_token(state, TokenId("tok-up"))] == [UP_PID]
    assert positions_of_token(state, TokenId("tok-down")) == ()
    assert positions_of_token(state, TokenId("other")) == ()


def test_the_confidence_passed_to_a_position_is_in_its_own_side():
    state = initial_state(WINDOW)
    assert confidence_in(state, Outcome.UP, SETTINGS) is None
    scored = SignalScored(
        stream_id=state.stream_id,
        ts=IN_BAND,
        window_id=WID,
        confidence_additive=D("0.7"),
        confidence_bayesian=D("0.6"),
        fair_value_up=D("0.65"),
        mid_up=D("0.6"),
        decision="skip",
        reason="low_confidence",
    )
    state = evolve(state, scored)
    assert confidence_in(state, Outcome.UP, SETTINGS) == D("0.7")
    assert confidence_in(state, Outcome.DOWN, SETTINGS) == D("0.3")


def test_closing_records_the_winner_and_whether_the_window_traded_once():
    state = entered_up()
    event = close(state, winner=Outcome.DOWN, now=END + 30)
    assert isinstance(event, WindowClosed)
    assert (event.winner, event.traded) == ("DOWN", True)
    closed = evolve(state, event)
    assert closed.is_closed
    assert close(closed, winner=Outcome.DOWN, now=END + 40) is None
    assert decide(closed, now=END + 40, bankroll=BANKROLL, settings=SETTINGS).scored is None


def test_a_window_without_resolution_is_force_closed_late():
    state = initial_state(WINDOW)
    assert force_close(state, END + SETTINGS.force_close_after_s - 1, SETTINGS) is None
    event = force_close(state, END + SETTINGS.force_close_after_s, SETTINGS)
    assert isinstance(event, WindowClosed)
    assert (event.winner, event.traded) == (None, False)


def test_a_closed_window_stops_when_its_positions_are_gone_or_after_the_grace():
    state = initial_state(WINDOW)
    assert not should_stop(state, now=END, live_positions=0, settings=SETTINGS)
    closed = replace(state, closed_at=END + 30)
    assert should_stop(closed, now=END + 31, live_positions=0, settings=SETTINGS)
    assert not should_stop(closed, now=END + 31, live_positions=1, settings=SETTINGS)
    grace_over = END + 30 + SETTINGS.close_grace_s
    assert should_stop(closed, now=grace_over, live_positions=1, settings=SETTINGS)


def test_an_unstarted_entry_is_given_up_past_its_start_deadline_or_once_the_window_closed() -> None:
    decided = EntryDecided(
        stream_id=f"window/{WID}",
        ts=IN_BAND,
        window_id=WID,
        position_id=UP_PID,
        outcome="UP",
        price=D("0.62"),
        size=D(50),
        purpose=ENTRY,
        reservation_id="r1",
    )
    state = evolve(initial_state(WINDOW), decided)
    (entry,) = state.entries
    assert entry.decided_at == IN_BAND
    assert should_abandon_start(state, entry, now=IN_BAND + 59, start_deadline_s=60) is None
    late = should_abandon_start(state, entry, now=IN_BAND + 60, start_deadline_s=60)
    assert late is not None
    assert "did not start within 60s" in late
    closed = evolve(
        state,
        WindowClosed(
            stream_id=state.stream_id, ts=IN_BAND + 1, window_id=WID, winner="UP", traded=True
        ),
    )
    reason = should_abandon_start(closed, entry, now=IN_BAND + 1, start_deadline_s=60)
    assert reason is not None
    assert "closed" in reason
