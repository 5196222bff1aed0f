"""WindowActor on the deterministic runtime with the real journal and real supervisors: it
scores on its own timer, enters once per side however often the decision repeats, never
re-enters after a restart, respects risk's refusals, reverses at most once, never enters
outside the band, follows the resolution and stops."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import pytest

from actors.journal import AppendDurable, JournalActor, ReadStream, read_stream
from actors.messages import (
    BookUpdate,
    GetRiskSnapshot,
    Granted,
    MarketUpdate,
    Outcome,
    Refused,
    ReleaseReservation,
    Reserve,
    ReversalRequest,
    RiskSnapshot,
    RiskState,
    SpotUpdate,
    WindowOpened,
    WindowResolved,
    position_actor,
    position_id,
    window_actor,
    window_id,
)
from actors.risk import RiskActor
from actors.window import WindowActor, default_position_start
from config.settings import RiskSettings
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from state.events import Event, EventRecord
from state.journal_store import JournalStore
from state.trading_events import (
    CapitalReleased,
    EntryDecided,
    PositionOpened,
    SignalScored,
    WindowAnchored,
    WindowClosed,
    WindowDiscovered,
)
from strategy.settings import StrategySettings
from supervisors import ChildSpec, DynamicSupervisor, Flags, Restart, StartChild, Supervisor
from venues.types import BookLevel, BookSnapshot, ConditionId, MarketWindow, TokenId

D = Decimal
START = 1_767_225_900.0  # 2026-01-01T00:05Z
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
WID = window_id(WINDOW)
NAME = window_actor(WID)
UP_PID = position_id(WID, Outcome.UP)
DOWN_PID = position_id(WID, Outcome.DOWN)
# The test market jumps 0.2 % at once and then stands still, which an estimated volatility
# would read as wild; the configured volatility keeps the fair value readable.
SETTINGS = StrategySettings(
    decision_interval_s=5.0, signal_cooldown_s=30.0, volatility_min_samples=1_000_000
)


# --- collaborators ------------------------------------------------------------------------------


@dataclass
class ScriptedRisk:
    """What the test's risk actor answers, and what it was asked."""

    equity: Decimal = field(default_factory=lambda: D(1000))
    refuse: bool = False
    grant_at_most: Decimal | None = None
    reserves: list[Reserve] = field(default_factory=list)
    released: list[ReleaseReservation] = field(default_factory=list)


class RiskStub(Actor):
    """Stands in for "risk": grants what it is asked (or at most `grant_at_most`) or refuses."""

    def __init__(self, script: ScriptedRisk) -> None:
        self.script = script

    def receive(self, message: object) -> object:
        match message:
            case Reserve():
                self.script.reserves.append(message)
                if self.script.refuse:
                    return Refused(reason="state_halted", detail="test")
                cap = self.script.grant_at_most
                amount = message.amount if cap is None else min(cap, message.amount)
                return Granted(reservation_id=f"{message.owner}/r", amount=amount)
            case ReleaseReservation():
                self.script.released.append(message)
                return None
            case GetRiskSnapshot():
                return RiskSnapshot(
                    state=RiskState.NORMAL,
                    equity=self.script.equity,
                    collateral=self.script.equity,
                    exposure=D(0),
                    reservations=0,
                    realized_pnl_today=D(0),
                    refusals=0,
                )
            case _:
                return super().receive(message)


@dataclass
class Positions:
    """What the test's position actors saw: starts (constructor arguments) and messages."""

    starts: list[dict[str, object]] = field(default_factory=list)
    received: dict[str, list[object]] = field(default_factory=dict)
    stop_on_resolution: bool = True
    fail_starts: bool = False  # every start fails (its supervisor answers StartRefused)


