"""The position rules (state/position.py): entry, timeout and retry, exit plan, scale-in, stop
loss with reversal first, self-healing, settlement, and the property that the exit plan always
covers the whole position. Pure: driven by `Driver`, which plays the actor shell's loop against
an honest in-memory venue."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from actors.messages import Outcome, position_actor, position_id, window_id
from state.events import Event
from state.position import (
    ADOPTED,
    CENT,
    Action,
    CancelAnswered,
    CancelEntriesRequested,
    CheckTicked,
    Command,
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
    PositionState,
    Purpose,
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
    VenueSynced,
    WalletSeen,
    WithdrawOrder,
    ceil_to_tick,
    decide,
    evolve,
    exit_plan_target,
    favours_reversal,
    floor_to_tick,
    initial_state,
    is_stop_armed,
    market_view,
    observe,
    truncate_cents,
)
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
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
)

D = Decimal
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WINDOW = MarketWindow(
    asset="BTC",
    timeframe_s=900,
    start=T0,
    end=T0 + 900,
    condition_id=ConditionId("0xcondition"),
    up_token=TokenId("token-up"),
    down_token=TokenId("token-down"),
    slug="btc-updown-15m-1767225600",
)
PID = position_id(window_id(WINDOW), Outcome.UP)
STREAM = position_actor(PID)
SETTINGS = PositionSettings()
ZERO_FEE = D(0)


def client(purpose: str, n: int = 1) -> str:
    return f"{PID}/{purpose}/{n}"


def fresh(
    *, entry_price: str = "0.50", entry_size: str = "20", window: MarketWindow = WINDOW
) -> PositionState:
    return initial_state(
        position_id=PID,
        window=window,
        outcome=Outcome.UP,
        reservation_id="r-1",
        entry_price=D(entry_price),
        entry_size=D(entry_size),
        purpose="entry",
    )


def book(bid: str | None, ask: str | None, tick: str = "0.01") -> BookSnapshot:
    return BookSnapshot(
        condition_id=WINDOW.condition_id,
        token_id=WINDOW.up_token,
        bids=() if bid is None else (BookLevel(D(bid), D(100)),),
        asks=() if ask is None else (BookLevel(D(ask), D(100)),),
        tick_size=D(tick),
        timestamp=T0,
    )


class Driver:
    """The actor shell's loop (observe, decide, journal, evolve, act, evaluate again) against an
    honest venue kept in memory: it places, cancels, fills on request, and reports a wallet that
    follows its own fills (unless told to lag)."""

    def __init__(self, state: PositionState | None = None, s: PositionSettings = SETTINGS) -> None:
        self.state = state or fresh()
        self.settings = s
        self.now = T0
        self.journal: list[Event] = []
        self.performed: list[Action] = []
        self.requests: dict[str, OrderRequest] = {}
        self.order_ids: dict[str, str] = {}
        self.live: set[str] = set()
        self.trades: dict[str, TradeUpdate] = {}
        self.wallet_lag: Decimal | None = None  # report this instead of the true holdings
        self.refuse: dict[str, str] = {}  # purpose -> error kind for its next placement
        self.lose_answer: set[str] = set()  # purposes whose next placement answer is lost
        self.fak_fill_ratio = D(1)  # share of a FAK that trades
        self.withhold_fak_fills = False  # the venue's fill events are lost
        self.cancel_not_found = False
        self.grants = 0
        self.seeded = D(0)  # shares the wallet held before this position (an adoption)
        self.redeem_failures_left = 0
        self.redeem_amount: Decimal | None = None
        self.is_stopped = False
        self._ids = itertools.count(1)

    # --- the shell's loop ------------------------------------------------------------------------
    def observe(self, observation: Observation) -> None:
        self.state = observe(self.state, observation, self.settings)

    def command(self, command: Command, *, settle: bool = True) -> None:
        self.apply_decision(decide(self.state, command, self.now, self.settings))
        if settle:
            self.evaluate()

    def evaluate(self) -> None:
        for _ in range(50):
            if self.is_stopped:
                return
            before = self.state
            self.apply_decision(decide(self.state, Evaluate(), self.now, self.settings))
            if self.state == before:
                return
        raise AssertionError("the rules did not settle")

    def apply_decision(self, decision: object) -> None:
        assert hasattr(decision, "events")
        for event in decision.events:  # type: ignore[attr-defined]
            self.journal.append(event)
            self.state = evolve(self.state, event)
        for action in decision.actions:  # type: ignore[attr-defined]
            self.performed.append(action)
            self.perform(action)

    def at(self, seconds_after_t0: float) -> Driver:
        self.now = T0 + seconds_after_t0
        return self

    def market(self, bid: str | None, ask: str | None, confidence: str | None = None) -> None:
        view = market_view(book(bid, ask), None if confidence is None else D(confidence), self.now)
        self.observe(MarketSeen(view=view))
        self.evaluate()

    def check(self) -> None:
        self.observe(CheckTicked(at=self.now))
        self.perform(RefreshWallet())
        self.evaluate()

    # --- the venue -------------------------------------------------------------------------------
    def holdings(self) -> Decimal:
        held = self.seeded
        for trade in self.trades.values():
            if trade.status is TradeStatus.FAILED:
                continue
            held += trade.size - trade.fee if trade.side is Side.BUY else -trade.size
        return held

    def wallet(self) -> Decimal:
        return self.holdings() if self.wallet_lag is None else self.wallet_lag

    def perform(self, action: Action) -> None:
        match action:
            case SubmitOrder(request=request):
                self._place(request)
            case WithdrawOrder(client_id=client_id, reason=reason):
                was_live = client_id in self.live and not self.cancel_not_found
                self.live.discard(client_id)
                self.command(
                    CancelAnswered(client_id=client_id, was_live=was_live, reason=reason),
                    settle=False,
                )
            case SyncWithVenue(client_ids=client_ids):
                for client_id in client_ids:
                    order_id = self.order_ids.get(client_id)
                    trades = tuple(t for t in self.trades.values() if t.order_id == order_id)
                    self.command(
                        OrderLookedUp(
                            client_id=client_id,
                            order_id=order_id,
                            is_active=client_id in self.live,
                            trades=trades if order_id else (),
                        ),
                        settle=False,
                    )
                self.observe(WalletSeen(balance=self.wallet(), at=self.now))
                self.observe(VenueSynced(at=self.now))
            case RefreshWallet():
                self.observe(WalletSeen(balance=self.wallet(), at=self.now))
            case ReserveScaleIn(amount=amount):
                if self.grants > 0:
                    self.grants -= 1
                    granted = ScaleInGranted(reservation_id=f"r-scale-{self.grants}", amount=amount)
                    self.command(granted, settle=False)
                else:
                    self.observe(ScaleInRefused(at=self.now))
            case RedeemWinnings():
                if self.redeem_failures_left > 0:
                    self.redeem_failures_left -= 1
                    self.observe(RedeemFailed(at=self.now))
                else:
                    amount = (
                        self.redeem_amount if self.redeem_amount is not None else self.holdings()
                    )
                    self.command(RedeemAnswered(amount=amount), settle=False)
            case ResizeCapital(reservation_id=reservation_id):
                self.observe(ReservationResized(reservation_id=reservation_id))
            case StopPosition():
                self.is_stopped = True
            case RequestReversal() | ReleaseCapital():
                pass
            case _:
                raise AssertionError(action)

    def _place(self, request: OrderRequest) -> None:
        self.requests[request.client_id] = request
        purpose = request.client_id.split("/")[-2]
        if purpose in self.refuse:
            kind = self.refuse.pop(purpose)
            self.command(
                PlacementFailed(client_id=request.client_id, error_kind=kind, message=kind),
                settle=False,
            )
            return
        order_id = f"order-{next(self._ids)}"
        self.order_ids[request.client_id] = order_id
        fills: list[TradeUpdate] = []
        if request.order_type in (OrderType.FAK, OrderType.FOK):
            if request.amount is not None:
                shares = truncate_cents(request.amount / request.price * self.fak_fill_ratio)
            else:
                shares = truncate_cents(request.size * self.fak_fill_ratio)
            fills.append(self._trade(order_id, request.side, shares, request.price))
            status = "matched"
        else:
            self.live.add(request.client_id)
            status = "live"
        if fills:
            # As the shell does: the gateway sends the fills after its answer.
            self.observe(FillsExpected(client_id=request.client_id, at=self.now))
        if purpose in self.lose_answer:
            self.lose_answer.discard(purpose)
            self.command(
                PlacementFailed(client_id=request.client_id, error_kind="VenueTimeout", message=""),
                settle=False,
            )
        else:
            self.command(
                PlacementAnswered(client_id=request.client_id, order_id=order_id, status=status),
                settle=False,
            )
        for trade in fills:
            if not self.withhold_fak_fills:
                self.command(TradeSeen(update=trade), settle=False)

    def _trade(
        self,
        order_id: str,
        side: Side,
        size: Decimal,
        price: Decimal,
        fee: Decimal = ZERO_FEE,
        status: TradeStatus = TradeStatus.MATCHED,
        trade_id: str | None = None,
    ) -> TradeUpdate:
        trade = TradeUpdate(
            trade_id=trade_id or f"trade-{next(self._ids)}",
            order_id=OrderId(order_id),
            condition_id=WINDOW.condition_id,
            token_id=WINDOW.up_token,
            side=side,
            price=price,
            size=size,
            fee=fee,
            status=status,
            is_maker=True,
            timestamp=self.now,
        )
        self.trades[trade.trade_id] = trade
        return trade

    def fill(
        self,
        client_id: str,
        size: str,
        *,
        fee: str = "0",
        price: str | None = None,
        deliver: bool = True,
    ) -> TradeUpdate:
        """A resting order of ours trades `size` shares (MATCHED)."""
        request = self.requests[client_id]
        trade = self._trade(
            self.order_ids[client_id],
            request.side,
            D(size),
            D(price) if price else request.price,
            D(fee),
        )
        matched = sum(
            (t.size for t in self.trades.values() if t.order_id == self.order_ids[client_id]),
            D(0),
        )
        if matched >= request.size:
            self.live.discard(client_id)
        if deliver:
            self.command(TradeSeen(update=trade))
        return trade

    def confirm_all(self) -> None:
        for trade in list(self.trades.values()):
            if trade.status is TradeStatus.MATCHED:
                self.set_status(trade, TradeStatus.CONFIRMED)

    def set_status(self, trade: TradeUpdate, status: TradeStatus) -> None:
        updated = replace(trade, status=status)
        self.trades[trade.trade_id] = updated
        self.command(TradeSeen(update=updated))

    # --- reading ---------------------------------------------------------------------------------
    def events(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.journal if isinstance(e, kind)]

    def actions(self, kind: type) -> list[Action]:
        return [a for a in self.performed if isinstance(a, kind)]

    def working(self, purpose: Purpose) -> list[str]:
        return [o.client_id for o in self.state.working(purpose)]


def opened(**kwargs: object) -> Driver:
    driver = Driver(**kwargs)  # type: ignore[arg-type]
    driver.command(Open())
    return driver


def holding(size: str = "20", *, fee: str = "0", age_s: float = 60) -> Driver:
    """An entry filled at 0.50 `age_s` ago, exit plan rules already applied."""
    driver = opened()
    driver.fill(client("entry"), size, fee=fee)
    driver.at(age_s).check()
    return driver


def settled(driver: Driver) -> PositionSettled:
    found = driver.events(PositionSettled)
    assert len(found) == 1, found
    event = found[0]
    assert isinstance(event, PositionSettled)
    return event


# --- settings ---------------------------------------------------------------------------------


def test_the_defaults_are_the_issues_thresholds() -> None:
    s = PositionSettings()
    assert s.entry_unfilled_timeout_s == 300
    assert s.retry_at_market_min_pnl_pct == 10
    assert s.exit_target_price == D("0.99")
    assert s.exit_min_position_age_s == 60
    assert s.stop_loss_price == D("0.30")
    assert s.stop_loss_floor == D("0.15")
    assert s.hedge_min_seconds == 120
    assert s.reversal_confidence_threshold == D("0.30")
    assert s.missing_price_checks == 3
    assert s.zero_balance_settle_s == 300


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"stop_loss_floor": "0.30", "stop_loss_price": "0.30"}, "stop_loss_floor"),
        ({"stop_loss_price": "0.99"}, "stop_loss_price"),
        ({"scale_in_max_price": "0.25"}, "scale_in_max_price"),
        (
            {"balance_mismatch_grace_s": 5, "balance_check_interval_s": 15},
            "balance_mismatch_grace_s",
        ),
    ],
)
def test_inconsistent_thresholds_are_refused_naming_the_keys(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        PositionSettings.model_validate(overrides)


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="exit_price"):
        PositionSettings.model_validate({"exit_price": "0.99"})


# --- small helpers ------------------------------------------------------------------------------


@given(st.decimals(min_value=0, max_value=10_000, places=6))
def test_truncation_never_rounds_up(value: Decimal) -> None:
    truncated = truncate_cents(value)
    assert truncated <= value < truncated + CENT
    assert truncated == truncated.quantize(CENT)


def test_prices_go_to_the_tick_grid_in_the_safe_direction() -> None:
    assert floor_to_tick(D("0.4567"), D("0.01")) == D("0.45")
    assert ceil_to_tick(D("0.4512"), D("0.01")) == D("0.46")
    assert floor_to_tick(D("0.987"), D("0.001")) == D("0.987")


@pytest.mark.parametrize(
    ("confidence", "favours"), [("0.20", True), ("0.34", True), ("0.36", False), (None, False)]
)
def test_the_reversal_confidence_must_favour_the_other_side_by_the_threshold(
    confidence: str | None, favours: bool
) -> None:
    value = None if confidence is None else D(confidence)
    assert favours_reversal(value, D("0.30")) is favours


# --- opening and placement -----------------------------------------------------------------------


def test_opening_journals_the_position_and_the_entry_intent_before_sending_it() -> None:
    driver = Driver(fresh(entry_size="20.239"))
    decision = decide(driver.state, Open(), T0, SETTINGS)
    opened_event, intent = decision.events
    assert isinstance(opened_event, PositionOpened)
    assert isinstance(intent, OrderIntent)
    assert intent.client_id == client("entry")
    assert (intent.side, intent.order_type, intent.price) == ("BUY", "GTC", D("0.50"))
    assert intent.size == D("20.23")  # truncated, never rounded up
    (action,) = decision.actions
    assert isinstance(action, SubmitOrder)
    assert action.request.client_id == intent.client_id


def test_opening_an_opened_position_does_nothing() -> None:
    driver = opened()
    assert not decide(driver.state, Open(), T0, SETTINGS)


def test_an_accepted_order_is_journaled_once_even_if_answered_twice() -> None:
    driver = opened()
    answer = PlacementAnswered(client_id=client("entry"), order_id="order-x", status="live")
    assert not decide(driver.state, answer, T0, SETTINGS)
    assert len(driver.events(OrderAccepted)) == 1


def test_a_refused_entry_settles_the_position_as_cancelled_unfilled() -> None:
    driver = Driver()
    driver.refuse["entry"] = "MarketClosed"
    driver.command(Open())
    assert [type(e) for e in driver.journal][-2:] == [OrderRejected, PositionSettled]
    event = settled(driver)
    assert (event.how, event.realized_pnl) == ("cancelled_unfilled", 0)
    assert driver.actions(ReleaseCapital) == [
        ReleaseCapital(reservation_id="r-1", realized_pnl=D(0))
    ]
    assert driver.is_stopped


def test_an_entry_refused_for_a_passing_reason_is_sent_again_after_the_pause() -> None:
    driver = Driver()
    driver.refuse["entry"] = "ServerError"
    driver.command(Open())
    assert not driver.events(PositionSettled)
    driver.at(5).check()
    assert client("entry", 2) not in driver.requests
    driver.at(10).check()
    assert driver.working(Purpose.ENTRY) == [client("entry", 2)]
    assert driver.requests[client("entry", 2)].size == 20


def test_a_refused_entry_is_not_sent_again_after_its_timeout() -> None:
    driver = Driver()
    driver.refuse["entry"] = "Maintenance"
    driver.command(Open())
    driver.at(300).check()
    assert client("entry", 2) not in driver.requests
    assert settled(driver).how == "cancelled_unfilled"


def test_a_placement_the_gateway_looked_up_and_did_not_find_is_a_refusal() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    state = evolve(
        driver.state,
        OrderIntent(
            stream_id=STREAM,
            ts=T0,
            position_id=PID,
            client_id=client("exit"),
            purpose="exit",
            token_id=WINDOW.up_token,
            side="SELL",
            price=D("0.99"),
            size=D(20),
            order_type="GTC",
            amount=None,
        ),
    )
    failure = PlacementFailed(
        client_id=client("exit"), error_kind="VenueTimeout", message="", is_retryable=True
    )
    decision = decide(state, failure, T0, SETTINGS)
    assert [type(e) for e in decision.events] == [OrderRejected]
    assert not decision.actions


def test_an_unfilled_entry_is_not_settled_while_the_wallet_shows_shares() -> None:
    driver = opened()
    driver.wallet_lag = D(20)  # filled, but the fill never reached us
    driver.at(300).check()
    assert not driver.events(PositionSettled)
    driver.at(330).check()
    (corrected,) = driver.events(SizeCorrected)
    assert corrected.new_size == 20  # type: ignore[attr-defined]
    driver.at(390).check()
    assert driver.requests[driver.working(Purpose.EXIT)[0]].size == 20


def test_a_lost_placement_answer_is_looked_up_never_resent() -> None:
    driver = Driver()
    driver.lose_answer.add("entry")
    driver.command(Open())
    assert len(driver.actions(SubmitOrder)) == 1
    assert driver.actions(SyncWithVenue) == [SyncWithVenue(client_ids=(client("entry"),))]
    (accepted,) = driver.events(OrderAccepted)
    assert isinstance(accepted, OrderAccepted)
    assert accepted.order_id == driver.order_ids[client("entry")]


def test_an_entry_the_venue_never_took_is_submitted_again_under_the_same_client_id() -> None:
    driver = Driver()
    driver.command(Open(), settle=False)
    state = Driver().state
    # The intent is journaled, the process died before submitting: rebuild without the venue.
    rebuilt = state
    for event in driver.journal[:2]:
        rebuilt = evolve(rebuilt, event)
    again = Driver(rebuilt)
    again.command(
        OrderLookedUp(client_id=client("entry"), order_id=None, is_active=False, trades=())
    )
    (submit,) = again.actions(SubmitOrder)
    assert isinstance(submit, SubmitOrder)
    assert submit.request.client_id == client("entry")
    assert not again.events(OrderIntent)  # no second intent: the same order, sent once


def test_an_exit_the_venue_never_took_is_void_and_a_new_exit_is_placed() -> None:
    driver = holding()
    # A crash between the exit intent and its submission leaves it unknown; the lookup says
    # the venue never took it.
    state = driver.state
    state = evolve(
        state,
        OrderIntent(
            stream_id=STREAM,
            ts=driver.now,
            position_id=PID,
            client_id=client("exit", 9),
            purpose="exit",
            token_id=WINDOW.up_token,
            side="SELL",
            price=D("0.99"),
            size=D(20),
            order_type="GTC",
            amount=None,
        ),
    )
    driver.state = state
    driver.command(
        OrderLookedUp(client_id=client("exit", 9), order_id=None, is_active=False, trades=())
    )
    rejected = driver.events(OrderRejected)
    assert [e.client_id for e in rejected] == [client("exit", 9)]  # type: ignore[attr-defined]


def test_an_exit_intent_a_crash_kept_from_the_venue_is_replaced_at_once_not_after_a_pause() -> None:
    # The process died between journaling the exit plan's intent and sending it. The venue
    # refused nothing, so the restarted position must not wait out order_retry_interval_s
    # unprotected (the kill -9 test saw 10 simulated seconds).
    driver = holding("20")
    exit_1 = client("exit")
    intent_at = next(
        n
        for n, e in enumerate(driver.journal)
        if isinstance(e, OrderIntent) and e.client_id == exit_1
    )
    rebuilt = fresh()
    for event in driver.journal[: intent_at + 1]:
        rebuilt = evolve(rebuilt, event)
    again = Driver(rebuilt)
    again.now = driver.now + 1
    again.trades = dict(driver.trades)  # the venue keeps the entry's fill, not the exit
    again.order_ids = {c: o for c, o in driver.order_ids.items() if c != exit_1}
    again.command(OrderLookedUp(client_id=exit_1, order_id=None, is_active=False, trades=()))
    assert [e.client_id for e in again.events(OrderRejected)] == [exit_1]  # type: ignore[attr-defined]
    assert again.working(Purpose.EXIT) == [client("exit", 2)]
    assert again.requests[client("exit", 2)].size == 20


# --- fills ------------------------------------------------------------------------------------


def test_fills_are_counted_once_per_trade_and_status_and_failed_fills_roll_back() -> None:
    driver = opened()
    trade = driver.fill(client("entry"), "8", fee="0.1")
    assert driver.state.size == D("7.9")  # a buy's fee is paid in shares
    driver.command(TradeSeen(update=trade))
    assert len(driver.events(OrderFilled)) == 1
    driver.set_status(trade, TradeStatus.MINED)
    driver.set_status(trade, TradeStatus.FAILED)
    assert driver.state.size == 0
    assert [e.status for e in driver.events(OrderFilled)] == ["MATCHED", "MINED", "FAILED"]  # type: ignore[attr-defined]


def test_a_fill_of_an_unknown_order_changes_nothing() -> None:
    driver = opened()
    stray = driver._trade("order-of-someone-else", Side.BUY, D(5), D("0.5"))
    assert not decide(driver.state, TradeSeen(update=stray), T0, SETTINGS)


def test_a_venue_cancellation_is_journaled_in_our_words_never_the_venues_kill_text() -> None:
    driver = opened()
    update = OrderUpdate(
        kind=OrderUpdateKind.CANCELLATION,
        order_id=OrderId(driver.order_ids[client("entry")]),
        condition_id=WINDOW.condition_id,
        token_id=WINDOW.up_token,
        side=Side.BUY,
        price=D("0.5"),
        original_size=D(20),
        size_matched=D(0),
        status="CANCELED_no orders found to match with FAK order. FAK orders are partially "
        "filled or killed if no match is found.",
        timestamp=T0,
    )
    decision = decide(driver.state, OrderUpdateSeen(update=update), T0, SETTINGS)
    (cancelled,) = decision.events
    assert isinstance(cancelled, OrderCancelled)
    assert "kill" not in cancelled.reason


# --- entry timeout and retry at market ------------------------------------------------------------


def test_an_entry_is_not_cancelled_before_its_timeout() -> None:
    driver = opened()
    driver.at(299).check()
    assert not driver.actions(WithdrawOrder)


def test_an_unfilled_entry_that_is_not_winning_is_cancelled_and_settled_unfilled() -> None:
    driver = opened()
    driver.at(10).market("0.50", "0.52")  # mid 0.51: +2 %, not winning
    driver.at(300).check()
    (withdraw,) = driver.actions(WithdrawOrder)
    assert isinstance(withdraw, WithdrawOrder)
    assert withdraw.reason == "entry_timeout"
    assert not driver.actions(SubmitOrder)[1:]
    assert settled(driver).how == "cancelled_unfilled"
    assert driver.is_stopped


def test_an_unfilled_entry_winning_by_more_than_the_threshold_is_retried_at_market_by_amount() -> (
    None
):
    driver = opened()
    driver.at(10).market("0.57", "0.59")  # mid 0.58: +16 % on 0.50
    driver.at(300).check()
    retry = driver.requests[client("retry")]
    assert (retry.order_type, retry.side) == (OrderType.FAK, Side.BUY)
    assert retry.amount == D("10.00")  # the whole reservation (0.50 x 20) is still unspent
    assert retry.price == D("0.61")  # the ask plus the slippage allowance
    assert not driver.events(PositionSettled)
    assert driver.state.size > 0


def test_fills_the_venue_announced_are_waited_for_then_looked_up() -> None:
    driver = opened()
    driver.withhold_fak_fills = True
    driver.wallet_lag = D(0)
    driver.at(10).market("0.57", "0.59")
    driver.at(300).check()  # the retry is answered "matched"; its fill events never come
    assert driver.state.fills_expected
    assert not driver.events(PositionSettled)
    syncs = len(driver.actions(SyncWithVenue))
    driver.at(305).check()
    assert len(driver.actions(SyncWithVenue)) == syncs + 1
    assert driver.state.size == D("16.39")  # 10.00 at 0.61, found at the venue
    assert not driver.state.fills_expected
    assert not driver.events(PositionSettled)


def test_a_partly_filled_entry_is_retried_only_for_the_unspent_amount() -> None:
    driver = opened()
    driver.fill(client("entry"), "12")
    driver.at(10).market("0.57", "0.59")
    driver.at(300).check()
    assert driver.requests[client("retry")].amount == D("4.00")  # 10 - 12 x 0.50


def test_a_partly_filled_entry_that_is_not_winning_keeps_the_position() -> None:
    driver = opened()
    driver.fill(client("entry"), "12")
    driver.at(300).check()
    assert client("retry") not in driver.requests
    assert not driver.events(PositionSettled)
    assert driver.actions(ResizeCapital) == [ResizeCapital(reservation_id="r-1", amount=D("6.00"))]


def test_a_fully_filled_entry_tells_risk_what_it_spent() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    assert driver.actions(ResizeCapital) == [ResizeCapital(reservation_id="r-1", amount=D("10.00"))]


# --- exit plan ------------------------------------------------------------------------------------


def test_no_exit_plan_before_the_position_is_old_enough() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    driver.at(59).check()
    assert not driver.working(Purpose.EXIT)


def test_the_exit_plan_is_a_resting_sell_of_the_whole_position_at_the_target() -> None:
    driver = holding("20", fee="0.123")
    (exit_id,) = driver.working(Purpose.EXIT)
    request = driver.requests[exit_id]
    assert (request.side, request.order_type, request.price) == (
        Side.SELL,
        OrderType.GTC,
        D("0.99"),
    )
    assert request.size == D("19.87")  # 19.877 held, truncated
    (placed,) = driver.events(ExitPlanPlaced)
    assert isinstance(placed, ExitPlanPlaced)
    assert placed.size == request.size


def test_every_size_change_resizes_the_exit_plan_cancel_old_then_place_new() -> None:
    driver = opened()
    driver.fill(client("entry"), "8")
    driver.at(60).check()
    assert driver.requests[client("exit")].size == 8
    driver.fill(client("entry"), "5")
    assert driver.actions(WithdrawOrder)[-1] == WithdrawOrder(
        client_id=client("exit"), order_id=driver.order_ids[client("exit")], reason="resize"
    )
    assert driver.working(Purpose.EXIT) == [client("exit", 2)]
    assert driver.requests[client("exit", 2)].size == 13


def test_a_cancel_answered_not_found_still_gets_the_new_exit_plan_placed() -> None:
    driver = opened()
    driver.fill(client("entry"), "8")
    driver.at(60).check()
    driver.cancel_not_found = True
    driver.fill(client("entry"), "12")
    (cancelled,) = [e for e in driver.events(OrderCancelled) if e.client_id == client("exit")]  # type: ignore[attr-defined]
    assert "already gone" in cancelled.reason  # type: ignore[attr-defined]
    assert driver.working(Purpose.EXIT) == [client("exit", 2)]
    assert driver.requests[client("exit", 2)].size == 20


def test_a_partial_fill_of_the_exit_plan_needs_no_resize() -> None:
    driver = holding("20")
    driver.fill(client("exit"), "6")
    assert driver.working(Purpose.EXIT) == [client("exit")]
    assert driver.state.remaining(driver.state.working(Purpose.EXIT)[0]) == driver.state.size == 14


def test_the_exit_plan_never_sells_more_than_the_wallet_shows() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    driver.wallet_lag = D("12.5")  # the balance endpoint has not seen all of the fill yet
    driver.at(60).check()
    assert driver.requests[client("exit")].size == D("12.5")
    driver.wallet_lag = None
    driver.at(75).check()
    assert driver.requests[client("exit", 2)].size == 20


def test_a_wallet_below_the_exit_plan_is_looked_up_before_the_plan_shrinks() -> None:
    # The exit plan sold 12 and the wallet shows it before the fill's event reaches us.
    driver = holding("20")
    driver.fill(client("exit"), "12", deliver=False)
    driver.at(75).check()
    assert driver.actions(SyncWithVenue), "the venue was not asked"
    assert not driver.actions(WithdrawOrder)  # the plan still covers what is left: 8
    assert driver.working(Purpose.EXIT) == [client("exit")]
    assert client("exit", 2) not in driver.requests
    assert driver.state.size == 8


def test_a_wallet_below_the_exit_plan_after_the_venue_check_shrinks_the_plan() -> None:
    driver = holding("20")
    driver.wallet_lag = D(15)  # shares gone that no fill of ours explains
    driver.at(75).check()
    assert driver.actions(SyncWithVenue)
    assert driver.working(Purpose.EXIT) == [client("exit", 2)]
    assert driver.requests[client("exit", 2)].size == 15


def test_a_position_below_the_minimum_order_size_gets_no_exit_plan() -> None:
    driver = holding("4.99")
    assert not driver.working(Purpose.EXIT)
    assert exit_plan_target(driver.state, driver.now, SETTINGS) is None


def test_a_refused_exit_plan_is_retried_after_the_pause_not_in_a_loop() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    driver.refuse["exit"] = "InsufficientBalance"
    driver.at(60).check()
    assert len(driver.events(OrderRejected)) == 1
    driver.at(65).market("0.60", "0.62")
    assert not driver.working(Purpose.EXIT)
    driver.at(70).check()
    assert driver.working(Purpose.EXIT) == [client("exit", 2)]


# --- kill switch ------------------------------------------------------------------------------


def test_the_kill_switch_cancels_the_entry_and_never_the_exit_plan() -> None:
    driver = opened()
    driver.fill(client("entry"), "10")
    driver.at(60).check()
    driver.command(CancelEntriesRequested(reason="halt: drawdown"))
    withdrawn = [a.client_id for a in driver.actions(WithdrawOrder)]  # type: ignore[attr-defined]
    assert withdrawn == [client("entry")]
    assert driver.working(Purpose.EXIT) == [client("exit")]
    assert driver.state.are_entries_halted


def test_after_the_kill_switch_a_winning_timeout_is_not_retried() -> None:
    state = fresh()
    state = replace(state, are_entries_halted=True)
    driver = Driver(state)
    driver.command(Open())
    driver.at(10).market("0.57", "0.59")
    driver.at(300).check()
    assert client("retry") not in driver.requests


# --- scale-in ---------------------------------------------------------------------------------


def scale_in_ready() -> Driver:
    driver = holding("20")
    driver.grants = 1
    return driver


def test_a_scale_in_reserves_capital_first_then_buys_at_market_and_resizes_the_exit() -> None:
    driver = scale_in_ready()
    driver.at(100).market("0.60", "0.61", confidence="0.80")
    (reserve,) = driver.actions(ReserveScaleIn)
    assert reserve == ReserveScaleIn(amount=D("5.00"), minimum=D(1))
    (triggered,) = driver.events(ScaleInTriggered)
    assert isinstance(triggered, ScaleInTriggered)
    assert triggered.amount == D("5.00")
    (funded,) = driver.events(ScaleInFunded)
    assert isinstance(funded, ScaleInFunded)
    assert funded.reservation_id == "r-scale-0"
    request = driver.requests[client("scalein")]
    assert (request.order_type, request.amount, request.price) == (
        OrderType.FAK,
        D("5.00"),
        D("0.63"),
    )
    assert driver.working(Purpose.EXIT) == [client("exit", 2)]
    assert (
        driver.requests[client("exit", 2)].size == truncate_cents(driver.state.size) == D("27.93")
    )


def test_a_scale_in_tells_risk_what_it_spent_only_once_its_fills_arrived() -> None:
    # A FAK answered "matched" is over at once, but its fills come after the answer: reported
    # before them, the scale-in's reservation was resized to nothing while its capital was
    # spent (risk then saw less exposure than we had, and warned of an overspend later).
    driver = scale_in_ready()
    driver.withhold_fak_fills = True
    driver.at(100).market("0.60", "0.61", confidence="0.80")
    assert driver.state.fills_expected
    assert [a for a in driver.actions(ResizeCapital) if a.reservation_id == "r-scale-0"] == []
    (trade,) = [
        t for t in driver.trades.values() if t.order_id == driver.order_ids[client("scalein")]
    ]
    driver.command(TradeSeen(update=trade))
    resizes = [a for a in driver.actions(ResizeCapital) if a.reservation_id == "r-scale-0"]
    assert resizes == [ResizeCapital(reservation_id="r-scale-0", amount=trade.size * trade.price)]


@pytest.mark.parametrize(
    ("bid", "ask", "confidence"),
    [
        ("0.53", "0.54", "0.90"),  # the price has not moved enough our way
        ("0.60", "0.61", "0.60"),  # not confident enough
        ("0.91", "0.92", "0.95"),  # too expensive to add
    ],
)
def test_no_scale_in_unless_every_condition_holds(bid: str, ask: str, confidence: str) -> None:
    driver = scale_in_ready()
    driver.at(100).market(bid, ask, confidence=confidence)
    assert not driver.actions(ReserveScaleIn)


def test_no_scale_in_before_the_position_is_a_minute_old() -> None:
    driver = opened()
    driver.fill(client("entry"), "20")
    driver.grants = 1
    driver.at(59).market("0.60", "0.61", confidence="0.80")
    assert not driver.actions(ReserveScaleIn)
    driver.at(60).market("0.60", "0.61", confidence="0.80")
    assert len(driver.actions(ReserveScaleIn)) == 1


def test_no_scale_in_near_the_end_of_the_window() -> None:
    driver = scale_in_ready()
    driver.at(900 - 119).market("0.60", "0.61", confidence="0.80")
    assert not driver.actions(ReserveScaleIn)


def test_scale_ins_stop_at_the_maximum_count() -> None:
    driver = scale_in_ready()
    driver.grants = 5
    driver.at(100).market("0.60", "0.61", confidence="0.80")
    driver.at(200).market("0.62", "0.63", confidence="0.80")
    assert len(driver.events(ScaleInTriggered)) == 1


def test_a_refused_scale_in_waits_for_its_cooldown() -> None:
    driver = holding("20")
    driver.at(100).market("0.60", "0.61", confidence="0.80")
    driver.at(130).market("0.60", "0.61", confidence="0.80")
    assert len(driver.actions(ReserveScaleIn)) == 1
    driver.at(161).market("0.60", "0.61", confidence="0.80")
    assert len(driver.actions(ReserveScaleIn)) == 2


# --- stop loss: reversal first -----------------------------------------------------------------


def test_at_the_stop_price_the_window_is_asked_to_reverse_and_nothing_is_sold() -> None:
    driver = holding("20")
    driver.at(100).market("0.28", "0.30", confidence="0.40")
    (reversal,) = driver.events(ReversalTriggered)
    assert isinstance(reversal, ReversalTriggered)
    assert (reversal.losing, reversal.midpoint) == ("UP", D("0.29"))
    assert driver.actions(RequestReversal) == [RequestReversal(size=D(20), midpoint=D("0.29"))]
    assert not driver.events(StopLossTriggered)
    assert driver.working(Purpose.EXIT) == [client("exit")]


def test_the_losing_side_is_sold_only_after_the_hedge_time_and_when_confidence_favours_it() -> None:
    driver = holding("20")
    driver.at(100).market("0.28", "0.30", confidence="0.20")
    driver.at(219).market("0.28", "0.30", confidence="0.20")
    assert not driver.events(StopLossTriggered)  # 119 s after the reversal
    driver.at(221).market("0.28", "0.30", confidence="0.50")
    assert not driver.events(StopLossTriggered)  # the confidence does not favour the reversal
    driver.at(222).market("0.28", "0.30", confidence="0.20")
    (stop,) = driver.events(StopLossTriggered)
    assert isinstance(stop, StopLossTriggered)
    assert stop.kind == "hedged"
    request = driver.requests[client("stop")]
    assert (request.side, request.order_type, request.size) == (Side.SELL, OrderType.FAK, D(20))
    assert request.price == D("0.26")  # the bid less the slippage allowance


def test_below_the_floor_the_position_is_sold_at_once_without_waiting_for_a_reversal() -> None:
    driver = holding("20")
    driver.at(100).market("0.13", "0.15")
    (stop,) = driver.events(StopLossTriggered)
    assert isinstance(stop, StopLossTriggered)
    assert stop.kind == "floor"
    assert not driver.events(ReversalTriggered)
    assert driver.requests[client("stop")].size == 20


def test_a_stop_sell_takes_the_exit_plan_off_and_checks_the_venue_first() -> None:
    driver = holding("20")
    driver.at(100).market("0.13", "0.15")
    kinds = [type(a).__name__ for a in driver.performed]
    cancel = kinds.index("WithdrawOrder", kinds.index("RefreshWallet"))
    assert kinds[cancel:][:3] == ["WithdrawOrder", "SyncWithVenue", "SubmitOrder"]
    cancelled = [e for e in driver.events(OrderCancelled) if e.client_id == client("exit")]  # type: ignore[attr-defined]
    assert cancelled[0].reason == "stop_loss"  # type: ignore[attr-defined]


def test_an_exit_plan_that_filled_before_the_stop_means_no_stop_sell() -> None:
    driver = holding("20")
    trade = driver.fill(client("exit"), "20", deliver=False)  # its fill has not reached us yet
    driver.at(100).market("0.13", "0.15")
    assert client("stop") not in driver.requests
    assert driver.state.size == 0
    assert not driver.events(PositionSettled)  # the sale may still fail
    driver.set_status(trade, TradeStatus.CONFIRMED)
    driver.confirm_all()
    assert settled(driver).how == "sold"


def test_a_stop_sells_no_more_than_the_wallet_holds() -> None:
    driver = holding("20")
    driver.wallet_lag = D("17.5")
    driver.at(100).market("0.13", "0.15")
    assert driver.requests[client("stop")].size == D("17.5")


def test_a_partly_filled_stop_sells_the_rest_after_the_pause() -> None:
    driver = holding("20")
    driver.fak_fill_ratio = D("0.5")
    driver.at(100).market("0.13", "0.15")
    assert driver.requests[client("stop")].size == 20
    assert driver.state.size == 10
    driver.at(105).check()
    assert client("stop", 2) not in driver.requests
    driver.fak_fill_ratio = D(1)
    driver.at(111).check()
    assert driver.requests[client("stop", 2)].size == 10
    driver.confirm_all()
    assert settled(driver).how == "sold"


# --- stop loss of an adopted position ------------------------------------------------------------


def adopted(size: str = "20", price: str = "0.40") -> Driver:
    """Shares reconciliation found in the wallet, adopted at T0 and covered by their exit plan
    a minute later (no market seen yet)."""
    state = replace(fresh(entry_price=price, entry_size=size), purpose=ADOPTED)
    driver = Driver(state)
    driver.seeded = D(size)
    driver.command(Open())
    driver.at(60).check()
    assert driver.working(Purpose.EXIT) == [client("exit")]
    return driver


def test_an_adopted_position_found_below_its_stops_is_not_sold_for_that_price() -> None:
    # Invariant 6: adoption never sells. Found at 0.10, below the floor (0.15) and the stop
    # (0.30): neither level was ever crossed while we held the shares.
    driver = adopted()
    driver.at(70).market("0.09", "0.11")
    driver.at(80).market("0.09", "0.11")
    assert not driver.events(StopArmed)
    assert not driver.events(ReversalTriggered)
    assert not driver.events(StopLossTriggered)
    assert driver.working(Purpose.EXIT) == [client("exit")]
    assert client("stop") not in driver.requests


def test_an_adopted_position_arms_a_stop_level_once_its_price_is_seen_above_it() -> None:
    driver = adopted()
    driver.at(70).market("0.09", "0.11")
    driver.at(80).market("0.19", "0.21")  # above the floor, still below the stop price
    (armed,) = driver.events(StopArmed)
    assert isinstance(armed, StopArmed)
    assert armed.midpoint == D("0.20")
    assert is_stop_armed(driver.state, SETTINGS.stop_loss_floor)
    assert not is_stop_armed(driver.state, SETTINGS.stop_loss_price)
    assert not driver.events(ReversalTriggered)  # 0.20 is below a stop level not armed
    driver.at(90).market("0.12", "0.14")  # a later move down through the floor
    (stop,) = driver.events(StopLossTriggered)
    assert isinstance(stop, StopLossTriggered)
    assert stop.kind == "floor"
    request = driver.requests[client("stop")]
    assert (request.side, request.order_type, request.size) == (Side.SELL, OrderType.FAK, D(20))
    assert driver.working(Purpose.EXIT) == []  # taken off first, as for any position


def test_an_adopted_position_seen_above_the_stop_follows_the_stop_rule_of_our_own() -> None:
    driver = adopted()
    driver.at(70).market("0.49", "0.51")
    assert len(driver.events(StopArmed)) == 1  # both levels at once
    driver.at(80).market("0.28", "0.30", confidence="0.40")
    (reversal,) = driver.events(ReversalTriggered)
    assert isinstance(reversal, ReversalTriggered)
    assert driver.actions(RequestReversal) == [RequestReversal(size=D(20), midpoint=D("0.29"))]
    assert not driver.events(StopLossTriggered)  # reversal first, as for our own
    driver.at(90).market("0.13", "0.15")
    (stop,) = driver.events(StopLossTriggered)
    assert isinstance(stop, StopLossTriggered)
    assert stop.kind == "floor"
    assert len(driver.events(StopArmed)) == 1  # armed once: the marks below add nothing


def test_an_armed_stop_of_an_adopted_position_survives_a_restart() -> None:
    driver = adopted()
    driver.at(70).market("0.49", "0.51")
    rebuilt = replace(fresh(entry_price="0.40"), purpose=ADOPTED)
    for event in driver.journal:
        rebuilt = evolve(rebuilt, event)
    assert rebuilt.stop_armed_below == D("0.50")
    restarted = Driver(rebuilt)
    restarted.seeded = D(20)
    restarted.requests, restarted.order_ids = driver.requests, driver.order_ids
    restarted.live = set(driver.live)
    restarted.at(80).market("0.13", "0.15")  # the first price the restarted position sees
    assert [e.kind for e in restarted.events(StopLossTriggered)] == ["floor"]  # type: ignore[attr-defined]


def test_our_own_positions_need_no_arming() -> None:
    assert is_stop_armed(fresh(), SETTINGS.stop_loss_price)
    driver = holding("20")
    driver.at(100).market("0.13", "0.15")
    assert not driver.events(StopArmed)
    assert [e.kind for e in driver.events(StopLossTriggered)] == ["floor"]  # type: ignore[attr-defined]


# --- self-healing -----------------------------------------------------------------------------


def test_a_lagging_balance_is_tolerated_for_the_grace_period() -> None:
    driver = holding("20")
    driver.wallet_lag = D(15)
    driver.at(70).check()
    driver.at(95).check()
    assert not driver.events(SizeCorrected)
    driver.wallet_lag = None  # the balance caught up
    driver.at(110).check()
    assert not driver.events(SizeCorrected)
    assert driver.state.mismatch_since is None


def test_a_persistent_mismatch_is_corrected_after_a_venue_check_with_its_reason() -> None:
    driver = holding("20")
    driver.wallet_lag = D(15)
    driver.at(70).check()
    syncs = len(driver.actions(SyncWithVenue))
    driver.at(100).check()
    assert len(driver.actions(SyncWithVenue)) == syncs + 1
    (corrected,) = driver.events(SizeCorrected)
    assert isinstance(corrected, SizeCorrected)
    assert (corrected.old_size, corrected.new_size) == (D(20), D(15))
    assert "wallet holds 15" in corrected.reason
    assert driver.state.size == 15
    assert driver.requests[driver.working(Purpose.EXIT)[0]].size == 15


def test_a_missed_fill_found_at_the_venue_check_is_not_a_correction() -> None:
    driver = holding("10")
    driver.fill(client("entry"), "6", deliver=False)  # the venue's event was lost
    driver.at(70).check()
    driver.at(100).check()
    assert not driver.events(SizeCorrected)
    assert driver.state.size == 16


def test_a_fill_restarts_the_mismatch_clock() -> None:
    driver = opened()
    driver.fill(client("entry"), "10")
    driver.wallet_lag = D(0)
    driver.at(10).check()
    assert driver.state.mismatch_since == T0 + 10
    driver.at(30)
    driver.fill(client("entry"), "2")
    assert driver.state.mismatch_since == T0 + 30
    driver.at(45).check()  # 35 s after the first mismatch, only 15 s after the fill
    assert not driver.actions(SyncWithVenue)
    assert not driver.events(SizeCorrected)


# --- settlement -------------------------------------------------------------------------------


def test_a_winning_position_is_redeemed_and_settled_with_its_pnl_and_fees() -> None:
    driver = holding("20", fee="0.1")
    driver.at(900).check()
    driver.observe(ResolutionSeen(winner=Outcome.UP))
    driver.at(930).evaluate()
    assert driver.actions(RedeemWinnings) == [RedeemWinnings()]
    event = settled(driver)
    assert (event.how, event.size, event.cost) == ("resolved", D("19.9"), D("10.00"))
    assert event.proceeds == D("19.9")
    assert event.realized_pnl == D("9.9")
    assert event.fees == D("0.05")  # 0.1 share at 0.50
    assert ReleaseCapital(reservation_id="r-1", realized_pnl=D("9.9")) in driver.performed
    assert driver.is_stopped
    exit_cancel = [e for e in driver.events(OrderCancelled) if e.client_id == client("exit")]  # type: ignore[attr-defined]
    assert exit_cancel[0].reason == "market_resolved"  # type: ignore[attr-defined]


def test_a_losing_position_settles_at_once_without_redeeming() -> None:
    driver = holding("20")
    driver.observe(ResolutionSeen(winner=Outcome.DOWN))
    driver.at(930).evaluate()
    assert not driver.actions(RedeemWinnings)
    event = settled(driver)
    assert (event.proceeds, event.realized_pnl) == (0, D("-10.00"))


def test_scale_in_reservations_are_released_with_the_position() -> None:
    driver = scale_in_ready()
    driver.at(100).market("0.60", "0.61", confidence="0.80")
    driver.observe(ResolutionSeen(winner=Outcome.DOWN))
    driver.at(930).evaluate()
    releases = driver.actions(ReleaseCapital)
    assert [r.reservation_id for r in releases] == ["r-1", "r-scale-0"]  # type: ignore[attr-defined]
    assert releases[1].realized_pnl == 0  # type: ignore[attr-defined]


def test_failed_redemptions_are_retried_then_the_position_settles_anyway() -> None:
    driver = Driver(s=PositionSettings(redeem_attempts=3))
    driver.command(Open())
    driver.fill(client("entry"), "20")
    driver.redeem_failures_left = 5
    driver.observe(ResolutionSeen(winner=Outcome.UP))
    driver.at(930).evaluate()
    driver.at(932).evaluate()
    assert len(driver.actions(RedeemWinnings)) == 1  # paced by the check interval
    driver.at(936).evaluate()
    assert not driver.events(PositionSettled)
    driver.at(942).evaluate()
    assert len(driver.actions(RedeemWinnings)) == 3
    event = settled(driver)
    assert (event.how, event.proceeds) == ("resolved", 20)  # owed, even if not redeemed yet


def test_missing_prices_after_the_end_force_settlement_after_three_checks() -> None:
    driver = holding("20")
    driver.redeem_amount = D(0)
    driver.at(900).check()
    driver.at(960).check()
    driver.at(990).check()  # too soon after the last one: not counted
    assert not driver.events(PositionSettled)
    assert not driver.actions(RedeemWinnings)
    driver.at(1020).check()
    assert driver.actions(RedeemWinnings) == [RedeemWinnings()]  # it may have resolved unseen
    event = settled(driver)
    assert (event.how, event.realized_pnl) == ("forced", D("-10.00"))


def test_a_forced_settlement_counts_what_the_redemption_paid_up_to_our_shares() -> None:
    driver = holding("20")
    driver.redeem_amount = D(35)  # the reversal position's shares were redeemed with ours
    for t in (900, 960, 1020):
        driver.at(t).check()
    event = settled(driver)
    assert (event.proceeds, event.realized_pnl) == (D(20), D("10.00"))


def test_a_price_seen_between_checks_resets_the_missing_count() -> None:
    driver = holding("20")
    driver.at(900).check()
    driver.at(960).check()
    driver.at(990).market("0.40", "0.42")
    for t in (1020, 1080, 1140):  # the first one saw the price: the count starts again
        driver.at(t).check()
    assert not driver.events(PositionSettled)
    driver.at(1200).check()
    assert settled(driver).how == "forced"


def test_a_position_corrected_to_zero_settles_after_five_minutes() -> None:
    driver = holding("20")
    driver.confirm_all()
    driver.wallet_lag = D(0)
    driver.at(70).check()
    driver.at(100).check()
    assert driver.state.size == 0
    driver.at(399).check()
    assert not driver.events(PositionSettled)
    driver.at(401).check()
    assert settled(driver).how == "zero_balance"


def test_a_position_sold_by_its_exit_plan_settles_once_its_fills_are_final() -> None:
    driver = holding("20")
    driver.confirm_all()
    trade = driver.fill(client("exit"), "20")
    assert not driver.events(PositionSettled)
    driver.set_status(trade, TradeStatus.CONFIRMED)
    event = settled(driver)
    assert event.how == "sold"
    assert event.realized_pnl == D("9.80")  # 20 x (0.99 - 0.50)


# --- the exit plan always covers the position (invariant 4) -----------------------------------


PROPERTY_SETTINGS = PositionSettings(scale_in_max_count=100, scale_in_cooldown_s=0)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("entry"), st.decimals(min_value="0.5", max_value=8, places=2)),
        st.tuples(st.just("entry_fee"), st.decimals(min_value="0.5", max_value=8, places=2)),
        st.tuples(st.just("confirm"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("fail"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("scalein"), st.decimals(min_value="0.2", max_value=1, places=2)),
        st.tuples(st.just("exit"), st.decimals(min_value="0.5", max_value=10, places=2)),
    ),
    max_size=14,
)


@settings(max_examples=100, deadline=None)
@given(operations)
def test_the_exit_plan_size_always_equals_the_position_size(
    ops: list[tuple[str, Decimal | int]],
) -> None:
    driver = Driver(fresh(entry_size="30"), PROPERTY_SETTINGS)
    driver.command(Open())
    driver.fill(client("entry"), "5")
    driver.at(60).check()
    for step, (kind, value) in enumerate(ops):
        driver.at(61 + step)
        match kind:
            case "entry" | "entry_fee" if driver.working(Purpose.ENTRY):
                entry = driver.state.working(Purpose.ENTRY)[0]
                size = min(Decimal(value), driver.state.remaining(entry))
                fee = "0.07" if kind == "entry_fee" else "0"
                if size > 0:
                    driver.fill(client("entry"), str(size), fee=fee)
            case "confirm" | "fail":
                # A venue never lets shares be sold twice: a buy whose shares were sold on
                # cannot fail any more (the paper exchange pays shares out only when confirmed).
                pending = [
                    t
                    for t in driver.trades.values()
                    if t.status is TradeStatus.MATCHED
                    and (
                        kind == "confirm"
                        or t.side is Side.SELL
                        or driver.holdings() >= t.size - t.fee
                    )
                ]
                if pending:
                    trade = pending[int(value) % len(pending)]
                    status = TradeStatus.CONFIRMED if kind == "confirm" else TradeStatus.FAILED
                    driver.set_status(trade, status)
            case "scalein":
                driver.grants = 1
                driver.fak_fill_ratio = Decimal(value)
                if driver.working(Purpose.ENTRY):
                    entry_id = driver.state.working(Purpose.ENTRY)[0].client_id
                    remaining = driver.state.remaining(driver.state.working(Purpose.ENTRY)[0])
                    driver.fill(entry_id, str(remaining))
                driver.market("0.60", "0.61", confidence="0.90")
                driver.fak_fill_ratio = Decimal(1)
            case "exit" if driver.working(Purpose.EXIT):
                exit_order = driver.state.working(Purpose.EXIT)[0]
                size = min(Decimal(value), driver.state.remaining(exit_order))
                if size > 0:
                    driver.fill(exit_order.client_id, str(size))
            case _:
                pass
        if driver.is_stopped:
            return
        driver.check()
        state = driver.state
        covered = truncate_cents(state.size)
        working = state.working(Purpose.EXIT)
        if covered >= WINDOW.min_order_size:
            assert len(working) == 1, (ops, working)
            assert state.remaining(working[0]) == covered, (ops, step)
            assert driver.requests[working[0].client_id].side is Side.SELL
        else:
            assert all(state.remaining(o) <= covered for o in working), (ops, step)
        assert driver.holdings() == state.size  # our books agree with the venue's
