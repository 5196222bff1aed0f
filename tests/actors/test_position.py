"""PositionActor on the deterministic runtime, with the real journal, the real venue gateway and
the real paper exchange: the exit plan survives a cancel answered "not found" and the kill
switch, the floor stop sells, the stop asks for a reversal first, a crash rebuilds from the
journal and the venue without a duplicate order, a lost placement is looked up, balances that
lag are tolerated, and positions settle, release their capital and stop."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from types import SimpleNamespace

import pytest

from actors.feed import GetBook
from actors.journal import AppendDurable, JournalActor, Query, read_stream
from actors.messages import (
    CancelEntries,
    GetBalance,
    GetOpenOrders,
    Granted,
    MarketUpdate,
    Outcome,
    Refused,
    ReleaseReservation,
    Reserve,
    ResizeReservation,
    ReversalRequest,
    WindowResolved,
    position_actor,
    position_id,
    window_actor,
    window_id,
)
from actors.position import GetPosition, PositionActor
from actors.risk import RiskActor
from actors.venue import VenueGatewayActor, paper_venue
from config.messages import ConfigChanged
from config.settings import RiskSettings
from runtime.api import Actor, ActorDead
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime
from state.events import Event
from state.invariants import find_violations
from state.journal_store import JournalStore
from state.position import ADOPTED, PositionSettings, PositionState, Purpose, truncate_cents
from state.trading_events import (
    CapitalReserved,
    CapitalResized,
    ExitPlanPlaced,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderIntent,
    OrderRejected,
    PositionSettled,
    ReversalTriggered,
    ScaleInTriggered,
    SizeCorrected,
    StopArmed,
    StopLossTriggered,
)
from supervisors import ChildSpec, Flags, Restart, StartChild
from supervisors.dynamic import DynamicSupervisor
from tests.waiting import wait_for
from venues.paper import FaultSettings, PaperSettings
from venues.paper.faults import StreamFaultSettings
from venues.paper.ledger import Account
from venues.settings import VenueSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    OrderSnapshot,
    Side,
    TokenId,
    WindowListed,
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
WID = window_id(WINDOW)
PID = position_id(WID, Outcome.UP)
NAME = position_actor(PID)
UP = WINDOW.up_token


def client(purpose: str, n: int = 1) -> str:
    return f"{PID}/{purpose}/{n}"


class RiskStandIn(Actor):
    """Grants every reservation (unless told to refuse) and records what positions tell it."""

    def __init__(self) -> None:
        self.messages: list[object] = []
        self.is_refusing = False
        self.granted = 0

    def receive(self, message: object) -> object:
        self.messages.append(message)
        match message:
            case Reserve(amount=amount):
                if self.is_refusing:
                    return Refused(reason="state_degraded", detail="test")
                self.granted += 1
                return Granted(reservation_id=f"scale-{self.granted}", amount=amount)
            case _:
                return None

    def of(self, kind: type) -> list:
        return [m for m in self.messages if isinstance(m, kind)]


class Recorder(Actor):
    """The window, as far as its position is concerned: it records what it is told."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    def receive(self, message: object) -> object:
        self.messages.append(message)
        return None


class FeedStandIn(Actor):
    """The feed, as far as an adopted position is concerned: the last book of each token."""

    def __init__(self) -> None:
        self.books: dict[TokenId, BookSnapshot] = {}
        self.asked = 0

    def receive(self, message: object) -> object:
        match message:
            case GetBook(token_id=token_id):
                self.asked += 1
                return self.books.get(token_id)
            case _:
                return None


