"""A whole paper-trading world on the deterministic runtime: the real tree (journal, market,
venue gateway over the paper exchange, risk, windows, positions, feed, discovery, monitor),
driven minute by minute on a manual clock. Scenario tests dial faults into the exchange
through `PaperSettings` and read the outcome from the journal and the exchange itself.

The world is deterministic: the same settings give the same run. Tests of the default world
share one two-hour run (`default_world`) rather than each trading their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.journal import Query
from actors.position import GetPosition
from actors.venue import paper_venue
from config.settings import Settings
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from state.invariants import Violation, find_violations
from state.journal_store import JournalStore
from state.position import PositionState
from state.report import trading_totals
from supervisors.supervisor import tree_stats
from supervisors.tree import ROOT, root_spec
from venues.paper import PaperExchange
from venues.types import OrderSnapshot

START = 1_795_275_000.0  # 2026-11-21T15:30:00Z, a 15-minute boundary


@dataclass
class PaperWorld:
    tmp_path: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    # Runs on the paper exchange before the tree starts: seed what a previous run left behind.
    setup: Callable[[PaperExchange], None] | None = None

    def __post_init__(self) -> None:
        self.tmp_path.mkdir(parents=True, exist_ok=True)
        self.journal_path = self.tmp_path / "journal.duckdb"
        self.settings = Settings.model_validate(
            {"journal": {"path": str(self.journal_path)}, **self.overrides}
        )
        self.clock = ManualClock(start=START)
        self.rt = DeterministicRuntime(self.clock)
        factory = paper_venue(self.settings.paper)
        self.exchange: PaperExchange = factory(self.clock)
        if self.setup is not None:
            self.setup(self.exchange)
        spec = root_spec(self.settings, None, {}, start_time=START, venue_factory=factory)
        self.root = self.rt.spawn(spec.start, name=ROOT)
        self.stopped = False

    def run(
        self, minutes: int, each_minute: Callable[[PaperWorld, int], None] | None = None
    ) -> None:
        for minute in range(minutes):
            self.rt.advance(60.0)
            if each_minute is not None:
                each_minute(self, minute)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.stopped:
            with JournalStore(self.journal_path, read_only=True) as store:
                return store.query(sql, params)
        return list(self.rt.lookup("journal").ask(Query(sql=sql, params=params)))

    def live_positions(self) -> dict[str, PositionState]:
        self.rt.run_until_idle()  # crashes and restarts in flight complete first
        names = [n for n in self.rt.names() if n.startswith("position/")]
        return {n: self.rt.lookup(n).ask(GetPosition()) for n in names}

    def restarts(self) -> int:
        return tree_stats(self.rt, ROOT).restarts

    def stop(self) -> None:
        if not self.stopped:
            self.root.stop(None)
            self.rt.shutdown()
            self.stopped = True

    def totals(self) -> dict[str, int | Decimal]:
        self.stop()
        with JournalStore(self.journal_path, read_only=True) as store:
            return trading_totals(store.query)

    def violations(self) -> list[Violation]:
        self.stop()
        with JournalStore(self.journal_path, read_only=True) as store:
            return find_violations(store.query, 0)


@pytest.fixture
def paper_world(tmp_path: Path) -> Iterator[Callable[..., PaperWorld]]:
    worlds: list[PaperWorld] = []

    def make(setup: Callable[[PaperExchange], None] | None = None, **overrides: Any) -> PaperWorld:
        world = PaperWorld(tmp_path / f"world{len(worlds)}", overrides, setup)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.stop()


@dataclass(frozen=True)
class Minute:
    """What the default world looked like at the end of one simulated minute."""

    live: frozenset[str]  # actor names
    open_orders: tuple[OrderSnapshot, ...]  # the exchange's resting orders, ours included


@dataclass(frozen=True)
class DefaultRun:
    world: PaperWorld  # stopped; its journal and exchange are read as they were left
    minutes: tuple[Minute, ...]


DEFAULT_RUN_MINUTES = 120


@pytest.fixture(scope="session")
def default_world(tmp_path_factory: pytest.TempPathFactory) -> DefaultRun:
    """Two hours of the default paper world, minute by minute, then stopped. Every default
    asset trades more than one window in it (tests/integration/test_paper_trading.py)."""
    world = PaperWorld(tmp_path_factory.mktemp("default-world"))
    minutes: list[Minute] = []

    def record(world: PaperWorld, minute: int) -> None:
        minutes.append(Minute(frozenset(world.rt.names()), world.exchange.open_orders()))

    try:
        world.run(DEFAULT_RUN_MINUTES, record)
    finally:
        world.stop()
    return DefaultRun(world, tuple(minutes))
