"""VenueGatewayActor against the real paper exchange: retries, lookups, routing and pacing."""

import time
from decimal import Decimal

import pytest

from actors.messages import (
    CancelFailed,
    Cancelled,
    CancelOrder,
    FindOrder,
    GetBalance,
    GetOpenOrders,
    OrderEvent,
    OrderFound,
    Outcome,
    Placed,
    PlaceFailed,
    PlaceOrder,
    QueryFailed,
    Redeem,
    Redeemed,
    client_order_id,
    position_actor,
    position_id,
    window_id,
)
from actors.sim_market import GetMarketStats, SimMarketActor
from actors.venue import GetVenueStats, VenueGatewayActor, paper_venue
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime
from venues.paper import FaultSettings, PaperSettings
from venues.settings import VenueSettings
from venues.sim.market import SimMarket
from venues.sim.settings import SimAsset, SimSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
    WindowListed,
)

D = Decimal
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Recorder(Actor):
    """An order owner that keeps the events routed to it."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    def receive(self, message: object) -> object:
        self.messages.append(message)
        return None

    def events(self, kind: type = object) -> list:
        return [
            m.event
            for m in self.messages
            if isinstance(m, OrderEvent) and isinstance(m.event, kind)
        ]


class Gateway:
    """One paper exchange with one BTC window, the gateway in front of it, and two owners."""

    def __init__(
        self,
        *,
        faults: FaultSettings | None = None,
        settings: VenueSettings | None = None,
        starting_collateral: int = 1000,
    ) -> None:
        self.rt = DeterministicRuntime(ManualClock(T0))
        self.factory = paper_venue(
            PaperSettings(
                starting_collateral=D(starting_collateral), faults=faults or FaultSettings()
            )
        )
        self.exchange = self.factory(self.rt.clock)
        self.settings = settings or VenueSettings()
        self.window = MarketWindow(
            asset="BTC",
            timeframe_s=900,
            start=T0,
            end=T0 + 900,
            condition_id=ConditionId("0xcondition"),
            up_token=TokenId("token-up"),
            down_token=TokenId("token-down"),
            slug="btc-updown-15m-1767225600",
        )
        self.up, self.down = self.window.tokens
        self.pid = position_id(window_id(self.window), Outcome.UP)
        self.owner = Recorder()
        self.other = Recorder()
        self.rt.spawn(lambda: self.owner, name=position_actor(self.pid))
        self.other_pid = position_id(window_id(self.window), Outcome.DOWN)
        self.rt.spawn(lambda: self.other, name=position_actor(self.other_pid))
        self.venue = self.start_gateway()
        self.market(WindowListed(window=self.window, timestamp=T0))
        self.refill_books()

    def start_gateway(self, incarnation: int = 1):
        return self.rt.spawn(
            lambda: VenueGatewayActor(self.factory, self.settings, market=None),
            name="venue",
            incarnation=incarnation,
        )

    def market(self, *events) -> None:
        for event in events:
            self.venue.tell(event)
        self.rt.run_until_idle()

    def refill_books(self) -> None:
        for token in self.window.tokens:
            self.market(
                BookSnapshot(
                    condition_id=self.window.condition_id,
                    token_id=token,
                    bids=(BookLevel(D("0.48"), D(1000)),),
                    asks=(BookLevel(D("0.52"), D(1000)),),
                    tick_size=D("0.01"),
                    timestamp=self.rt.clock.now(),
                )
            )

    def request(
        self, n: int, *, price="0.40", size=10, side=Side.BUY, order_type=OrderType.GTC, pid=None
    ) -> OrderRequest:
        return OrderRequest(
            client_id=client_order_id(pid or self.pid, "entry", n),
            token_id=self.up,
            side=side,
            price=D(price),
            size=D(size),
            order_type=order_type,
        )

    def place(self, request: OrderRequest, owner: str | None = None):
        return self.venue.ask(PlaceOrder(request=request, owner=owner or position_actor(self.pid)))

    def stats(self):
        return self.venue.ask(GetVenueStats())

    def venue_order_ids(self) -> set[str]:
        """Every order the exchange has of ours: active ones and those that traded."""
        return {o.order_id for o in self.exchange.open_orders()} | {
            t.order_id for t in self.exchange.trades()
        }


# --- placing and routing ---------------------------------------------------------------------


def test_a_resting_order_is_placed_and_its_owner_hears_of_its_placement_and_fills() -> None:
    g = Gateway()
    reply = g.place(g.request(1))
    assert isinstance(reply, Placed)
    assert reply.result.status is OrderStatus.LIVE
    g.rt.run_until_idle()
    assert [e.kind.value for e in g.owner.events(OrderUpdate)] == ["PLACEMENT"]
    # A market seller hits our bid: the maker fill reaches the owner, and nobody else.
    g.market(
        LastTrade(
            condition_id=g.window.condition_id,
            token_id=g.up,
            price=D("0.40"),
            size=D(4),
            side=Side.SELL,
            timestamp=T0,
        )
    )
    fills = g.owner.events(TradeUpdate)
    assert [(f.order_id, f.size, f.is_maker, f.status) for f in fills] == [
        (reply.result.order_id, D(4), True, status)
        for status in (TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED)
    ]
    assert g.other.messages == []
    assert g.stats().events_routed == len(g.owner.events())


def test_a_marketable_order_is_answered_before_its_fills_reach_the_owner() -> None:
    g = Gateway()
    seen_at_reply: list[int] = []

    class Asker(Actor):
        def receive(self, message):
            reply = self.ctx.runtime.lookup("venue").ask(message)
            seen_at_reply.append(len(g.owner.messages))
            return reply

    asker = g.rt.spawn(Asker, name="asker")
    reply = asker.ask(PlaceOrder(request=g.request(1, price="0.52"), owner=position_actor(g.pid)))
    g.rt.run_until_idle()
    assert reply.result.status is OrderStatus.MATCHED
    assert seen_at_reply == [0]  # the fills were told, not yet delivered, when the reply came
    fills = g.owner.events(TradeUpdate)
    assert [f.status for f in fills] == [
        TradeStatus.MATCHED,
        TradeStatus.MINED,
        TradeStatus.CONFIRMED,
    ]
    assert {f.order_id for f in fills} == {reply.result.order_id}


def test_trade_confirmations_reach_the_owner_on_the_gateways_own_timer() -> None:
    g = Gateway(faults=FaultSettings(confirmation_delay_s=10))
    reply = g.place(g.request(1, price="0.52"))
    g.rt.run_until_idle()
    assert [f.status for f in g.owner.events(TradeUpdate)] == [TradeStatus.MATCHED]
    g.rt.advance(10)  # nothing is told to the gateway: only its poll timer can run the exchange
    statuses = [f.status for f in g.owner.events(TradeUpdate)]
    assert statuses == [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED]
    assert {f.order_id for f in g.owner.events(TradeUpdate)} == {reply.result.order_id}


def test_a_rejected_order_is_a_final_refusal_and_is_not_retried() -> None:
    g = Gateway()
    reply = g.place(g.request(1, price="0.405"))  # off the 0.01 grid
    assert reply == PlaceFailed(
        client_id=g.request(1).client_id,
        error_kind="InvalidPrice",
        message=reply.message,
        is_retryable=False,
    )
    stats = g.stats()
    assert (stats.orders_rejected, stats.retries, stats.orders_placed) == (1, 0, 0)


# --- retries, backoff and lost answers -------------------------------------------------------


def test_server_errors_are_retried_a_bounded_number_of_times_then_placements_back_off() -> None:
    g = Gateway(
        faults=FaultSettings(reject_rates={"server_error": 1.0}),
        settings=VenueSettings(place_attempts=3, backoff_base_s=2, backoff_jitter=0),
    )
    reply = g.place(g.request(1))
    assert isinstance(reply, PlaceFailed)
    assert (reply.error_kind, reply.is_retryable) == ("ServerError", True)
    stats = g.stats()
    assert (stats.retries, stats.place_failures) == (2, 1)
    # Backing off: the next placement does not reach the venue at all.
    held = g.place(g.request(2))
    assert held.is_retryable
    assert "holds placements off" in held.message
    assert g.stats().retries == 2
    assert g.stats().held_off == 1
    g.rt.advance(2.01)
    g.place(g.request(3))
    assert g.stats().retries == 4  # tried again, three attempts
    assert g.venue_order_ids() == set()


def test_maintenance_is_not_retried_inside_the_ask() -> None:
    g = Gateway(faults=FaultSettings(maintenance_windows=((T0, T0 + 90),)))
    reply = g.place(g.request(1))
    assert (reply.error_kind, reply.is_retryable) == ("Maintenance", True)
    assert g.stats().retries == 0


def test_a_lost_answer_to_a_resting_order_is_resolved_by_client_id_without_resending() -> None:
    g = Gateway(faults=FaultSettings(reject_rates={"timeout": 1.0}))
    reply = g.place(g.request(1))
    assert isinstance(reply, Placed)
    orders = g.exchange.open_orders()
    assert [o.client_id for o in orders] == [g.request(1).client_id]
    assert reply.result.order_id == orders[0].order_id
    stats = g.stats()
    assert (stats.timeouts, stats.timeouts_resolved, stats.retries) == (1, 1, 0)


def test_a_lost_answer_to_an_order_that_traded_in_full_is_resolved_from_its_fills() -> None:
    g = Gateway(faults=FaultSettings(reject_rates={"timeout": 1.0}))
    reply = g.place(g.request(1, price="0.52", size=10))
    g.rt.run_until_idle()
    assert isinstance(reply, Placed)
    assert reply.result.status is OrderStatus.MATCHED
    assert reply.result.taking_amount == D(10)
    assert g.venue_order_ids() == {reply.result.order_id}
    assert {f.order_id for f in g.owner.events(TradeUpdate)} == {reply.result.order_id}


def test_under_random_server_errors_and_lost_answers_no_order_is_ever_duplicated() -> None:
    g = Gateway(
        faults=FaultSettings(seed=3, reject_rates={"server_error": 0.3, "timeout": 0.3}),
        settings=VenueSettings(backoff_base_s=0.01, backoff_cap_s=0.01, order_burst=100),
    )
    placed: dict[str, str] = {}
    failed: list[str] = []
    for n in range(1, 61):
        request = g.request(n, price="0.52" if n % 2 else "0.40", size=5)
        reply = g.place(request)
        match reply:
            case Placed(result=result):
                assert request.client_id not in placed
                placed[request.client_id] = result.order_id
            case PlaceFailed(is_retryable=True):
                failed.append(request.client_id)
            case _:
                pytest.fail(f"unexpected reply {reply!r}")
        g.rt.advance(0.02)
        g.refill_books()
    stats = g.stats()
    assert stats.timeouts > 0
    assert stats.retries > 0
    assert len(set(placed.values())) == len(placed)
    # Every order the exchange holds is one the gateway answered Placed for, once.
    assert g.venue_order_ids() <= set(placed.values())
    assert not {o.client_id for o in g.exchange.open_orders()} & set(failed)


# --- cancels --------------------------------------------------------------------------------


def test_cancelling_a_live_order_and_then_a_gone_one_both_succeed() -> None:
    g = Gateway()
    order_id = g.place(g.request(1)).result.order_id
    owner = position_actor(g.pid)
    assert g.venue.ask(CancelOrder(order_id=order_id, owner=owner)) == Cancelled(
        order_id=order_id, was_live=True, reason="canceled"
    )
    again = g.venue.ask(CancelOrder(order_id=order_id, owner=owner))
    assert isinstance(again, Cancelled)
    assert not again.was_live
    assert g.stats().orders_cancelled == 1


def test_a_not_found_answer_to_a_cancel_is_a_success() -> None:
    g = Gateway(faults=FaultSettings(cancel_not_found=True))
    order_id = g.place(g.request(1)).result.order_id
    owner = position_actor(g.pid)
    g.venue.ask(CancelOrder(order_id=order_id, owner=owner))
    reply = g.venue.ask(CancelOrder(order_id=order_id, owner=owner))
    assert isinstance(reply, Cancelled)
    assert not reply.was_live
    assert "order not found" in reply.reason or "already canceled" in reply.reason


def test_only_the_owner_of_an_order_may_cancel_it() -> None:
    g = Gateway()
    order_id = g.place(g.request(1)).result.order_id
    reply = g.venue.ask(CancelOrder(order_id=order_id, owner=position_actor(g.other_pid)))
    assert isinstance(reply, CancelFailed)
    assert reply.error_kind == "NotOwner"
    assert [o.order_id for o in g.exchange.open_orders()] == [order_id]


def test_a_cancel_that_keeps_failing_is_a_retryable_failure_after_bounded_attempts() -> None:
    g = Gateway(
        faults=FaultSettings(reject_rates={"server_error": 1.0}),
        settings=VenueSettings(query_attempts=2),
    )
    order_id = OrderId("0xsome-order")
    reply = g.venue.ask(CancelOrder(order_id=order_id, owner=position_actor(g.pid)))
    assert reply == CancelFailed(
        order_id=order_id, error_kind="ServerError", message=reply.message, is_retryable=True
    )
    assert g.stats().retries == 1


# --- events without a known owner ------------------------------------------------------------


def test_events_of_an_order_nobody_owns_are_counted_and_kept_not_dropped() -> None:
    g = Gateway()
    stranger = OrderRequest(
        client_id="placed-by-hand-1",
        token_id=g.up,
        side=Side.BUY,
        price=D("0.40"),
        size=D(5),
    )
    g.exchange.place_order(stranger)  # behind the gateway's back
    g.market(
        LastTrade(
            condition_id=g.window.condition_id,
            token_id=g.up,
            price=D("0.40"),
            size=D(5),
            side=Side.SELL,
            timestamp=T0,
        )
    )
    stats = g.stats()
    assert stats.unknown_owner_events >= 2  # its placement and its fill
    assert stats.parked == stats.unknown_owner_events
    assert g.owner.messages == []


def test_an_order_with_one_of_our_client_ids_is_routed_to_the_position_named_in_it() -> None:
    g = Gateway()
    g.exchange.place_order(g.request(7))  # e.g. placed by an earlier run of the bot
    g.market(
        LastTrade(
            condition_id=g.window.condition_id,
            token_id=g.up,
            price=D("0.40"),
            size=D(3),
            side=Side.SELL,
            timestamp=T0,
        )
    )
    assert [f.status for f in g.owner.events(TradeUpdate)][:1] == [TradeStatus.MATCHED]
    assert g.stats().unknown_owner_events == 0


def test_a_restarted_gateway_keeps_routing_the_events_of_orders_placed_before() -> None:
    g = Gateway()
    order_id = g.place(g.request(1)).result.order_id
    g.rt.lookup("venue").stop()
    g.venue = g.start_gateway(incarnation=2)
    g.market(
        LastTrade(
            condition_id=g.window.condition_id,
            token_id=g.up,
            price=D("0.40"),
            size=D(2),
            side=Side.SELL,
            timestamp=T0,
        )
    )
    assert {f.order_id for f in g.owner.events(TradeUpdate)} == {order_id}
    # The exchange survived the restart: the new incarnation sees the same money.
    assert g.venue.ask(GetBalance(token_id=g.up)) == D(2)


# --- pacing ----------------------------------------------------------------------------------


def test_placements_beyond_the_client_side_rate_limit_are_refused_without_reaching_the_venue() -> (
    None
):
    g = Gateway(settings=VenueSettings(orders_per_second=1, order_burst=2))
    assert isinstance(g.place(g.request(1)), Placed)
    assert isinstance(g.place(g.request(2)), Placed)
    refused = g.place(g.request(3))
    assert (refused.error_kind, refused.is_retryable) == ("RateLimited", True)
    assert len(g.exchange.open_orders()) == 2
    assert g.stats().rate_limited == 1
    g.rt.advance(1.0)
    assert isinstance(g.place(g.request(4)), Placed)


# --- queries ---------------------------------------------------------------------------------


def test_balances_open_orders_and_order_lookups_come_from_the_venue() -> None:
    g = Gateway()
    assert g.venue.ask(GetBalance(token_id=None)) == D(1000)
    resting = g.place(g.request(1)).result
    filled = g.place(g.request(2, price="0.52", size=10)).result
    g.rt.run_until_idle()
    assert g.venue.ask(GetBalance(token_id=g.up, refresh=True)) < D(10)  # taker fee in shares
    assert [o.order_id for o in g.venue.ask(GetOpenOrders(condition_id=None))] == [resting.order_id]
    found = g.venue.ask(
        FindOrder(client_id=g.request(2).client_id, condition_id=g.window.condition_id)
    )
    assert isinstance(found, OrderFound)
    assert (found.order_id, found.order) == (filled.order_id, None)
    assert [t.order_id for t in found.trades] == [filled.order_id]  # latest status of each
    live = g.venue.ask(
        FindOrder(client_id=g.request(1).client_id, condition_id=g.window.condition_id)
    )
    assert live.order is not None
    assert live.order.order_id == resting.order_id


def test_a_client_id_never_sent_is_reported_absent_only_when_the_gateway_can_vouch_for_it() -> None:
    g = Gateway()
    never = FindOrder(client_id=g.request(9).client_id, condition_id=g.window.condition_id)
    assert g.venue.ask(never) == OrderFound(
        client_id=never.client_id, order_id=None, order=None, trades=()
    )
    g.rt.lookup("venue").stop()
    g.venue = g.start_gateway(incarnation=2)
    # An earlier incarnation may have placed it and seen it trade in full: not provable now.
    unknown = g.venue.ask(never)
    assert isinstance(unknown, QueryFailed)
    assert (unknown.error_kind, unknown.is_retryable) == ("OutcomeUnknown", False)


def test_winnings_are_redeemed_once_the_market_has_resolved() -> None:
    g = Gateway()
    g.place(g.request(1, price="0.52", size=10))
    early = g.venue.ask(Redeem(condition_id=g.window.condition_id))
    assert isinstance(early, QueryFailed)
    assert early.error_kind == "MarketNotResolved"
    held = g.venue.ask(GetBalance(token_id=g.up))
    g.market(
        MarketResolved(
            condition_id=g.window.condition_id,
            winning_token=g.up,
            winning_outcome="Up",
            timestamp=T0 + 930,
        )
    )
    assert g.venue.ask(Redeem(condition_id=g.window.condition_id)) == Redeemed(
        condition_id=g.window.condition_id, amount=held
    )


# --- paper mode with the simulated market ----------------------------------------------------


def test_in_paper_mode_the_gateway_follows_the_simulated_market_and_trades_on_it() -> None:
    sim = SimSettings(
        assets=(SimAsset(symbol="BTC", start_price=D(95000), annual_volatility=0.5),),
        timeframes_s=(300,),
    )
    rt = DeterministicRuntime(ManualClock(T0))
    rt.spawn(lambda: SimMarketActor(sim), name="market")
    factory = paper_venue(PaperSettings())
    exchange = factory(rt.clock)
    rt.spawn(lambda: VenueGatewayActor(factory, VenueSettings()), name="venue")
    rt.advance(30)
    assert rt.lookup("market").ask(GetMarketStats()).subscribers == ("venue",)
    twin = SimMarket(sim, T0)
    twin.advance(rt.clock.now())
    window = next(w.window for w in twin.windows() if w.window.start <= rt.clock.now())
    assert exchange.book(window.up_token).bids == twin.book(window.up_token).bids
    owner = Recorder()
    pid = position_id(window_id(window), Outcome.UP)
    rt.spawn(lambda: owner, name=position_actor(pid))
    best_ask = twin.book(window.up_token).best_ask
    reply = rt.lookup("venue").ask(
        PlaceOrder(
            request=OrderRequest(
                client_id=client_order_id(pid, "entry", 1),
                token_id=window.up_token,
                side=Side.BUY,
                price=best_ask,
                size=D(5),
            ),
            owner=position_actor(pid),
        )
    )
    rt.run_until_idle()
    assert reply.result.status is OrderStatus.MATCHED
    assert owner.events(TradeUpdate)


def test_settings_refuse_a_backoff_cap_below_its_base() -> None:
    with pytest.raises(
        ValueError, match=r"backoff_cap_s \(1.0\) must be >= backoff_base_s \(2.0\)"
    ):
        VenueSettings(backoff_base_s=2, backoff_cap_s=1)


# --- on threads ------------------------------------------------------------------------------


def test_on_pykka_threads_fills_and_timer_driven_confirmations_reach_the_owner() -> None:
    clock = ManualClock(T0)
    rt = PykkaRuntime(clock)
    try:
        factory = paper_venue(PaperSettings(faults=FaultSettings(confirmation_delay_s=10)))
        owner = Recorder()
        pid = position_id("BTC-15m-2026-01-01T00:00Z", Outcome.UP)
        rt.spawn(lambda: owner, name=position_actor(pid))
        venue = rt.spawn(
            lambda: VenueGatewayActor(factory, VenueSettings(), market=None), name="venue"
        )
        g = Gateway()  # only for its window and books
        venue.tell(WindowListed(window=g.window, timestamp=T0))
        venue.tell(
            BookSnapshot(
                condition_id=g.window.condition_id,
                token_id=g.up,
                bids=(),
                asks=(BookLevel(D("0.52"), D(100)),),
                tick_size=D("0.01"),
                timestamp=T0,
            )
        )
        request = OrderRequest(
            client_id=client_order_id(pid, "entry", 1),
            token_id=g.up,
            side=Side.BUY,
            price=D("0.52"),
            size=D(5),
        )
        reply = venue.ask(PlaceOrder(request=request, owner=position_actor(pid)))
        assert reply.result.status is OrderStatus.MATCHED
        clock.advance(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(owner.events(TradeUpdate)) < 3:
            time.sleep(0.01)
        assert [f.status for f in owner.events(TradeUpdate)] == [
            TradeStatus.MATCHED,
            TradeStatus.MINED,
            TradeStatus.CONFIRMED,
        ]
    finally:
        rt.shutdown()