class Harness:
    """Journal, paper exchange behind the real gateway, a risk, a window and a feed stand-in,
    and one UP position (entry 20 @ 0.50, reservation r-1) opened 10 s into the window; or,
    with `adopted`, one reconciliation started for that many shares the wallet held (bought at
    0.40 outside the bot)."""

    def __init__(
        self,
        faults: FaultSettings | None = None,
        *,
        supervised: bool = False,
        settings: PositionSettings | None = None,
        adopted: Decimal | None = None,
    ) -> None:
        self.rt = DeterministicRuntime(ManualClock(T0 + 10))
        self.rt.spawn(lambda: JournalActor(lambda: JournalStore(":memory:")), name="journal")
        self.journal = self.rt.address("journal")
        # What risk journaled when it granted the entry's capital (checked by invariant 3).
        granted = CapitalReserved(
            stream_id="risk",
            ts=T0 + 10,
            reservation_id="r-1",
            owner=PID,
            window_id=WID,
            asset="BTC",
            amount=D(10),
            purpose="entry",
        )
        self.journal.ask(AppendDurable(events=(granted,)))
        self.factory = paper_venue(PaperSettings(faults=faults or FaultSettings()))
        self.exchange = self.factory(self.rt.clock)
        self.start_venue()
        self.risk = RiskStandIn()
        self.rt.spawn(lambda: self.risk, name="risk")
        self.window = Recorder()
        self.rt.spawn(lambda: self.window, name=window_actor(WID))
        self.venue.tell(WindowListed(window=WINDOW, timestamp=T0))
        self.set_book(UP, "0.48", "0.52")
        self.set_book(WINDOW.down_token, "0.48", "0.52")
        self.feed = FeedStandIn()
        self.rt.spawn(lambda: self.feed, name="feed")
        if adopted is not None:
            self.exchange.seed_position(WINDOW, UP, adopted, D("0.40"))
        self.settings = settings or PositionSettings()
        self.start = partial(
            PositionActor,
            position_id=PID,
            window=WINDOW,
            outcome=Outcome.UP,
            reservation_id="r-1",
            entry_price=D("0.50") if adopted is None else D("0.40"),
            entry_size=D(20) if adopted is None else adopted,
            purpose="entry" if adopted is None else ADOPTED,
            settings=self.settings,
        )
        if supervised:
            flags = Flags(intensity=5, period_s=60.0)
            self.rt.spawn(lambda: DynamicSupervisor(flags), name="positions")
            spec = ChildSpec(id=NAME, start=self.start, restart=Restart.TRANSIENT)
            self.rt.address("positions").ask(StartChild(spec=spec))
        else:
            self.rt.spawn(self.start, name=NAME)
        self.position = self.rt.address(NAME)
        self.rt.run_until_idle()

    def start_venue(self, incarnation: int = 1) -> None:
        self.rt.spawn(
            lambda: VenueGatewayActor(self.factory, VenueSettings(), market=None),
            name="venue",
            incarnation=incarnation,
        )
        self.venue = self.rt.address("venue")

    # --- the market -----------------------------------------------------------------------------
    def book(self, token: TokenId, bid: str, ask: str, size: int = 100) -> BookSnapshot:
        return BookSnapshot(
            condition_id=WINDOW.condition_id,
            token_id=token,
            bids=(BookLevel(D(bid), D(size)),),
            asks=(BookLevel(D(ask), D(size)),),
            tick_size=D("0.01"),
            timestamp=self.rt.clock.now(),
        )

    def set_book(self, token: TokenId, bid: str, ask: str) -> None:
        self.venue.tell(self.book(token, bid, ask))
        self.rt.run_until_idle()

    def show(self, bid: str, ask: str, confidence: str | None = None) -> None:
        """The market moves and the window tells its position (as the window actor does)."""
        self.set_book(UP, bid, ask)
        self.position.tell(
            MarketUpdate(
                book=self.book(UP, bid, ask),
                confidence=None if confidence is None else D(confidence),
                timestamp=self.rt.clock.now(),
            )
        )
        self.rt.run_until_idle()

    def sell_into_our_bid(self, size: int, price: str = "0.50") -> None:
        """A market seller trades with our resting entry (a maker fill for us)."""
        self.venue.tell(
            LastTrade(
                condition_id=WINDOW.condition_id,
                token_id=UP,
                price=D(price),
                size=D(size),
                side=Side.SELL,
                timestamp=self.rt.clock.now(),
            )
        )
        self.rt.run_until_idle()

    def advance(self, seconds: float) -> None:
        self.rt.advance(seconds)

    # --- reading --------------------------------------------------------------------------------
    def state(self) -> PositionState:
        state = self.position.ask(GetPosition())
        assert isinstance(state, PositionState)
        return state

    def events(self, kind: type[Event] = Event) -> list:
        return [e for e in read_stream(self.journal, NAME) if isinstance(e, kind)]

    def open_sells(self) -> list[OrderSnapshot]:
        return [o for o in self.exchange.open_orders() if o.side is Side.SELL]

    def held(self) -> Decimal:
        return self.exchange.balance(UP)

    def violations(self) -> list:
        def query(sql: str, params: tuple) -> list:
            rows = self.journal.ask(Query(sql=sql, params=params))
            assert isinstance(rows, list), rows
            return rows

        return find_violations(query, since_seq=0)

    def is_alive(self) -> bool:
        return NAME in self.rt.names()


