"""The application's supervision tree, built from settings: policy as data.

    root (rest_for_one)
    ├── journal   the only writer of the DuckDB event journal
    ├── config    watches the YAML file, pushes hot changes to subscribers
    ├── status    one status line every status_interval_s
    └── market    the simulated market (paper mode)

rest_for_one: a later child may hold what an earlier one gives it (everyone journals; the
status actor subscribes to config), so when one restarts, those started after it restart too.
Later issues add risk, the venue gateway, feeds, discovery and the window/position supervisors.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from actors.config import ConfigActor
from actors.journal import JournalActor
from actors.sim_market import SimMarketActor
from actors.status import StatusActor
from config.settings import Mode, Settings
from state.journal_store import JournalStore
from supervisors.spec import ChildKind, ChildSpec, Flags, Strategy
from supervisors.supervisor import Supervisor

__all__ = ["CONFIG", "JOURNAL", "MARKET", "ROOT", "STATUS", "root_spec"]

ROOT = "root"
JOURNAL = "journal"
CONFIG = "config"
STATUS = "status"
MARKET = "market"


def root_spec(
    settings: Settings, config_path: Path | None, overrides: dict[str, object], *, start_time: float
) -> ChildSpec:
    """The root supervisor's spec; `run.py` spawns it. `start_time` anchors the simulated market,
    so a restarted market replays the same price path instead of starting a new one."""
    journal_path = settings.journal.path
    children = [
        ChildSpec(
            id=JOURNAL,
            start=partial(
                JournalActor,
                partial(JournalStore, journal_path),
                flush_interval_s=settings.journal.flush_interval_s,
                batch_size=settings.journal.batch_size,
            ),
            shutdown=30.0,  # a final flush of a large batch must not be cut short
        ),
    ]
    subscribers = (STATUS,)
    if config_path is not None:
        children.append(
            ChildSpec(
                id=CONFIG,
                start=partial(
                    ConfigActor, config_path, settings, overrides=overrides, subscribers=subscribers
                ),
            )
        )
    children.append(
        ChildSpec(
            id=STATUS,
            start=partial(
                StatusActor, interval_s=settings.status_interval_s, root=ROOT, journal=JOURNAL
            ),
        )
    )
    if settings.mode is Mode.PAPER:
        children.append(
            ChildSpec(
                id=MARKET,
                start=partial(SimMarketActor, settings.sim, start_time=start_time),
            )
        )
    flags = Flags(
        strategy=Strategy.REST_FOR_ONE,
        intensity=settings.supervision.root_intensity,
        period_s=settings.supervision.root_period_s,
    )
    return ChildSpec(
        id=ROOT,
        start=partial(Supervisor, flags, tuple(children), journal=JOURNAL),
        kind=ChildKind.SUPERVISOR,
    )
