"""The application's supervision tree, built from settings: policy as data.

    root (one_for_one)
    ├── journal     the only writer of the DuckDB event journal
    ├── config      watches the YAML file, pushes hot changes to subscribers
    ├── market      the simulated market (paper) or Polymarket's feeds and Gamma (live)
    ├── venue       the venue gateway: the only caller of the exchange
    ├── risk        serialises every capital decision
    ├── positions   dynamic: one actor per open position (rebuilt from the journal)
    ├── windows     dynamic: one actor per market window (rebuilt from the journal)
    ├── reconciler  compares the journal with the exchange; adopts, cancels unowned orders
    ├── feed        routes market events to window actors
    ├── discovery   starts a window actor for each listed window
    ├── monitor     invariant checks over the journal; halts through risk
    └── status      one status line every status_interval_s

one_for_one: actors reach each other by name (addresses re-resolve across restarts), so a
restart of one does not invalidate the others, and a venue hiccup must not take every open
position down with it. Children start in this order and stop in reverse, so the journal is
the last to stop and flushes everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path

from actors.config import ConfigActor
from actors.discovery import DiscoveryActor
from actors.feed import FeedActor
from actors.journal import JournalActor, query
from actors.messages import Outcome, position_actor, window_actor
from actors.monitor import MonitorActor
from actors.position import PositionActor
from actors.reconciler import ReconcilerActor
from actors.risk import RiskActor
from actors.sim_market import SimMarketActor
from actors.status import StatusActor
from actors.venue import VenueGatewayActor, paper_venue
from actors.window import WindowActor
from config.settings import Mode, Settings
from runtime.api import Factory, Runtime
from runtime.clock import Clock
from state.journal_store import JournalStore
from state.recovery import OpenWindow, adopted_positions, open_positions, open_windows
from supervisors.dynamic import DynamicSupervisor
from supervisors.spec import ChildKind, ChildSpec, Flags, Restart, Strategy
from supervisors.supervisor import Supervisor
from venues.port import Venue
from venues.types import ConditionId, MarketWindow, TokenId

__all__ = [
    "CONFIG",
    "DISCOVERY",
    "FEED",
    "JOURNAL",
    "MARKET",
    "MONITOR",
    "POSITIONS",
    "RECONCILER",
    "RISK",
    "ROOT",
    "STATUS",
    "VENUE",
    "WINDOWS",
    "Exchange",
    "paper_exchange",
    "root_spec",
]

ROOT = "root"
JOURNAL = "journal"
CONFIG = "config"
MARKET = "market"
VENUE = "venue"
RISK = "risk"
POSITIONS = "positions"
WINDOWS = "windows"
RECONCILER = "reconciler"
FEED = "feed"
DISCOVERY = "discovery"
MONITOR = "monitor"
STATUS = "status"


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """What the trading children trade on: the actor publishing the market (named "market"),
    the venue the gateway calls, the collateral the account's equity counts from, and the
    windows discovery starts actors for."""

    market: Factory
    venue: Callable[[Clock], Venue]
    starting_collateral: Decimal
    assets: tuple[str, ...]
    timeframes_s: tuple[int, ...]


def paper_exchange(
    settings: Settings, start_time: float, venue_factory: Callable[[Clock], Venue] | None = None
) -> Exchange:
    """The simulated market and the paper exchange. `start_time` anchors the market, so a
    restarted market replays the same price path instead of starting a new one."""
    return Exchange(
        market=partial(SimMarketActor, settings.sim, start_time=start_time),
        venue=venue_factory or paper_venue(settings.paper),
        starting_collateral=settings.paper.starting_collateral,
        assets=tuple(a.symbol for a in settings.sim.assets),
        timeframes_s=settings.sim.timeframes_s,
    )


def root_spec(
    settings: Settings,
    config_path: Path | None,
    overrides: dict[str, object],
    *,
    start_time: float,
    venue_factory: Callable[[Clock], Venue] | None = None,
    exchange: Exchange | None = None,
) -> ChildSpec:
    """The root supervisor's spec; `run.py` spawns it. `exchange` is what live mode trades on;
    paper mode defaults to `paper_exchange(settings, start_time, venue_factory)` (tests pass
    their own `venue_factory` to inspect the exchange)."""
    children = [
        ChildSpec(
            id=JOURNAL,
            start=partial(
                JournalActor,
                partial(JournalStore, settings.journal.path),
                flush_interval_s=settings.journal.flush_interval_s,
                batch_size=settings.journal.batch_size,
            ),
            shutdown=30.0,  # a final flush of a large batch must not be cut short
        ),
    ]
    if config_path is not None:
        children.append(
            ChildSpec(
                id=CONFIG,
                start=partial(
                    ConfigActor,
                    config_path,
                    settings,
                    overrides=overrides,
                    subscribers=(STATUS, RISK),
                ),
            )
        )
    if exchange is None and settings.mode is Mode.PAPER:
        exchange = paper_exchange(settings, start_time, venue_factory)
    if exchange is not None:
        children += _trading_children(settings, exchange)
    children.append(
        ChildSpec(
            id=STATUS,
            start=partial(
                StatusActor, interval_s=settings.status_interval_s, root=ROOT, journal=JOURNAL
            ),
        )
    )
    flags = Flags(
        strategy=Strategy.ONE_FOR_ONE,
        intensity=settings.supervision.root_intensity,
        period_s=settings.supervision.root_period_s,
    )
    return ChildSpec(
        id=ROOT,
        start=partial(Supervisor, flags, tuple(children), journal=JOURNAL),
        kind=ChildKind.SUPERVISOR,
    )


def _trading_children(settings: Settings, exchange: Exchange) -> list[ChildSpec]:
    leaf = Flags(intensity=settings.supervision.intensity, period_s=settings.supervision.period_s)
    window_start = _window_start(settings)
    return [
        ChildSpec(id=MARKET, start=exchange.market),
        ChildSpec(
            id=VENUE,
            start=partial(VenueGatewayActor, exchange.venue, settings.venue, market=MARKET),
        ),
        ChildSpec(
            id=RISK,
            start=partial(
                RiskActor,
                settings.risk,
                starting_collateral=exchange.starting_collateral,
                reconciler=RECONCILER,  # no entry is funded before the first reconciliation
            ),
        ),
        ChildSpec(
            id=POSITIONS,
            start=partial(DynamicSupervisor, leaf, rebuild=partial(_open_positions, settings)),
            kind=ChildKind.SUPERVISOR,
        ),
        ChildSpec(
            id=WINDOWS,
            start=partial(DynamicSupervisor, leaf, rebuild=partial(_open_windows, window_start)),
            kind=ChildKind.SUPERVISOR,
        ),
        # After positions (it starts adopted ones) and windows, before feed and discovery: its
        # first pass opens trading in risk.
        ChildSpec(
            id=RECONCILER,
            start=partial(
                ReconcilerActor,
                settings.reconcile,
                position_start=partial(PositionActor, settings=settings.position),
                positions=POSITIONS,
            ),
        ),
        ChildSpec(id=FEED, start=partial(FeedActor, market=MARKET, discovery=DISCOVERY)),
        ChildSpec(
            id=DISCOVERY,
            start=partial(
                DiscoveryActor,
                exchange.assets,
                exchange.timeframes_s,
                start_window=window_start,
                windows=WINDOWS,
                feed=FEED,
            ),
        ),
        ChildSpec(id=MONITOR, start=partial(MonitorActor, journal=JOURNAL, risk=RISK)),
    ]


def _window_start(settings: Settings) -> Callable[[MarketWindow], Factory]:
    position_start = partial(PositionActor, settings=settings.position)

    def start(window: MarketWindow) -> Factory:
        return partial(
            WindowActor, window=window, settings=settings.strategy, position_start=position_start
        )

    return start


def _journal_query(
    runtime: Runtime,
) -> Callable[[str, tuple[object, ...]], list[tuple[object, ...]]]:
    return partial(query, runtime.address(JOURNAL))


def _open_windows(
    window_start: Callable[[MarketWindow], Factory], runtime: Runtime
) -> list[ChildSpec]:
    return [
        ChildSpec(
            id=window_actor(w.window_id),
            start=window_start(_market_window(w)),
            restart=Restart.TRANSIENT,
        )
        for w in open_windows(_journal_query(runtime))
    ]


def _open_positions(settings: Settings, runtime: Runtime) -> list[ChildSpec]:
    journal = _journal_query(runtime)
    opened = open_positions(journal)
    known = {p.position_id for p in opened}
    # An adopted position whose own PositionOpened is not journaled yet is rebuilt too.
    opened += [p for p in adopted_positions(journal) if p.position_id not in known]
    return [
        ChildSpec(
            id=position_actor(p.position_id),
            start=partial(
                PositionActor,
                position_id=p.position_id,
                window=_market_window(p.window),
                outcome=Outcome(p.outcome),
                reservation_id=p.reservation_id,
                entry_price=p.entry_price,
                entry_size=p.entry_size,
                purpose=p.purpose,
                settings=settings.position,
            ),
            restart=Restart.TRANSIENT,
        )
        for p in opened
    ]


def _market_window(w: OpenWindow) -> MarketWindow:
    return MarketWindow(
        asset=w.asset,
        timeframe_s=w.timeframe_s,
        start=w.start,
        end=w.end,
        condition_id=ConditionId(w.condition_id),
        up_token=TokenId(w.up_token),
        down_token=TokenId(w.down_token),
        slug=w.slug,
        tick_size=w.tick_size,
        min_order_size=w.min_order_size,
    )