def exit_plan_covers_the_position(h: Harness) -> None:
    (exit_order,) = h.open_sells()
    assert exit_order.price == D("0.99")
    assert exit_order.original_size - exit_order.size_matched == truncate_cents(h.held())
    assert truncate_cents(h.state().size) == truncate_cents(h.held())


def holding(h: Harness, size: int = 20) -> None:
    h.sell_into_our_bid(size)
    h.advance(60)
    exit_plan_covers_the_position(h)


# --- opening -----------------------------------------------------------------------------------


def test_the_entry_is_journaled_durably_then_placed_at_the_venue() -> None:
    h = Harness()
    kinds = [type(e).__name__ for e in h.events()]
    assert kinds[:3] == ["PositionOpened", "OrderIntent", "OrderAccepted"]
    (entry,) = h.exchange.open_orders()
    assert (entry.client_id, entry.side, entry.price, entry.original_size) == (
        client("entry"),
        Side.BUY,
        D("0.50"),
        D(20),
    )


def test_fills_are_journaled_once_per_status_and_the_exit_plan_follows_after_a_minute() -> None:
    h = Harness()
    h.sell_into_our_bid(8)
    fills = h.events(OrderFilled)
    assert [f.status for f in fills] == ["MATCHED", "MINED", "CONFIRMED"]
    assert h.state().size == 8
    h.advance(59)
    assert not h.open_sells()
    h.advance(1)
    exit_plan_covers_the_position(h)
    h.sell_into_our_bid(12)
    exit_plan_covers_the_position(h)
    assert [e.size for e in h.events(ExitPlanPlaced)] == [8, 20]
    assert not h.violations()


# --- invariant 4: cancel "not found" ----------------------------------------------------------


def test_a_cancel_answered_not_found_still_gets_the_new_exit_plan_placed() -> None:
    h = Harness(FaultSettings(cancel_not_found=True))
    holding(h, 8)
    (old_plan,) = h.open_sells()
    # The venue loses the exit plan and its cancellation event never reaches us.
    mangler = h.exchange._user_stream
    kept = mangler._settings
    mangler._settings = StreamFaultSettings(drop_rate=1.0)
    h.exchange.cancel(old_plan.order_id)
    mangler._settings = kept
    assert h.state().working(Purpose.EXIT)  # we still believe it rests
    h.sell_into_our_bid(12)  # a size change: resize = cancel old (404) + place new
    cancelled = [e for e in h.events(OrderCancelled) if e.client_id == client("exit")]
    assert len(cancelled) == 1
    assert "already gone" in cancelled[0].reason
    exit_plan_covers_the_position(h)
    assert h.open_sells()[0].client_id == client("exit", 2)
    assert h.held() == 20


# --- invariant 7: the kill switch ---------------------------------------------------------------


