"""The dynamic supervisor: children added at run time (market windows, positions).

Where we differ from OTP on purpose: OTP loses dynamic children when their supervisor
restarts; ours calls `rebuild(runtime)` in `on_start` to get the specs of every child that should
exist (windows not yet settled, positions still open, read from the journal), so a supervisor
restart never orphans live orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from runtime.api import Runtime
from supervisors.spec import ChildSpec, Flags, Strategy
from supervisors.supervisor import Supervisor

__all__ = ["DynamicSupervisor", "Rebuild"]


Rebuild = Callable[[Runtime], Iterable[ChildSpec]]


def _nothing(runtime: Runtime) -> Iterable[ChildSpec]:
    del runtime
    return ()


class DynamicSupervisor(Supervisor):
    """one_for_one over children added with StartChild, rebuilt from `rebuild(runtime)` on start.
    A child that exits and is not restarted (a transient one that finished normally) is
    forgotten, as in Elixir's DynamicSupervisor: windows and positions come and go for days."""

    def __init__(
        self,
        flags: Flags | None = None,
        *,
        rebuild: Rebuild = _nothing,
        max_children: int | None = None,
        watchdog_s: float = 5.0,
    ) -> None:
        flags = flags or Flags(intensity=3, period_s=30.0)
        if flags.strategy is not Strategy.ONE_FOR_ONE:
            msg = f"a dynamic supervisor is one_for_one, got {flags.strategy.value}"
            raise ValueError(msg)
        super().__init__(
            flags, (), watchdog_s=watchdog_s, max_children=max_children, forget_finished=True
        )
        self._rebuild = rebuild

    def initial_children(self) -> tuple[ChildSpec, ...]:
        return tuple(self._rebuild(self.ctx.runtime))
