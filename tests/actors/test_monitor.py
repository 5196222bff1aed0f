from decimal import Decimal

import pytest

from actors.journal import AppendDurable, JournalActor
from actors.messages import Halt
from actors.monitor import GetViolations, MonitorActor
from runtime.api import Actor
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from state.events import RunStarted
from state.journal_store import JournalStore
from state.trading_events import EntryDecided


class RiskStandIn(Actor):
    """Records what the monitor asks of risk (risk itself is tested on its own)."""

    def __init__(self, halts: list[Halt]) -> None:
        self.halts = halts

    def receive(self, message: object) -> object:
        assert isinstance(message, Halt)
        self.halts.append(message)
        return None


def entry(n: int) -> EntryDecided:
    return EntryDecided(
        stream_id="window/w",
        ts=0.0,
        window_id="w",
        position_id="w/UP",
        outcome="UP",
        price=Decimal("0.5"),
        size=Decimal(10),
        purpose="entry",
        event_id=f"window/w:entry:{n}",
    )


@pytest.fixture
def rt():
    runtime = DeterministicRuntime(ManualClock())
    runtime.spawn(lambda: JournalActor(lambda: JournalStore(":memory:")), name="journal")
    yield runtime
    runtime.shutdown()


def test_a_violation_is_journaled_once_and_halts_trading(rt):
    halts: list[Halt] = []
    rt.spawn(lambda: RiskStandIn(halts), name="risk")
    journal = rt.lookup("journal")
    journal.ask(
        AppendDurable(
            events=(
                RunStarted(
                    stream_id="run",
                    ts=0.0,
                    mode="paper",
                    runtime="deterministic",
                    config_digest="x",
                ),
            )
        )
    )
    monitor = rt.spawn(lambda: MonitorActor(interval_s=10.0), name="monitor")
    rt.advance(10.0)
    assert monitor.ask(GetViolations()) == ()
    journal.ask(AppendDurable(events=(entry(1), entry(2))))
    rt.advance(10.0)
    [violation] = monitor.ask(GetViolations())
    assert violation.invariant.startswith("2: at most one entry")
    assert len(halts) == 1
    assert "w/UP" in halts[0].reason
    rt.advance(30.0)  # checked three more times: reported once
    rows = journal.ask(_count_violations())
    assert rows == [(1,)]
    assert len(halts) == 1


def test_events_from_before_the_run_do_not_count(rt):
    halts: list[Halt] = []
    rt.spawn(lambda: RiskStandIn(halts), name="risk")
    journal = rt.lookup("journal")
    journal.ask(AppendDurable(events=(entry(1), entry(2))))
    journal.ask(
        AppendDurable(
            events=(
                RunStarted(
                    stream_id="run",
                    ts=0.0,
                    mode="paper",
                    runtime="deterministic",
                    config_digest="x",
                ),
            )
        )
    )
    monitor = rt.spawn(lambda: MonitorActor(interval_s=10.0), name="monitor")
    rt.advance(10.0)
    assert monitor.ask(GetViolations()) == ()
    assert halts == []


def _count_violations():
    from actors.journal import Query

    return Query(sql="SELECT count(*) FROM events WHERE type = 'InvariantViolated'")