def test_the_kill_switch_cancels_the_entry_and_keeps_the_exit_plan() -> None:
    h = Harness()
    holding(h, 8)
    h.position.tell(CancelEntries(reason="halt: daily loss"))
    h.rt.run_until_idle()
    assert not [o for o in h.exchange.open_orders() if o.side is Side.BUY]
    exit_plan_covers_the_position(h)
    (cancelled,) = h.events(OrderCancelled)
    assert cancelled.client_id == client("entry")
    assert cancelled.reason.startswith("kill_switch")
    # The entry is over: risk hears what it spent (it no longer counts it as open).
    assert ResizeReservation in {type(m) for m in h.risk.messages}
    assert not h.violations()
    h.advance(300)
    exit_plan_covers_the_position(h)


def test_a_resize_risk_never_acknowledged_is_sent_again_once_risk_is_back() -> None:
    h = Harness()
    holding(h, 8)
    h.rt.lookup("risk").stop()  # risk is down (restarting) when the entry ends
    h.rt.run_until_idle()
    h.position.tell(CancelEntries(reason="halt: daily loss"))
    h.rt.run_until_idle()
    assert "r-1" not in h.state().resized_reservations  # not marked done: nobody heard it
    # The real risk comes back, rebuilding reservation r-1 from its stream.
    h.rt.spawn(
        lambda: RiskActor(RiskSettings(), starting_collateral=D(100)), name="risk", incarnation=2
    )
    h.advance(h.settings.check_interval_s + 1)
    assert "r-1" in h.state().resized_reservations
    resized = [e for e in read_stream(h.journal, "risk") if isinstance(e, CapitalResized)]
    assert [(e.reservation_id, e.amount) for e in resized] == [("r-1", D(4))]  # 8 at 0.50
    exit_plan_covers_the_position(h)


# --- stop loss ---------------------------------------------------------------------------------


def test_below_the_floor_the_exit_plan_is_taken_off_and_the_position_sold() -> None:
    h = Harness()
    holding(h)
    h.show("0.13", "0.15")
    (stop,) = h.events(StopLossTriggered)
    assert stop.kind == "floor"
    assert not h.events(ReversalTriggered)
    assert h.held() == 0
    assert not h.open_sells()
    exit_cancel = [e for e in h.events(OrderCancelled) if e.client_id == client("exit")]
    assert exit_cancel[0].reason == "stop_loss"
    (settled,) = h.events(PositionSettled)
    assert settled.how == "sold"
    assert settled.realized_pnl == settled.proceeds - settled.cost < 0
    assert h.events()[-1] == settled  # the stream reads in the order things happened
    (release,) = h.risk.of(ReleaseReservation)
    assert (release.reservation_id, release.realized_pnl) == ("r-1", settled.realized_pnl)
    assert not h.is_alive()
    assert not h.violations()


def test_the_stop_asks_the_window_to_reverse_first_and_sells_only_after_the_hedge_time() -> None:
    h = Harness()
    holding(h)
    h.show("0.28", "0.30", confidence="0.20")
    (request,) = [m for m in h.window.messages if isinstance(m, ReversalRequest)]
    assert (request.position_id, request.losing, request.size) == (PID, Outcome.UP, D(20))
    assert h.held() == 20
    exit_plan_covers_the_position(h)
    h.advance(115)
    assert not h.events(StopLossTriggered)
    assert h.held() == 20
    h.advance(10)
    (stop,) = h.events(StopLossTriggered)
    assert stop.kind == "hedged"
    assert h.held() == 0
    assert len(h.events(ReversalTriggered)) == 1


def test_a_stop_is_not_sold_while_the_confidence_still_favours_our_side() -> None:
    h = Harness()
    holding(h)
    h.show("0.28", "0.30", confidence="0.60")
    h.advance(200)
    assert not h.events(StopLossTriggered)
    assert h.held() == 20


# --- an adopted position's stop loss ---------------------------------------------------------------