class RecordingPosition(Actor):
    """A stand-in position: journals PositionOpened like a real one, records what it gets."""

    def __init__(self, record: Positions, **arguments: object) -> None:
        self.record = record
        self.arguments = arguments

    def on_start(self) -> None:
        if self.record.fail_starts:
            msg = "test: this position cannot start now"
            raise RuntimeError(msg)
        self.record.starts.append(self.arguments)
        pid = str(self.arguments["position_id"])
        self.record.received.setdefault(pid, [])
        window: MarketWindow = self.arguments["window"]  # type: ignore[assignment]
        outcome: Outcome = self.arguments["outcome"]  # type: ignore[assignment]
        opened = PositionOpened(
            stream_id=position_actor(pid),
            ts=self.ctx.clock.now(),
            position_id=pid,
            window_id=window_id(window),
            outcome=outcome.value,
            token_id=window.up_token if outcome is Outcome.UP else window.down_token,
            condition_id=window.condition_id,
            reservation_id=str(self.arguments["reservation_id"]),
            entry_price=self.arguments["entry_price"],  # type: ignore[arg-type]
            entry_size=self.arguments["entry_size"],  # type: ignore[arg-type]
            purpose=str(self.arguments["purpose"]),
        )
        self.ctx.runtime.lookup("journal").ask(_durable(opened))

    def receive(self, message: object) -> object:
        self.record.received[str(self.arguments["position_id"])].append(message)
        if isinstance(message, WindowResolved) and self.record.stop_on_resolution:
            self.ctx.stop_self()
        return None


def _durable(event: Event) -> AppendDurable:
    return AppendDurable(events=(event,))


