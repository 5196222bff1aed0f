from decimal import Decimal

from actors.journal import JournalActor
from actors.messages import RiskSnapshot, RiskState
from actors.status import GetStatusInterval, StatusActor, StatusFigures, format_status
from config.messages import ConfigChanged
from config.settings import Settings
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from state.journal_store import JournalStore
from supervisors import ChildSpec, Flags, Supervisor

BASE = {
    "sim_time": 1_795_275_900.0,
    "uptime_s": 3600.0,
    "actors_alive": 12,
    "restarts": 1,
    "crashes": 1,
    "events_journaled": 250,
}


def test_the_status_line_without_trading_says_it_is_alive():
    line = format_status(StatusFigures(**BASE))
    assert line == (
        "status 2026-11-21T15:45:00Z up=3600s actors=12 restarts=1 crashes=1 journaled=250"
    )


def test_the_status_line_while_trading_shows_holdings_pnl_and_risk_state():
    risk = RiskSnapshot(
        state=RiskState.DEGRADED,
        equity=Decimal("980.5"),
        collateral=Decimal(900),
        exposure=Decimal("75.25"),
        reservations=3,
        realized_pnl_today=Decimal("-19.5"),
        refusals=4,
    )
    line = format_status(StatusFigures(**BASE, windows_active=4, positions_open=3, risk=risk))
    assert (
        "windows=4 positions=3 exposure=75.25 pnl_today=-19.50 equity=980.50 risk=DEGRADED"
    ) in line


def test_the_status_actor_reports_every_interval_and_takes_a_new_interval_live(capsys):
    rt = DeterministicRuntime(ManualClock())
    rt.spawn(
        lambda: Supervisor(
            Flags(),
            (
                ChildSpec(
                    id="journal", start=lambda: JournalActor(lambda: JournalStore(":memory:"))
                ),
                ChildSpec(
                    id="status",
                    start=lambda: StatusActor(interval_s=60.0, root="root", journal="journal"),
                ),
            ),
            watchdog_s=0,
        ),
        name="root",
    )
    rt.advance(125.0)
    assert capsys.readouterr().out.count("status ") == 2
    settings = Settings(status_interval_s=10.0)
    rt.lookup("status").tell(
        ConfigChanged(settings=settings, changed=("status_interval_s",), needs_restart=())
    )
    rt.advance(30.0)
    assert rt.lookup("status").ask(GetStatusInterval()) == 10.0
    assert capsys.readouterr().out.count("status ") == 3
    rt.shutdown()