def test_an_adopted_position_reads_its_price_from_the_feed_and_stops_only_on_a_later_fall() -> None:
    h = Harness(adopted=D(20))
    h.feed.books[UP] = h.book(UP, "0.09", "0.11")  # found below the floor
    h.advance(60)
    exit_plan_covers_the_position(h)
    assert h.feed.asked >= 10  # at its start and at each check
    assert not h.events(StopArmed)
    assert not h.events(StopLossTriggered)
    assert h.held() == 20  # adoption sold nothing
    h.feed.books[UP] = h.book(UP, "0.49", "0.51")
    h.advance(5)
    (armed,) = h.events(StopArmed)
    assert armed.midpoint == D("0.50")
    h.set_book(UP, "0.13", "0.15")  # the venue's book, and the feed's, fall through the floor
    h.feed.books[UP] = h.book(UP, "0.13", "0.15")
    h.advance(5)
    (stop,) = h.events(StopLossTriggered)
    assert stop.kind == "floor"
    assert h.held() == 0
    assert not h.open_sells()
    (settled,) = h.events(PositionSettled)
    assert settled.how == "sold"
    assert not h.is_alive()


def test_an_adopted_position_the_feed_has_no_book_of_keeps_its_exit_plan_only() -> None:
    h = Harness(adopted=D(20))
    h.advance(120)
    exit_plan_covers_the_position(h)
    assert h.feed.asked > 0
    assert not h.events(StopArmed)
    assert h.held() == 20


def test_after_its_window_an_adopted_position_stops_reading_the_feed() -> None:
    # A book that no longer moves must not hide that prices stopped: force-settlement counts
    # the checks without one.
    h = Harness(adopted=D(20))
    h.feed.books[UP] = h.book(UP, "0.49", "0.51")
    h.advance(WINDOW.end - h.rt.clock.now())
    asked = h.feed.asked
    h.advance(60)
    assert h.feed.asked == asked


# --- crash and restart ---------------------------------------------------------------------------


def test_a_crash_mid_life_rebuilds_from_the_journal_without_a_duplicate_order() -> None:
    h = Harness(supervised=True)
    holding(h, 8)
    intents = len(h.events(OrderIntent))
    # The position crashes, and a fill arrives while it is down: the gateway cannot deliver it.
    h.position.tell("not a message a position knows: crash")
    h.sell_into_our_bid(12)
    assert h.is_alive()  # restarted by its supervisor
    state = h.state()
    assert state.size == 20  # the missed fill was found at the venue
    exit_plan_covers_the_position(h)
    assert len(h.events(OrderIntent)) == intents + 1  # only the resized exit plan
    accepted = [e.client_id for e in h.events(OrderAccepted)]
    assert len(accepted) == len(set(accepted))
    assert not h.violations()
    h.advance(30)
    exit_plan_covers_the_position(h)


def test_a_settled_position_that_starts_again_stops_at_once_and_sends_nothing() -> None:
    h = Harness()
    h.advance(300)  # not winning: the entry times out unfilled
    (settled,) = h.events(PositionSettled)
    assert settled.how == "cancelled_unfilled"
    assert not h.is_alive()
    assert not h.exchange.open_orders()
    h.rt.spawn(h.start, name=NAME)
    h.rt.run_until_idle()
    assert not h.is_alive()
    assert len(h.events(OrderIntent)) == 1
    assert not h.exchange.open_orders()