class Harness:
    """The journal, a risk stand-in, the "positions" and "windows" dynamic supervisors, and a
    window actor fed by the test as the feed would."""

    def __init__(
        self,
        settings: StrategySettings = SETTINGS,
        journal_store: Callable[[], JournalStore] | None = None,
        *,
        real_risk: bool = False,
    ) -> None:
        store = journal_store or partial(JournalStore, ":memory:")
        self.clock = ManualClock(START - 300)
        self.runtime = DeterministicRuntime(self.clock)
        self.settings = settings
        self.risk = ScriptedRisk()
        self.positions = Positions()
        flags = Flags(intensity=10, period_s=60.0)
        # The journal is supervised, as in the tree: a failed write crashes and restarts it.
        journal = ChildSpec(id="journal", start=partial(JournalActor, store))
        self.runtime.spawn(lambda: Supervisor(flags, [journal]), name="root")
        if real_risk:
            # Its own sweeps are slowed and its grace is off, so what releases is the window.
            start_risk = partial(
                RiskActor,
                RiskSettings(),
                starting_collateral=D(1000),
                balance_poll_interval_s=None,
                tick_interval_s=3600.0,
                orphan_grace_s=None,
            )
            self.runtime.spawn(start_risk, name="risk")
        else:
            self.runtime.spawn(lambda: RiskStub(self.risk), name="risk")
        self.runtime.spawn(lambda: DynamicSupervisor(flags), name="positions")
        self.runtime.spawn(lambda: DynamicSupervisor(flags), name="windows")

    def start_window(self) -> None:
        start = partial(
            WindowActor,
            window=WINDOW,
            settings=self.settings,
            position_start=partial(RecordingPosition, self.positions),
        )
        spec = ChildSpec(id=NAME, start=start, restart=Restart.TRANSIENT)
        self.runtime.lookup("windows").ask(StartChild(spec=spec))

    def tell(self, message: object) -> None:
        self.runtime.lookup(NAME).tell(message)
        self.runtime.run_until_idle()

    def market(self, *, spot: str, up: tuple[str, str], down: tuple[str, str]) -> None:
        """The feed's updates at the current time: the reference price and both books."""
        now = self.clock.now()
        self.tell(SpotUpdate(asset="BTC", price=D(spot), timestamp=now))
        self.tell(BookUpdate(book=book("tok-up", *up, now)))
        self.tell(BookUpdate(book=book("tok-down", *down, now)))

    def open(self) -> None:
        """Run to the open and show the window its first prices: price to beat 100, UP 0.50."""
        self.runtime.advance_to(START)
        self.market(spot="100", up=("0.49", "0.51"), down=("0.49", "0.51"))
        self.tell(WindowOpened(window=WINDOW))

    def run(
        self, seconds: float, *, direction: Outcome | None = Outcome.UP, step: float = 1.0
    ) -> None:
        """Advance `seconds`, with the market moved strongly in `direction` every `step`."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.runtime.advance(step)
            if direction is Outcome.UP:
                self.market(spot="100.2", up=("0.61", "0.62"), down=("0.38", "0.39"))
            elif direction is Outcome.DOWN:
                self.market(spot="99.7", up=("0.25", "0.26"), down=("0.74", "0.75"))
            else:
                self.market(spot="100", up=("0.49", "0.51"), down=("0.49", "0.51"))

    def events(self, stream: str = f"window/{WID}") -> list[Event]:
        return read_stream(self.runtime.lookup("journal"), stream)

    def of_type(self, kind: type[Event], stream: str = f"window/{WID}") -> list[Event]:
        return [e for e in self.events(stream) if isinstance(e, kind)]

    def crash_window(self) -> None:
        self.tell(object())  # no case for it: the window crashes; its supervisor restarts it
        assert self.runtime.lookup(NAME).is_alive()

    def window_alive(self) -> bool:
        return NAME in self.runtime.names()


def book(token: str, bid: str, ask: str, at: float) -> BookSnapshot:
    return BookSnapshot(
        condition_id=WINDOW.condition_id,
        token_id=TokenId(token),
        bids=(BookLevel(D(bid), D(200)),),
        asks=(BookLevel(D(ask), D(200)),),
        tick_size=D("0.01"),
        timestamp=at,
    )


@pytest.fixture
def harness() -> Harness:
    h = Harness()
    h.start_window()
    return h


# --- lifecycle ----------------------------------------------------------------------------------


def test_the_first_start_journals_the_discovery_and_a_restart_does_not_again(harness):
    [discovered] = harness.of_type(WindowDiscovered)
    assert (discovered.window_id, discovered.condition_id) == (WID, "0xcond")
    harness.crash_window()
    assert len(harness.of_type(WindowDiscovered)) == 1


def test_the_open_is_anchored_once_with_the_price_to_beat(harness):
    harness.open()
    harness.run(20, direction=None)
    [anchored] = harness.of_type(WindowAnchored)
    assert (anchored.price_to_beat, anchored.open_mid_up, anchored.exact) == (
        D(100),
        D("0.50"),
        True,
    )


def test_the_window_scores_on_its_timer_not_on_every_book_change(harness):
    harness.open()
    harness.run(30, direction=None, step=0.25)  # 120 market updates, 360 messages
    scored = harness.of_type(SignalScored)
    assert 5 <= len(scored) <= 7  # one per decision_interval_s (5 s)
    assert {s.reason for s in scored} == {"before_entry_band"}


# --- entries ------------------------------------------------------------------------------------


def test_a_strong_move_enters_once_per_side_however_often_the_decision_repeats(harness):
    harness.open()
    harness.run(60 + 120)  # a minute of band closed, then two minutes of the same strong signal
    [decided] = harness.of_type(EntryDecided)
    assert (decided.position_id, decided.outcome, decided.purpose) == (UP_PID, "UP", "entry")
    assert decided.price == D("0.62")
    assert decided.reservation_id == f"{UP_PID}/r"
    assert len(harness.risk.reserves) == 1
    assert [s["position_id"] for s in harness.positions.starts] == [UP_PID]
    start = harness.positions.starts[0]
    assert (start["outcome"], start["entry_size"], start["purpose"]) == (
        Outcome.UP,
        decided.size,
        "entry",
    )
    reasons = Counter(s.reason for s in harness.of_type(SignalScored))
    assert reasons["gates_passed"] == 1
    assert reasons["max_entries"] > 10


def test_the_entry_is_durable_before_the_position_starts(harness):
    harness.open()
    harness.run(65)
    journal = harness.runtime.lookup("journal")
    [decided] = [
        r for r in journal.ask(ReadStream(stream_id=NAME)) if r.type_name == "EntryDecided"
    ]
    [opened] = journal.ask(ReadStream(stream_id=position_actor(UP_PID)))
    assert opened.type_name == "PositionOpened"
    assert decided.seq < opened.seq


class EntryWriteFails:
    """A disk that fails the first commit holding an EntryDecided."""

    def __init__(self) -> None:
        self.failures = 0

    def __call__(self, records: Sequence[EventRecord]) -> None:
        if self.failures == 0 and any(r.type_name == "EntryDecided" for r in records):
            self.failures += 1
            msg = "simulated disk failure"
            raise OSError(msg)


def test_a_failed_entry_write_starts_no_position_and_the_retry_enters_exactly_once(tmp_path):
    fault = EntryWriteFails()
    h = Harness(journal_store=partial(JournalStore, tmp_path / "journal.duckdb", fault=fault))
    h.start_window()
    h.open()
    # The first decision, at the band's opening: risk grants, the journal write fails, the
    # journal and the window crash and are restarted.
    h.run(60)
    assert fault.failures == 1
    assert h.of_type(EntryDecided) == []
    assert h.positions.starts == []
    h.run(30)  # both restarted; the window decides again and risk returns the same grant
    assert len(h.of_type(EntryDecided)) == 1
    assert [s["position_id"] for s in h.positions.starts] == [UP_PID]
    assert {r.owner for r in h.risk.reserves} == {UP_PID}


def test_the_position_gets_its_tokens_book_and_the_windows_confidence(harness):
    harness.open()
    harness.run(70)
    updates = [m for m in harness.positions.received[UP_PID] if isinstance(m, MarketUpdate)]
    assert updates
    assert {u.book.token_id for u in updates} == {"tok-up"}
    assert updates[-1].confidence is not None
    assert updates[-1].confidence > D("0.6")


def test_a_restart_rebuilds_the_entered_sides_and_does_not_enter_again(harness):
    harness.open()
    harness.run(65)
    assert len(harness.of_type(EntryDecided)) == 1
    harness.crash_window()
    harness.run(120)
    assert len(harness.of_type(EntryDecided)) == 1
    assert len(harness.risk.reserves) == 1
    assert len(harness.positions.starts) == 1


def test_a_restart_starts_the_position_of_an_entry_that_never_ran():
    h = Harness()
    decided = EntryDecided(
        stream_id=f"window/{WID}",
        ts=START + 70,
        window_id=WID,
        position_id=UP_PID,
        outcome="UP",
        price=D("0.62"),
        size=D(40),
        purpose="entry",
        reservation_id="res-7",
    )
    h.runtime.lookup("journal").ask(_durable(decided))
    h.start_window()
    [start] = h.positions.starts
    assert (start["position_id"], start["reservation_id"], start["entry_size"]) == (
        UP_PID,
        "res-7",
        D(40),
    )
    h.crash_window()  # its position has journaled now: not started a second time
    assert len(h.positions.starts) == 1


def test_with_two_entries_allowed_each_side_is_entered_once():
    h = Harness(SETTINGS.model_copy(update={"max_entries_per_window": 2}))
    h.start_window()
    h.open()
    h.run(90, direction=Outcome.UP)
    h.run(90, direction=Outcome.DOWN)
    h.run(90, direction=Outcome.UP)
    decided = h.of_type(EntryDecided)
    assert [e.outcome for e in decided] == ["UP", "DOWN"]
    assert sorted(s["position_id"] for s in h.positions.starts) == [DOWN_PID, UP_PID]


def test_refusals_are_respected_with_the_cooldown(harness):
    harness.risk.refuse = True
    harness.open()
    harness.run(60 + 95)  # 95 s inside the band, a cooldown of 30 s
    assert len(harness.risk.reserves) == 4  # at 60, 90, 120 and 150 s
    assert harness.of_type(EntryDecided) == []
    assert harness.positions.starts == []
    assert "cooldown" in {s.reason for s in harness.of_type(SignalScored)}
    harness.risk.refuse = False
    harness.run(30)
    assert len(harness.of_type(EntryDecided)) == 1


def test_a_grant_smaller_than_asked_sizes_the_entry_down(harness):
    harness.risk.grant_at_most = D(10)
    harness.open()
    harness.run(65)
    [decided] = harness.of_type(EntryDecided)
    assert decided.size == D("16.12")  # 10 / 0.62, truncated


def test_a_grant_too_small_to_trade_is_released_and_not_entered(harness):
    harness.risk.grant_at_most = D(1)
    harness.open()
    harness.run(65)
    assert harness.of_type(EntryDecided) == []
    assert [r.reservation_id for r in harness.risk.released] == [f"{UP_PID}/r"]


@pytest.mark.parametrize(
    ("before", "during"),
    [(0.0, 55.0), (900.0 - 120.0 + 1.0, 100.0)],
    ids=["before the band", "after the band"],
)
def test_no_entry_outside_the_band(harness, before, during):
    harness.open()
    if before:
        harness.run(before, direction=None)
    harness.run(during)
    assert harness.of_type(EntryDecided) == []
    assert harness.risk.reserves == []
    skipped = {s.reason for s in harness.of_type(SignalScored) if s.decision == "skip"}
    assert skipped <= {"before_entry_band", "after_entry_band", "low_confidence"}


def test_a_window_first_seen_after_the_open_does_not_enter():
    h = Harness()
    h.start_window()
    h.runtime.advance_to(START + 200)
    h.run(100)
    [anchored] = h.of_type(WindowAnchored)
    assert not anchored.exact
    assert h.of_type(EntryDecided) == []


# --- reversals ----------------------------------------------------------------------------------


def reversal_request(size: str = "40") -> ReversalRequest:
    return ReversalRequest(position_id=UP_PID, losing=Outcome.UP, size=D(size), timestamp=0.0)


def test_a_reversal_buys_the_other_side_once_per_window(harness):
    harness.open()
    harness.run(65)
    harness.run(20, direction=Outcome.DOWN)
    harness.tell(reversal_request())
    harness.tell(reversal_request())
    harness.run(20, direction=Outcome.DOWN)
    harness.tell(reversal_request())
    decided = harness.of_type(EntryDecided)
    assert [(e.outcome, e.purpose) for e in decided] == [("UP", "entry"), ("DOWN", "reversal")]
    assert decided[1].size == D(40)
    assert [s["position_id"] for s in harness.positions.starts] == [UP_PID, DOWN_PID]
    assert [r.purpose for r in harness.risk.reserves] == ["entry", "reversal"]


def test_a_reversal_survives_a_restart_as_used(harness):
    harness.open()
    harness.run(65)
    harness.run(20, direction=Outcome.DOWN)
    harness.tell(reversal_request())
    harness.crash_window()
    harness.run(5, direction=Outcome.DOWN)
    harness.tell(reversal_request())
    assert len(harness.of_type(EntryDecided)) == 2
    assert len(harness.positions.starts) == 2


def test_a_reversal_the_strategy_disagrees_with_is_declined(harness):
    harness.open()
    harness.run(65)  # UP is doing well
    harness.tell(reversal_request())
    assert len(harness.of_type(EntryDecided)) == 1
    assert len(harness.risk.reserves) == 1


# --- entries whose position does not start -----------------------------------------------------


def risk_snapshot(h: Harness) -> RiskSnapshot:
    reply = h.runtime.lookup("risk").ask(GetRiskSnapshot())
    assert isinstance(reply, RiskSnapshot)
    return reply


def releases(h: Harness) -> list[CapitalReleased]:
    return [e for e in h.events("risk") if isinstance(e, CapitalReleased)]


def entered_but_not_started() -> tuple[Harness, EntryDecided]:
    h = Harness(real_risk=True)
    h.positions.fail_starts = True
    h.start_window()
    h.open()
    h.run(65)
    [decided] = h.of_type(EntryDecided)
    assert isinstance(decided, EntryDecided)
    assert h.positions.starts == []
    assert risk_snapshot(h).reservations == 1
    return h, decided


def test_a_position_whose_start_was_refused_is_started_on_a_later_tick() -> None:
    h, decided = entered_but_not_started()
    h.positions.fail_starts = False
    h.run(SETTINGS.decision_interval_s)
    [start] = h.positions.starts
    assert (start["position_id"], start["reservation_id"]) == (UP_PID, decided.reservation_id)
    assert risk_snapshot(h).reservations == 1
    assert releases(h) == []


def test_an_entry_whose_position_never_started_gives_its_capital_back_when_the_window_closes() -> (
    None
):
    h, decided = entered_but_not_started()
    h.tell(resolved())
    h.runtime.advance(SETTINGS.decision_interval_s)
    [released] = releases(h)
    assert (released.reservation_id, released.realized_pnl) == (decided.reservation_id, D(0))
    assert risk_snapshot(h).reservations == 0
    assert h.positions.starts == []


def test_an_entry_is_given_up_before_risk_could_let_its_capital_go_under_it() -> None:
    h, decided = entered_but_not_started()
    h.run(60)  # past the start deadline (60 s), well within risk's grace (120 s)
    [released] = releases(h)
    assert released.reservation_id == decided.reservation_id
    h.positions.fail_starts = False
    h.run(30)
    assert h.positions.starts == []  # never trades on capital risk no longer counts


# --- resolution ---------------------------------------------------------------------------------


def resolved() -> WindowResolved:
    return WindowResolved(condition_id="0xcond", winner=Outcome.UP, timestamp=END + 30)


def test_the_resolution_reaches_the_positions_closes_and_stops_the_window(harness):
    harness.open()
    harness.run(65)
    harness.runtime.advance_to(END + 30)
    harness.tell(resolved())
    [closed] = harness.of_type(WindowClosed)
    assert (closed.winner, closed.traded) == ("UP", True)
    assert any(isinstance(m, WindowResolved) for m in harness.positions.received[UP_PID])
    harness.runtime.advance(SETTINGS.decision_interval_s)
    assert not harness.window_alive()
    # A Normal exit of a transient child: the windows supervisor does not restart it.
    harness.runtime.advance(60)
    assert not harness.window_alive()


def test_a_closed_window_waits_for_its_positions_at_most_the_grace_period(harness):
    harness.positions.stop_on_resolution = False
    harness.open()
    harness.run(65)
    harness.runtime.advance_to(END + 30)
    harness.tell(resolved())
    harness.runtime.advance(SETTINGS.close_grace_s - 10)
    assert harness.window_alive()
    harness.runtime.advance(20)
    assert not harness.window_alive()


def test_a_window_that_never_saw_its_resolution_is_force_closed(harness):
    harness.runtime.advance_to(END + SETTINGS.force_close_after_s + 10)
    [closed] = harness.of_type(WindowClosed)
    assert (closed.winner, closed.traded) == (None, False)
    harness.runtime.advance(SETTINGS.decision_interval_s * 2)
    assert not harness.window_alive()


def test_a_restarted_closed_window_stops_without_closing_again(harness):
    harness.open()
    harness.runtime.advance_to(END + 30)
    harness.tell(resolved())
    harness.crash_window()
    harness.runtime.advance(SETTINGS.decision_interval_s)
    assert not harness.window_alive()
    assert len(harness.of_type(WindowClosed)) == 1


def test_the_default_position_start_builds_the_real_position_actor_with_the_entry():
    position = pytest.importorskip("actors.position")
    actor = default_position_start(
        position_id=UP_PID,
        window=WINDOW,
        outcome=Outcome.UP,
        reservation_id="res-1",
        entry_price=D("0.62"),
        entry_size=D(40),
        purpose="entry",
    )
    assert isinstance(actor, position.PositionActor)


# --- on the simulated market --------------------------------------------------------------------


@pytest.mark.integration
def test_on_the_simulated_market_windows_trade_once_per_side_inside_the_band_and_stop():
    from actors.discovery import DiscoveryActor
    from actors.feed import FeedActor
    from actors.journal import Query
    from actors.sim_market import SimMarketActor
    from venues.sim.settings import SimSettings

    clock = ManualClock(1_767_225_600.0)  # a window opens with the simulation
    runtime = DeterministicRuntime(clock)
    risk, positions = ScriptedRisk(), Positions()
    flags = Flags(intensity=10, period_s=60.0)
    runtime.spawn(lambda: JournalActor(lambda: JournalStore(":memory:")), name="journal")
    runtime.spawn(lambda: RiskStub(risk), name="risk")
    runtime.spawn(lambda: DynamicSupervisor(flags), name="positions")
    runtime.spawn(lambda: DynamicSupervisor(flags), name="windows")
    sim = SimSettings(assets=SimSettings().assets[:1])
    runtime.spawn(lambda: SimMarketActor(sim, start_time=clock.now()), name="market")
    runtime.spawn(FeedActor, name="feed")

    def start_window(window: MarketWindow) -> partial[WindowActor]:
        return partial(
            WindowActor,
            window=window,
            settings=StrategySettings(),
            position_start=partial(RecordingPosition, positions),
        )

    runtime.spawn(
        lambda: DiscoveryActor(["BTC"], [900], start_window=start_window), name="discovery"
    )
    runtime.advance(3 * 900 + 60)

    journal = runtime.lookup("journal")

    def rows(sql: str) -> list[tuple[object, ...]]:
        return journal.ask(Query(sql=sql))

    discovered = rows(
        "SELECT payload->>'window_id', (payload->>'start')::DOUBLE, (payload->>'end')::DOUBLE "
        "FROM events WHERE type = 'WindowDiscovered'"
    )
    assert len(discovered) == len({wid for wid, _, _ in discovered}) >= 4
    band = {wid: (start + 60, end - 120) for wid, start, end in discovered}
    entries = rows(
        "SELECT payload->>'window_id', payload->>'outcome', ts FROM events "
        "WHERE type = 'EntryDecided'"
    )
    assert entries, "the strategy should trade some simulated windows"
    assert len({(wid, side) for wid, side, _ in entries}) == len(entries)
    for wid, _, ts in entries:
        opens, closes = band[wid]
        assert opens <= ts <= closes
    assert rows(
        "SELECT count(*) FROM events WHERE type = 'WindowAnchored' AND NOT (payload->>'exact')::BOOLEAN"
    ) == [(0,)]
    closed = [
        wid
        for (wid,) in rows("SELECT payload->>'window_id' FROM events WHERE type = 'WindowClosed'")
    ]
    assert len(closed) >= 3
    alive = set(runtime.names())
    assert not {window_actor(wid) for wid in closed} & alive
    assert len(positions.starts) == len(entries)
