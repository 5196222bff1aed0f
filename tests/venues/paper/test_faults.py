"""Each fault knob of the paper exchange occurs when dialled in, and never when it is off."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from venues.errors import (
    ERRORS_BY_KIND,
    InsufficientBalance,
    Maintenance,
    OrderNotFound,
    RejectedError,
    RetryableError,
    VenueError,
    VenueTimeout,
    classify,
)
from venues.paper import PaperSettings
from venues.paper.faults import (
    INJECTABLE_KINDS,
    FaultInjector,
    FaultSettings,
    PeriodicMaintenance,
    StreamFaultSettings,
    StreamMangler,
)
from venues.port import ALREADY_GONE
from venues.types import (
    LastTrade,
    OrderId,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PriceChange,
    Side,
    TradeStatus,
    TradeUpdate,
)

D = Decimal
T0 = 1_767_225_600.0
Make = Callable[..., Any]


def _busy_session(harness: Any) -> None:
    """Orders, fills (taker and maker), cancels and time passing: a bit of everything."""
    for round_number in range(5):
        harness.place(price="0.52", size=10, order_type=OrderType.FOK)
        resting = harness.place(price="0.45", size=10)
        harness.market_trade(harness.up, Side.SELL, "0.45", 4)
        harness.exchange.cancel(resting.order_id)
        harness.place(side=Side.SELL, price="0.48", size=5, order_type=OrderType.FAK)
        harness.set_book(harness.up, bids=[("0.48", 100)], asks=[("0.52", 100 + round_number)])
        harness.advance(10)


# --- latency ----------------------------------------------------------------------------------


def test_with_latency_a_marketable_order_answers_delayed_and_trades_later(
    make_harness: Make,
) -> None:
    harness = make_harness(latency_s=2.0)
    result = harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    assert result.status is OrderStatus.DELAYED
    assert harness.trade_updates() == []
    assert harness.exchange.open_orders()[0].status == "DELAYED"
    harness.advance(1.9)
    assert harness.trade_updates() == []
    harness.advance(0.1)
    assert [t.size for t in harness.trade_updates(TradeStatus.MATCHED)] == [10]
    assert harness.exchange.open_orders() == ()


def test_with_latency_a_resting_order_is_live_only_once_it_arrives(make_harness: Make) -> None:
    harness = make_harness(latency_s=2.0)
    result = harness.place(price="0.45", size=10)
    assert result.status is OrderStatus.LIVE
    harness.market_trade(harness.up, Side.SELL, "0.44", 10)  # before it is on the book
    assert harness.trade_updates() == []
    harness.advance(2)
    harness.market_trade(harness.up, Side.SELL, "0.44", 10)
    assert [t.size for t in harness.trade_updates(TradeStatus.MATCHED)] == [10]


def test_delayed_work_happens_when_it_was_due_however_late_the_exchange_is_polled(
    make_harness: Make,
) -> None:
    harness = make_harness(latency_s=2.0, confirmation_delay_s=10.0)
    placed_at = harness.clock.now()
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    harness.advance(3600)  # one late poll, long after the window closed
    matched, mined, confirmed = harness.trade_updates()
    assert (matched.status, matched.timestamp) == (TradeStatus.MATCHED, placed_at + 2)
    assert (mined.status, mined.timestamp) == (TradeStatus.MINED, placed_at + 7)
    assert (confirmed.status, confirmed.timestamp) == (TradeStatus.CONFIRMED, placed_at + 12)


def test_a_delayed_fok_that_finds_nothing_ends_unmatched(make_harness: Make) -> None:
    harness = make_harness(latency_s=2.0)
    harness.place(price="0.52", size=50, order_type=OrderType.FOK)
    harness.set_book(harness.up, bids=[("0.48", 100)], asks=[("0.52", 10)])
    harness.advance(2)
    assert harness.trade_updates() == []
    assert harness.order_updates()[-1].status == "UNMATCHED"
    assert harness.exchange.balance() == 1000


def test_a_delayed_order_can_be_cancelled_before_it_arrives(make_harness: Make) -> None:
    harness = make_harness(latency_s=2.0)
    result = harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    assert harness.exchange.cancel(result.order_id).canceled == (result.order_id,)
    harness.advance(5)
    assert harness.trade_updates() == []


def test_without_latency_nothing_is_ever_delayed(harness: Any) -> None:
    results = [harness.place(price="0.52", size=10, order_type=OrderType.FOK) for _ in range(5)]
    assert {result.status for result in results} == {OrderStatus.MATCHED}


# --- injected rejections ----------------------------------------------------------------------

REFUSED_KINDS = sorted(INJECTABLE_KINDS - {"timeout"})


@pytest.mark.parametrize("kind", REFUSED_KINDS)
def test_a_dialled_in_error_kind_refuses_placements_with_that_error(
    make_harness: Make, kind: str
) -> None:
    harness = make_harness(reject_rates={kind: 1.0})
    with pytest.raises(ERRORS_BY_KIND[kind]) as refused:
        harness.place(price="0.45")
    assert (refused.value.rule, refused.value.value) == ("injected_fault", kind)
    assert harness.exchange.open_orders() == ()


def test_an_injected_rate_refuses_about_that_share_of_requests(make_harness: Make) -> None:
    harness = make_harness(reject_rates={"server_error": 0.3})
    refused = 0
    for _ in range(200):
        try:
            harness.place(price="0.40", size=5)
        except RetryableError:
            refused += 1
    assert 40 <= refused <= 80


def test_an_injected_timeout_hides_an_order_that_did_go_through(make_harness: Make) -> None:
    harness = make_harness(reject_rates={"timeout": 1.0})
    with pytest.raises(VenueTimeout):
        harness.place(price="0.45", client_id="intent-1")
    (order,) = harness.exchange.open_orders()
    assert order.client_id == "intent-1"  # a blind resend would duplicate it


def test_retryable_kinds_fail_a_batch_whole_and_rejections_fail_each_leg(
    make_harness: Make,
) -> None:
    harness = make_harness(reject_rates={"rate_limited": 1.0})
    with pytest.raises(RetryableError):
        harness.exchange.place_orders((harness.request(price="0.45"),))
    harness = make_harness(reject_rates={"market_closed": 1.0})
    (leg,) = harness.exchange.place_orders((harness.request(price="0.45"),))
    assert leg.order_id is None
    assert isinstance(classify(400, leg.error or ""), RejectedError)


def test_retryable_kinds_also_hit_cancels(make_harness: Make) -> None:
    harness = make_harness(reject_rates={"server_error": 1.0})
    with pytest.raises(RetryableError):
        harness.exchange.cancel(OrderId("0xany"))


def test_with_no_reject_rates_no_request_is_ever_refused_by_chance(harness: Any) -> None:
    for _ in range(100):
        harness.place(price="0.40", size=5)
    assert len(harness.exchange.open_orders()) == 100


# --- not found on cancel ----------------------------------------------------------------------


def test_with_cancel_not_found_cancelling_a_gone_order_raises_not_found(make_harness: Make) -> None:
    harness = make_harness(cancel_not_found=True)
    order_id = harness.place(price="0.45").order_id
    assert harness.exchange.cancel(order_id).canceled == (order_id,)
    with pytest.raises(OrderNotFound) as gone:
        harness.exchange.cancel(order_id)
    assert gone.value.value == order_id
    assert ALREADY_GONE in str(gone.value)


def test_without_cancel_not_found_a_gone_order_lands_in_not_canceled(harness: Any) -> None:
    order_id = harness.place(price="0.45").order_id
    harness.exchange.cancel(order_id)
    assert dict(harness.exchange.cancel(order_id).not_canceled) == {order_id: ALREADY_GONE}
    assert dict(harness.exchange.cancel(OrderId("0xnever")).not_canceled) == {
        "0xnever": ALREADY_GONE
    }


# --- the streams ------------------------------------------------------------------------------


def test_a_user_stream_that_drops_everything_delivers_nothing(make_harness: Make) -> None:
    harness = make_harness(user_stream=StreamFaultSettings(drop_rate=1.0))
    _busy_session(harness)
    assert harness.user_events == []
    assert harness.exchange.trades() != ()  # the fills happened; only the messages were lost


def test_a_user_stream_that_duplicates_delivers_each_message_twice(make_harness: Make) -> None:
    clean, doubled = (
        make_harness(),
        make_harness(user_stream=StreamFaultSettings(duplicate_rate=1.0)),
    )
    _busy_session(clean)
    _busy_session(doubled)
    assert doubled.user_events == [event for event in clean.user_events for _ in range(2)]


def test_a_user_stream_that_reorders_swaps_messages_but_loses_none(make_harness: Make) -> None:
    clean, shuffled = (
        make_harness(),
        make_harness(user_stream=StreamFaultSettings(reorder_rate=1.0)),
    )
    _busy_session(clean)
    _busy_session(shuffled)
    shuffled.exchange.poll()
    assert shuffled.user_events != clean.user_events
    assert sorted(map(repr, shuffled.user_events)) == sorted(map(repr, clean.user_events))


@pytest.mark.parametrize("knob", ["drop_rate", "duplicate_rate", "reorder_rate"])
def test_the_market_stream_faults_apply_to_the_market_stream_only(
    make_harness: Make, knob: str
) -> None:
    clean = make_harness()
    faulty = make_harness(market_stream=StreamFaultSettings(**{knob: 1.0}))
    _busy_session(clean)
    _busy_session(faulty)
    faulty.exchange.poll()
    assert faulty.user_events == clean.user_events
    assert faulty.market_events != clean.market_events
    if knob == "drop_rate":
        assert faulty.market_events == []
    elif knob == "duplicate_rate":
        assert faulty.market_events == [e for e in clean.market_events for _ in range(2)]
    else:
        assert sorted(map(repr, faulty.market_events)) == sorted(map(repr, clean.market_events))


def test_with_clean_streams_every_message_arrives_once_in_order(harness: Any) -> None:
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    trades = [event for event in harness.user_events if isinstance(event, TradeUpdate)]
    assert [t.status for t in trades] == [
        TradeStatus.MATCHED,
        TradeStatus.MINED,
        TradeStatus.CONFIRMED,
    ]
    harness.market_events.clear()
    harness.market_trade(harness.up, Side.BUY, "0.52", 1)
    assert [type(event) for event in harness.market_events] == [LastTrade]


def test_a_held_back_message_is_released_after_the_next_one_or_by_flush() -> None:
    delivered: list[int] = []
    injector = FaultInjector(FaultSettings())
    mangler = StreamMangler("s", StreamFaultSettings(reorder_rate=1.0), injector, delivered.append)
    mangler.publish(1)
    assert delivered == []
    mangler.publish(2)
    assert delivered == [2, 1]
    mangler.publish(3)
    mangler.flush()
    assert delivered == [2, 1, 3]


# --- balance lag ------------------------------------------------------------------------------


def test_a_lagging_balance_hides_a_fresh_fill_and_refuses_to_sell_it(make_harness: Make) -> None:
    harness = make_harness(balance_lag_s=5.0)
    harness.place(price="0.45", size=10)
    harness.market_trade(harness.up, Side.SELL, "0.45", 10)  # a fee-free maker fill
    assert harness.exchange.balance(harness.up) == 0
    assert harness.exchange.refresh_balance(harness.up) == 0
    assert harness.exchange.balance() == 1000  # the 4.50 paid does not show yet either
    with pytest.raises(InsufficientBalance):
        harness.place(side=Side.SELL, price="0.60", size=10)
    harness.advance(5)
    assert harness.exchange.refresh_balance(harness.up) == 10
    assert harness.exchange.balance() == D("995.50")
    harness.place(side=Side.SELL, price="0.60", size=10)


def test_a_lagging_balance_never_lets_us_spend_money_already_spent(make_harness: Make) -> None:
    harness = make_harness(balance_lag_s=60.0)
    harness.place(price="0.52", size=100, order_type=OrderType.FOK)  # spends 52
    assert harness.exchange.balance() == 1000  # still shows the old figure
    harness.set_book(harness.up, bids=[("0.48", 100)], asks=[("0.52", 5000)])
    with pytest.raises(InsufficientBalance):
        harness.place(price="0.52", size=1850, order_type=OrderType.FOK)  # 962 > 948 left
    assert harness.exchange.audit() == ()


def test_without_balance_lag_a_fill_shows_at_once(harness: Any) -> None:
    harness.place(price="0.45", size=10)
    harness.market_trade(harness.up, Side.SELL, "0.45", 10)
    assert harness.exchange.balance(harness.up) == 10
    harness.place(side=Side.SELL, price="0.60", size=10)


# --- confirmation delay and failed trades -----------------------------------------------------


def test_a_confirmation_delay_spreads_the_trade_lifecycle_and_pays_at_confirmation(
    make_harness: Make,
) -> None:
    harness = make_harness(confirmation_delay_s=10.0)
    harness.place(price="0.45", size=10)
    harness.market_trade(harness.up, Side.SELL, "0.45", 10)
    assert [t.status for t in harness.trade_updates()] == [TradeStatus.MATCHED]
    assert harness.exchange.balance(harness.up) == 0  # in escrow until confirmed
    harness.advance(5)
    assert [t.status for t in harness.trade_updates()][-1] is TradeStatus.MINED
    harness.advance(5)
    assert [t.status for t in harness.trade_updates()][-1] is TradeStatus.CONFIRMED
    assert harness.exchange.balance(harness.up) == 10
    assert harness.exchange.next_due() is None


def test_a_failed_trade_is_rolled_back(make_harness: Make) -> None:
    harness = make_harness(trade_failure_rate=1.0, confirmation_delay_s=4.0)
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    assert harness.exchange.balance() == D("994.80")
    harness.advance(4)
    statuses = [t.status for t in harness.trade_updates()]
    assert statuses == [TradeStatus.MATCHED, TradeStatus.RETRYING, TradeStatus.FAILED]
    assert harness.exchange.balance() == 1000
    assert harness.exchange.balance(harness.up) == 0
    assert harness.exchange.trades()[0].status is TradeStatus.FAILED
    assert harness.exchange.audit() == ()


def test_a_failed_buy_gives_back_the_allowance_it_used(make_harness: Make) -> None:
    settings = PaperSettings(
        collateral_allowance=D(100), faults=FaultSettings(trade_failure_rate=1.0)
    )
    harness = make_harness(settings)
    harness.place(price="0.52", size=10, order_type=OrderType.FOK)
    assert harness.exchange.allowance() == 100
    assert harness.exchange.trades()[0].status is TradeStatus.FAILED


def test_without_the_failure_knob_no_trade_ever_fails(harness: Any) -> None:
    _busy_session(harness)
    assert harness.trade_updates(TradeStatus.FAILED) == []
    assert harness.trade_updates(TradeStatus.RETRYING) == []
    assert len(harness.trade_updates(TradeStatus.CONFIRMED)) >= 10


# --- maintenance ------------------------------------------------------------------------------


def test_inside_a_maintenance_window_order_endpoints_answer_425(make_harness: Make) -> None:
    harness = make_harness(maintenance_windows=((T0 + 10, T0 + 100),))
    order_id = harness.place(price="0.45").order_id
    harness.advance(10)
    with pytest.raises(Maintenance) as down:
        harness.place(price="0.44")
    assert down.value.rule == "maintenance"
    with pytest.raises(Maintenance):
        harness.exchange.cancel(order_id)
    with pytest.raises(Maintenance):
        harness.exchange.place_orders((harness.request(price="0.44"),))
    assert harness.exchange.book(harness.up).bids  # reads still work
    harness.advance(90)
    harness.place(price="0.44")
    assert harness.exchange.cancel(order_id).canceled == (order_id,)


def test_a_periodic_maintenance_recurs(make_harness: Make) -> None:
    every = PeriodicMaintenance(period_s=300, duration_s=30, offset_s=T0 + 60)
    harness = make_harness(maintenance_every=every)
    downs = []
    for _ in range(20):
        harness.advance(30)
        try:
            harness.place(price="0.40", size=5)
            downs.append(False)
        except Maintenance:
            downs.append(True)
    # the first check is at +30 s: down at +60, +360, ... i.e. every 10th step from the 2nd
    assert [i for i, down in enumerate(downs) if down] == [1, 11]


def test_after_maintenance_only_post_only_orders_and_cancels_pass(make_harness: Make) -> None:
    harness = make_harness(maintenance_windows=((T0, T0 + 90),), post_only_after_maintenance_s=120)
    harness.advance(90)
    with pytest.raises(Maintenance) as post_only_mode:
        harness.place(price="0.44")
    assert post_only_mode.value.rule == "post_only_mode"
    assert type(classify(400, str(post_only_mode.value))) is Maintenance
    order_id = harness.place(price="0.44", post_only=True).order_id
    (refused, placed) = harness.exchange.place_orders(
        (harness.request(price="0.43"), harness.request(price="0.43", post_only=True))
    )
    assert refused.error is not None
    assert placed.status is OrderStatus.LIVE
    assert harness.exchange.cancel(order_id).canceled == (order_id,)
    harness.advance(120)
    harness.place(price="0.44")


def test_without_maintenance_the_venue_is_never_down(harness: Any) -> None:
    for _ in range(80):
        harness.advance(10)
        harness.place(price="0.40", size=5, post_only=False)
    injector = FaultInjector(FaultSettings())
    for day in range(400):
        now = T0 + day * 86_400 + 39_600  # every day at the weekly restart's hour
        assert injector.maintenance_error(now, is_post_only_placement=False) is None


# --- determinism ------------------------------------------------------------------------------

ALL_FAULTS = {
    "seed": 7,
    "latency_s": 0.5,
    "reject_rates": {"server_error": 0.1, "insufficient_balance": 0.05},
    "user_stream": StreamFaultSettings(drop_rate=0.1, duplicate_rate=0.1, reorder_rate=0.1),
    "market_stream": StreamFaultSettings(drop_rate=0.1, duplicate_rate=0.1, reorder_rate=0.1),
    "balance_lag_s": 3.0,
    "confirmation_delay_s": 4.0,
    "trade_failure_rate": 0.2,
}


def _run(make_harness: Make, **faults: Any) -> tuple[list[Any], list[Any], list[str]]:
    harness = make_harness(**faults)
    outcomes: list[str] = []
    for step in range(40):
        price = D("0.40") + D(step % 13) / 100
        for request in (
            harness.request(price=str(price), size=5 + step % 7),
            harness.request(price="0.52", size=5, order_type=OrderType.FAK),
            harness.request(side=Side.SELL, price="0.48", size=5, order_type=OrderType.FAK),
        ):
            try:
                outcomes.append(repr(harness.exchange.place_order(request)))
            except VenueError as e:
                outcomes.append(repr(e))
        harness.market_trade(harness.up, Side.SELL, str(price), 3)
        harness.advance(1)
    harness.advance(10)
    return harness.user_events, harness.market_events, outcomes


def test_the_same_seed_and_inputs_give_the_same_fills_and_events(make_harness: Make) -> None:
    first = _run(make_harness, **ALL_FAULTS)
    second = _run(make_harness, **ALL_FAULTS)
    assert first == second
    assert any(isinstance(e, TradeUpdate) for e in first[0])
    assert any(isinstance(e, OrderUpdate) for e in first[0])
    assert any(isinstance(e, PriceChange) for e in first[1])


def test_another_seed_gives_another_run(make_harness: Make) -> None:
    first = _run(make_harness, **ALL_FAULTS)
    other = _run(make_harness, **{**ALL_FAULTS, "seed": 8})
    assert first != other


def test_dialling_one_knob_in_does_not_change_the_draws_of_another(make_harness: Make) -> None:
    base = {"seed": 3, "trade_failure_rate": 0.5}
    alone = _run(make_harness, **base)
    with_drops = _run(make_harness, **base, market_stream=StreamFaultSettings(drop_rate=0.5))
    failed = [
        e.trade_id
        for e in alone[0]
        if isinstance(e, TradeUpdate) and e.status is TradeStatus.FAILED
    ]
    failed_too = [
        e.trade_id
        for e in with_drops[0]
        if isinstance(e, TradeUpdate) and e.status is TradeStatus.FAILED
    ]
    assert failed
    assert failed == failed_too


def test_faults_are_all_off_by_default() -> None:
    faults = PaperSettings().faults
    assert faults == FaultSettings()
    assert (faults.latency_s, faults.balance_lag_s, faults.confirmation_delay_s) == (0, 0, 0)
    assert faults.reject_rates == {}
    assert not faults.cancel_not_found
    assert faults.trade_failure_rate == 0
    assert faults.maintenance_windows == ()
    assert faults.maintenance_every is None
    for stream in (faults.user_stream, faults.market_stream):
        assert (stream.drop_rate, stream.duplicate_rate, stream.reorder_rate) == (0, 0, 0)


def test_a_zero_rate_never_draws_from_its_generator() -> None:
    injector = FaultInjector(FaultSettings())
    assert not any(injector.chance("knob", 0.0) for _ in range(1000))
    assert injector._rngs == {}


def test_the_kind_names_of_injectable_errors_are_the_error_kinds() -> None:
    assert "timeout" in INJECTABLE_KINDS
    assert "order_not_found" not in INJECTABLE_KINDS
    for kind in INJECTABLE_KINDS:
        assert issubclass(ERRORS_BY_KIND[kind], RetryableError | RejectedError)