def test_an_exit_whose_answer_was_lost_in_a_crash_is_looked_up_not_resent() -> None:
    h = Harness(supervised=True)
    h.sell_into_our_bid(20)
    place = h.exchange.place_order

    def place_then_die(request):
        place(request)
        raise RuntimeError("the gateway died after the venue took the order")

    h.exchange.place_order = place_then_die  # type: ignore[method-assign]
    h.advance(60)  # the exit plan is due: journaled, taken by the venue, the answer lost
    del h.exchange.place_order
    assert h.is_alive()  # the position crashed with its ask and was restarted
    assert client("exit") in [e.client_id for e in h.events(OrderIntent)]
    assert client("exit") not in [e.client_id for e in h.events(OrderAccepted)]
    h.start_venue(incarnation=2)  # the gateway restarts and adopts the venue's open orders
    h.advance(30)
    (accepted,) = [e for e in h.events(OrderAccepted) if e.client_id == client("exit")]
    assert accepted.order_id == h.open_sells()[0].order_id
    assert [e.client_id for e in h.events(ExitPlanPlaced)] == [client("exit")]
    assert [e.client_id for e in h.events(OrderIntent)].count(client("exit", 2)) == 0
    exit_plan_covers_the_position(h)
    assert not h.violations()


# --- balances that lag fills ---------------------------------------------------------------------


def test_a_scale_in_under_a_lagging_balance_resizes_the_exit_plan_without_errors() -> None:
    h = Harness(FaultSettings(balance_lag_s=20))
    holding(h)
    h.show("0.60", "0.61", confidence="0.80")
    (reserve,) = h.risk.of(Reserve)
    assert (reserve.purpose, reserve.amount) == ("scalein", D("5.00"))
    assert len(h.events(ScaleInTriggered)) == 1
    assert h.exchange.holding(Account.US, UP) > 20  # the true holdings include it at once ...
    assert h.state().size == h.exchange.holding(Account.US, UP)
    (plan,) = h.open_sells()
    assert plan.original_size == 20  # ... but the exit plan waits for the wallet to show it
    h.advance(30)
    exit_plan_covers_the_position(h)
    assert truncate_cents(h.state().size) == h.open_sells()[0].original_size > 20
    assert not h.events(OrderRejected)
    assert not h.events(SizeCorrected)


def test_a_refused_scale_in_is_not_retried_in_a_loop() -> None:
    h = Harness()
    holding(h)
    h.risk.is_refusing = True
    for _ in range(5):
        h.show("0.60", "0.61", confidence="0.80")
    assert len(h.risk.of(Reserve)) == 1
    assert not h.events(ScaleInTriggered)


# --- settlement --------------------------------------------------------------------------------


@pytest.mark.parametrize(("winner", "pnl"), [(Outcome.UP, D(10)), (Outcome.DOWN, D(-10))])
def test_at_resolution_the_position_is_redeemed_settled_released_and_stopped(
    winner: Outcome, pnl: Decimal
) -> None:
    h = Harness()
    holding(h)
    collateral_before = h.exchange.balance(None)
    h.advance(900 - 70 + 30)
    h.venue.tell(
        MarketResolved(
            condition_id=WINDOW.condition_id,
            winning_token=WINDOW.up_token if winner is Outcome.UP else WINDOW.down_token,
            winning_outcome="Up" if winner is Outcome.UP else "Down",
            timestamp=h.rt.clock.now(),
        )
    )
    h.position.tell(
        WindowResolved(condition_id=WINDOW.condition_id, winner=winner, timestamp=h.rt.clock.now())
    )
    h.rt.run_until_idle()
    (settled,) = h.events(PositionSettled)
    assert (settled.how, settled.cost, settled.realized_pnl) == ("resolved", D(10), pnl)
    won = D(20) if winner is Outcome.UP else D(0)
    assert h.exchange.balance(None) == collateral_before + won
    (release,) = h.risk.of(ReleaseReservation)
    assert release.realized_pnl == pnl
    assert not h.is_alive()
    assert not h.violations()


def test_an_unfilled_entry_that_is_winning_at_its_timeout_is_retried_at_market() -> None:
    h = Harness()
    h.show("0.57", "0.59")
    h.advance(300)
    retry = [e for e in h.events(OrderIntent) if e.purpose == "retry"]
    assert [(r.order_type, r.amount) for r in retry] == [("FAK", D("10.00"))]
    assert h.held() > 0
    assert not h.events(PositionSettled)
    h.advance(60)
    exit_plan_covers_the_position(h)


