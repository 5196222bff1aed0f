"""The status actor: one line every `status_interval_s` of simulated time, so a user watching a
server sees at a glance that the bot is alive and what it is doing.

It only reads: it asks the root supervisor and the journal for their figures and never holds
anything another actor waits on. The interval is hot-reloadable through the config actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from actors.journal import Stats
from actors.messages import GetRiskSnapshot, RiskSnapshot
from config.messages import ConfigChanged
from runtime.api import Actor, ActorDead, AskTimeout, Timer
from runtime.logs import status
from supervisors.supervisor import tree_stats

__all__ = ["GetStatusInterval", "StatusActor", "StatusFigures", "format_status"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStatusInterval:
    """Ask: the interval in force (seconds of simulated time)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Report:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusFigures:
    sim_time: float
    uptime_s: float
    actors_alive: int
    restarts: int
    crashes: int
    events_journaled: int
    windows_active: int = 0
    positions_open: int = 0
    risk: RiskSnapshot | None = None  # None: no risk actor (not trading)


def format_status(figures: StatusFigures) -> str:
    """The one status line: alive, what it holds, how it is doing, and how often it restarted."""
    at = datetime.fromtimestamp(figures.sim_time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    trading = ""
    if figures.risk is not None:
        risk = figures.risk
        trading = (
            f"windows={figures.windows_active} positions={figures.positions_open} "
            f"exposure={risk.exposure:.2f} pnl_today={risk.realized_pnl_today:+.2f} "
            f"equity={risk.equity:.2f} risk={risk.state.value} "
        )
    return (
        f"status {at} up={figures.uptime_s:.0f}s {trading}actors={figures.actors_alive} "
        f"restarts={figures.restarts} crashes={figures.crashes} "
        f"journaled={figures.events_journaled}"
    )


class StatusActor(Actor):
    """Accepts: ConfigChanged (status_interval_s), GetStatusInterval. Emits: a status line.

    A crash loses nothing: the next incarnation simply reports again.
    """

    def __init__(self, *, interval_s: float, root: str, journal: str, risk: str = "risk") -> None:
        self._interval_s = interval_s
        self._root = root
        self._journal = journal
        self._risk = risk
        self._timer: Timer | None = None
        self._started_at = 0.0

    def on_start(self) -> None:
        self._started_at = self.ctx.clock.now()
        self._timer = self.ctx.schedule(self._interval_s, _Report())

    def receive(self, message: object) -> object:
        match message:
            case _Report():
                self._report()
                self._timer = self.ctx.schedule(self._interval_s, _Report())
                return None
            case ConfigChanged(settings=settings):
                if settings.status_interval_s != self._interval_s:
                    log.info(
                        "status interval %ss -> %ss", self._interval_s, settings.status_interval_s
                    )
                    self._interval_s = settings.status_interval_s
                    if self._timer is not None:
                        self._timer.cancel()
                    self._timer = self.ctx.schedule(self._interval_s, _Report())
                return None
            case GetStatusInterval():
                return self._interval_s
            case _:
                return super().receive(message)

    def _report(self) -> None:
        try:
            stats = tree_stats(self.ctx.runtime, self._root, timeout_s=2.0)
            journal = self.ctx.runtime.lookup(self._journal).ask(Stats(), 2.0)
        except (ActorDead, AskTimeout) as e:
            log.warning("status skipped: %s", e)
            return
        try:
            risk: RiskSnapshot | None = self.ctx.runtime.lookup(self._risk).ask(
                GetRiskSnapshot(), 2.0
            )
        except (ActorDead, AskTimeout):
            risk = None  # not trading, or risk is restarting: the line says so by omission
        alive = [c.id for c in stats.children if c.is_alive]
        now = self.ctx.clock.now()
        status(
            format_status(
                StatusFigures(
                    sim_time=now,
                    uptime_s=now - self._started_at,
                    actors_alive=len(alive),
                    restarts=stats.restarts,
                    crashes=stats.crashes,
                    events_journaled=journal.appended,
                    windows_active=sum(1 for name in alive if name.startswith("window/")),
                    positions_open=sum(1 for name in alive if name.startswith("position/")),
                    risk=risk,
                )
            )
        )
