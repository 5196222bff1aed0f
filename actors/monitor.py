"""The invariant monitor: every `interval_s` it runs the journal checks of `state.invariants`,
journals each new violation once (`InvariantViolated`) and pulls the kill switch through risk,
which cancels entries and keeps exit plans and stops (invariant 7).

A crash loses only which violations were already reported; the next incarnation reports them
again (a duplicate `InvariantViolated` row is better than a silent one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from actors.journal import AppendDurable, LastSeqByType, query
from actors.messages import Halt
from runtime.api import Actor, ActorDead
from state.invariants import Violation, find_violations
from state.report import last_run_start
from state.trading_events import InvariantViolated

__all__ = ["Check", "GetViolations", "MonitorActor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """Ask: run the checks now. Reply: the new violations."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tick:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class GetViolations:
    """Ask: every violation reported by this incarnation."""


class MonitorActor(Actor):
    """Accepts Check, GetViolations. Emits InvariantViolated to the journal and Halt to risk."""

    def __init__(
        self, *, interval_s: float = 30.0, journal: str = "journal", risk: str = "risk"
    ) -> None:
        self._interval_s = interval_s
        self._journal = journal
        self._risk = risk
        self._reported: dict[tuple[str, str], Violation] = {}
        self._since_seq = 0
        self._checked_seq = 0  # events up to here were checked: a pass looks at what is newer

    def on_start(self) -> None:
        self._since_seq = last_run_start(self._query)
        self.ctx.schedule(self._interval_s, _Tick())

    def receive(self, message: object) -> object:
        match message:
            case Check():
                return tuple(self._check())
            case _Tick():
                self._check()
                self.ctx.schedule(self._interval_s, _Tick())
                return None
            case GetViolations():
                return tuple(self._reported.values())
            case _:
                return super().receive(message)

    def _check(self) -> list[Violation]:
        # From the journal's memory, not a query: most passes find nothing a check could see.
        last_seqs = self.ctx.runtime.address(self._journal).ask(LastSeqByType(), 10.0)
        since = max(self._checked_seq, self._since_seq)
        new_types = frozenset(t for t, seq in last_seqs.items() if seq > since)
        found = find_violations(self._query, self._since_seq, self._checked_seq, new_types)
        self._checked_seq = max([self._checked_seq, *last_seqs.values()])
        new = [v for v in found if (v.invariant, v.subject) not in self._reported]
        if not new:
            return []
        now = self.ctx.clock.now()
        self.ctx.runtime.address(self._journal).ask(
            AppendDurable(
                events=tuple(
                    InvariantViolated(
                        stream_id="monitor",
                        ts=now,
                        invariant=v.invariant,
                        subject=v.subject,
                        detail=v.detail,
                    )
                    for v in new
                )
            ),
            10.0,
        )
        for violation in new:
            self._reported[(violation.invariant, violation.subject)] = violation
            log.error(
                "invariant violated: %s: %s (%s)",
                violation.invariant,
                violation.subject,
                violation.detail,
            )
        try:
            self.ctx.runtime.address(self._risk).tell(
                Halt(reason=f"invariant {new[0].invariant} violated by {new[0].subject}")
            )
        except ActorDead:
            log.error("risk is not running: could not halt after an invariant violation")
        return new

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        # A journal that does not answer is a crash here: the supervisor retries us later.
        return query(self.ctx.runtime.address(self._journal), sql, params)