# --- configuration -------------------------------------------------------------------------------


def test_new_thresholds_from_the_config_actor_apply_without_a_restart() -> None:
    h = Harness()
    sooner = PositionSettings(entry_unfilled_timeout_s=100)
    # ConfigChanged carries the whole Settings; the position reads its `position` section.
    h.position.tell(
        ConfigChanged(
            settings=SimpleNamespace(position=sooner),  # type: ignore[arg-type]
            changed=("position.entry_unfilled_timeout_s",),
            needs_restart=(),
        )
    )
    h.advance(100)
    (settled,) = h.events(PositionSettled)
    assert settled.how == "cancelled_unfilled"
    assert h.rt.clock.now() - settled.ts < 5


# --- on threads ------------------------------------------------------------------------------------


def test_on_pykka_threads_a_position_opens_covers_itself_and_stops_out() -> None:
    clock = ManualClock(T0 + 10)
    rt = PykkaRuntime(clock)
    try:
        rt.spawn(lambda: JournalActor(lambda: JournalStore(":memory:")), name="journal")
        factory = paper_venue(PaperSettings())
        exchange = factory(clock)
        venue = rt.spawn(
            lambda: VenueGatewayActor(factory, VenueSettings(), market=None), name="venue"
        )
        risk = RiskStandIn()
        rt.spawn(lambda: risk, name="risk")
        venue.tell(WindowListed(window=WINDOW, timestamp=T0))
        book = BookSnapshot(
            condition_id=WINDOW.condition_id,
            token_id=UP,
            bids=(BookLevel(D("0.48"), D(100)),),
            asks=(BookLevel(D("0.52"), D(100)),),
            tick_size=D("0.01"),
            timestamp=T0,
        )
        venue.tell(book)
        rt.spawn(
            partial(
                PositionActor,
                position_id=PID,
                window=WINDOW,
                outcome=Outcome.UP,
                reservation_id="r-1",
                entry_price=D("0.50"),
                entry_size=D(20),
                purpose="entry",
                settings=PositionSettings(),
            ),
            name=NAME,
        )
        assert wait_for(lambda: len(venue.ask(GetOpenOrders())) == 1)
        venue.tell(
            LastTrade(
                condition_id=WINDOW.condition_id,
                token_id=UP,
                price=D("0.50"),
                size=D(20),
                side=Side.SELL,
                timestamp=T0 + 10,
            )
        )
        assert wait_for(lambda: rt.lookup(NAME).ask(GetPosition()).size == 20)
        clock.advance(65)
        assert wait_for(
            lambda: (
                [(o.side, o.original_size) for o in venue.ask(GetOpenOrders())]
                == [(Side.SELL, D(20))]
            )
        )
        low = BookSnapshot(
            condition_id=WINDOW.condition_id,
            token_id=UP,
            bids=(BookLevel(D("0.13"), D(100)),),
            asks=(BookLevel(D("0.15"), D(100)),),
            tick_size=D("0.01"),
            timestamp=T0 + 75,
        )
        venue.tell(low)
        rt.lookup(NAME).tell(MarketUpdate(book=low, confidence=None, timestamp=T0 + 75))
        assert wait_for(lambda: not _alive(rt))
        assert venue.ask(GetBalance(token_id=UP)) == 0
        assert exchange.audit() == ()
        journaled = read_stream(rt.address("journal"), NAME)
        (settled,) = [e for e in journaled if isinstance(e, PositionSettled)]
        assert settled.how == "sold"
        releases = [m for m in risk.messages if isinstance(m, ReleaseReservation)]
        assert [r.reservation_id for r in releases] == ["r-1"]
    finally:
        rt.shutdown()


def _alive(rt: PykkaRuntime) -> bool:
    try:
        return rt.lookup(NAME).is_alive()
    except ActorDead:
        return False
