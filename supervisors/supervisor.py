"""An OTP supervisor as a backend-neutral actor.

Semantics (reference/aesthetics_supervision.md, B1 and B3):

- children start in order; if one fails to start, those already started are stopped in reverse
  order and the supervisor's own start fails;
- an exit is classified by the child's restart type: permanent always restarts, transient only
  after an abnormal exit, temporary never (and its spec is deleted);
- strategies one_for_one, one_for_all and rest_for_one; siblings are stopped in reverse start
  order and restarted in start order (temporary siblings are not restarted);
- every restart is checked against the intensity (at most R restarts in T seconds of the
  runtime's supervision clock: its own clock, or real time on Ray, where a restart takes real
  seconds); past it, the supervisor stops all children in reverse order and exits with
  `Shutdown("max_restart_intensity")`, which its own supervisor then handles;
- a restart that fails to start is retried through a message to self, so the supervisor stays
  responsive and each retry is charged to the intensity;
- never two incarnations of a child at once: a new incarnation starts only after the old one
  reported its exit or was stopped (or abandoned, when its stop timed out);
- a crash is logged once, here, with its traceback and the child's spec, and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from actors.journal import Append
from runtime.api import (
    AbandonedExit,
    Actor,
    ActorDead,
    AskTimeout,
    ChildExited,
    Crash,
    ExitReason,
    InitFailed,
    Ref,
    Runtime,
    Shutdown,
    StartFailed,
    is_normal_exit,
)
from runtime.clock import clock_seconds
from state.events import ActorStarted, ActorStopped, ChildRestarted, Event, SupervisorGaveUp
from supervisors.intensity import add_restart
from supervisors.spec import (
    AutoShutdown,
    ChildKind,
    ChildSpec,
    Flags,
    Restart,
    SpecError,
    Strategy,
    validate_children,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ChildInfo",
    "DeleteChild",
    "GetStats",
    "RestartChild",
    "StartChild",
    "StartRefused",
    "Supervisor",
    "SupervisorStats",
    "TerminateChild",
    "WhichChildren",
    "tree_stats",
]

log = logging.getLogger("supervisors")

GAVE_UP = "max_restart_intensity"
_RETRY_RESTART_S = 0.1


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartChild:
    """Add and start a child (dynamic children). Reply: the child's Ref, or StartRefused."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRefused:
    """A StartChild/RestartChild that did not start anything, and why (a value, not a crash)."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminateChild:
    """Stop a child by its spec's shutdown rule; the spec is kept (except temporary). Reply: bool."""

    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartChild:
    """Start a terminated child again; manual, so not charged to the intensity.
    Reply: Ref or StartRefused."""

    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteChild:
    """Forget a terminated child's spec. Reply: bool."""

    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WhichChildren:
    """Reply: tuple[ChildInfo, ...] in start order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStats:
    """Reply: SupervisorStats of this supervisor alone (see `tree_stats` for a whole tree)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildInfo:
    id: str
    incarnation: int
    is_alive: bool
    kind: ChildKind
    restart: Restart


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorStats:
    name: str
    started: int
    restarts: int
    crashes: int
    children: tuple[ChildInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _RetryRestart:
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Watchdog:
    pass


# --- state -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    incarnation: int = 0
    ref: Ref | None = None
    suspected_dead: bool = False
    finished_by_itself: bool = False


@dataclass(slots=True)
class _Counters:
    started: int = 0
    restarts: int = 0
    crashes: int = 0
    restart_times: tuple[float, ...] = field(default_factory=tuple)


class Supervisor(Actor):
    """Supervises an ordered set of children.

    Accepts: ChildExited (from the runtime), StartChild, TerminateChild, RestartChild,
    DeleteChild, WhichChildren, GetStats. Emits: ChildExited to its own watcher when it stops
    or gives up. A crash of the supervisor loses nothing a child owns: children are stopped
    and rebuilt from their journals by the restarted supervisor.
    """

    def __init__(
        self,
        flags: Flags,
        children: Iterable[ChildSpec] = (),
        *,
        watchdog_s: float = 5.0,
        max_children: int | None = None,
        journal: str | None = None,
        forget_finished: bool = False,
    ) -> None:
        specs = tuple(children)
        validate_children(flags, specs)
        self.flags = flags
        self._initial = specs
        self._children: dict[str, _Child] = {}
        self._counters = _Counters()
        self._watchdog_s = watchdog_s
        self._max_children = max_children
        self._journal = journal
        # Dynamic children come and go for days (a window every few minutes): a child that
        # finished for good is forgotten, or the supervisor would grow without bound.
        self._forget_finished = forget_finished
        self._stopping = False

    # lifecycle ----------------------------------------------------------------------------------

    def initial_children(self) -> tuple[ChildSpec, ...]:
        """The specs started in `on_start`; dynamic supervisors override this to rebuild."""
        return self._initial

    def on_start(self) -> None:
        for spec in self.initial_children():
            child = _Child(spec)
            self._children[spec.id] = child
            try:
                self._start(child)
            except StartFailed:
                self._terminate_all()
                raise
        self._schedule_watchdog()

    def on_stop(self) -> None:
        self._terminate_all()

    def on_crash(self) -> None:
        # OTP links: children do not outlive a crashed supervisor.
        self._terminate_all()

    def receive(self, message: object) -> object:
        match message:
            case ChildExited(name=name, incarnation=incarnation, reason=reason):
                self._on_child_exited(name, incarnation, reason)
                return None
            case StartChild(spec=spec):
                return self._on_start_child(spec)
            case TerminateChild(id=child_id):
                return self._on_terminate_child(child_id)
            case RestartChild(id=child_id):
                return self._on_restart_child(child_id)
            case DeleteChild(id=child_id):
                return self._on_delete_child(child_id)
            case WhichChildren():
                return self._which_children()
            case GetStats():
                return SupervisorStats(
                    name=self.ctx.name,
                    started=self._counters.started,
                    restarts=self._counters.restarts,
                    crashes=self._counters.crashes,
                    children=self._which_children(),
                )
            case _RetryRestart(id=child_id):
                self._on_retry_restart(child_id)
                return None
            case _Watchdog():
                self._on_watchdog()
                return None
            case _:
                return super().receive(message)

    # handlers -----------------------------------------------------------------------------------

    def _on_child_exited(self, name: str, incarnation: int, reason: ExitReason) -> None:
        child = self._children.get(name)
        if child is None or child.ref is None or child.incarnation != incarnation:
            return  # a stale notice: we stopped that incarnation ourselves, or it was replaced
        child.ref = None
        child.finished_by_itself = True
        self._record(
            ActorStopped(
                stream_id=f"lifecycle/{name}",
                ts=self.ctx.clock.now(),
                name=name,
                incarnation=incarnation,
                reason=_describe(reason),
            )
        )
        if isinstance(reason, Crash | InitFailed):
            self._counters.crashes += 1
            log.error(
                "supervisor %s: child %s#%d crashed: %s (restart=%s, strategy=%s)\n%s",
                self.ctx.name,
                name,
                incarnation,
                reason.error,
                child.spec.restart.value,
                self.flags.strategy.value,
                reason.traceback,
            )
        elif not is_normal_exit(reason):
            log.error(
                "supervisor %s: child %s#%d exited abnormally: %r",
                self.ctx.name,
                name,
                incarnation,
                reason,
            )
        else:
            log.info(
                "supervisor %s: child %s#%d exited: %r", self.ctx.name, name, incarnation, reason
            )
        if self._should_restart(child.spec, reason):
            self._restart(child)
            return
        if child.spec.restart is Restart.TEMPORARY or self._forget_finished:
            del self._children[name]
        if child.spec.significant:
            self._maybe_auto_shutdown()

    def _on_start_child(self, spec: ChildSpec) -> Ref | StartRefused:
        if spec.id in self._children:
            return StartRefused(id=spec.id, reason="a child with this id already exists")
        if self._max_children is not None and len(self._children) >= self._max_children:
            return StartRefused(id=spec.id, reason=f"at most {self._max_children} children")
        try:
            validate_children(self.flags, (spec,))
        except SpecError as e:
            return StartRefused(id=spec.id, reason=str(e))
        child = _Child(spec)
        self._children[spec.id] = child
        try:
            return self._start(child)
        except StartFailed as e:
            del self._children[spec.id]
            log.error(
                "supervisor %s: child %s failed to start: %s\n%s",
                self.ctx.name,
                spec.id,
                e.reason.error,
                e.reason.traceback,
            )
            return StartRefused(id=spec.id, reason=f"start failed: {e.reason.error}")

    def _on_terminate_child(self, child_id: str) -> bool:
        child = self._children.get(child_id)
        if child is None:
            return False
        self._terminate(child)
        if child.spec.restart is Restart.TEMPORARY:
            del self._children[child_id]
        return True

    def _on_restart_child(self, child_id: str) -> Ref | StartRefused:
        child = self._children.get(child_id)
        if child is None:
            return StartRefused(id=child_id, reason="no such child")
        if child.ref is not None:
            return StartRefused(id=child_id, reason="already running")
        try:
            return self._start(child)
        except StartFailed as e:
            return StartRefused(id=child_id, reason=f"start failed: {e.reason.error}")

    def _on_delete_child(self, child_id: str) -> bool:
        child = self._children.get(child_id)
        if child is None or child.ref is not None:
            return False
        del self._children[child_id]
        return True

    def _on_retry_restart(self, child_id: str) -> None:
        child = self._children.get(child_id)
        if child is not None and child.ref is None and not self._stopping:
            self._restart(child)

    def _on_watchdog(self) -> None:
        # A child found dead twice in a row without having told us died in a way the runtime
        # could not report (a Ray worker process killed): treat it as a crash. Twice, because a
        # child that just crashed is already not alive while its notice is still on the way.
        for child in list(self._children.values()):
            if child.ref is None or child.ref.is_alive():
                child.suspected_dead = False
                continue
            if not child.suspected_dead:
                child.suspected_dead = True
                continue
            self._on_child_exited(
                child.spec.id,
                child.incarnation,
                Crash(error="exited without notice (process died?)"),
            )
        self._schedule_watchdog()

    def _schedule_watchdog(self) -> None:
        # `watchdog_s` is on the supervision clock (real time on Ray): a timer on a 60x
        # simulated clock would otherwise ping every Ray child twelve times a second.
        if self._watchdog_s <= 0:
            return
        delay = self._watchdog_s
        if self.ctx.runtime.supervision_clock is not self.ctx.clock:
            delay = clock_seconds(self.ctx.clock, self._watchdog_s)
        self.ctx.schedule(delay, _Watchdog())

    # mechanics ----------------------------------------------------------------------------------

    def _should_restart(self, spec: ChildSpec, reason: ExitReason) -> bool:
        if self._stopping:
            return False
        match spec.restart:
            case Restart.PERMANENT:
                return True
            case Restart.TRANSIENT:
                return not is_normal_exit(reason)
            case Restart.TEMPORARY:
                return False

    def _restart(self, failed: _Child) -> None:
        times, exceeded = add_restart(
            self._counters.restart_times,
            self.ctx.runtime.supervision_clock.monotonic(),
            intensity=self.flags.intensity,
            period_s=self.flags.period_s,
        )
        self._counters.restart_times = times
        if exceeded:
            self._give_up(failed)
            return
        self._counters.restarts += 1
        self._record(
            ChildRestarted(
                stream_id=f"lifecycle/{self.ctx.name}",
                ts=self.ctx.clock.now(),
                supervisor=self.ctx.name,
                child=failed.spec.id,
                incarnation=failed.incarnation + 1,
                reason="restart",
            )
        )
        order = list(self._children)
        match self.flags.strategy:
            case Strategy.ONE_FOR_ONE:
                affected = [failed.spec.id]
            case Strategy.ONE_FOR_ALL:
                affected = order
            case Strategy.REST_FOR_ONE:
                affected = order[order.index(failed.spec.id) :]
        for child_id in reversed(affected):
            sibling = self._children[child_id]
            if sibling is not failed and sibling.ref is not None:
                self._terminate(sibling)
        for child_id in affected:
            child = self._children.get(child_id)
            if child is None:
                continue
            if child is not failed and child.spec.restart is Restart.TEMPORARY:
                del self._children[child_id]  # OTP: temporary siblings are not restarted
                continue
            if child.ref is not None:
                continue
            try:
                self._start(child)
            except StartFailed as e:
                log.error(
                    "supervisor %s: restart of %s failed: %s\n%s",
                    self.ctx.name,
                    child_id,
                    e.reason.error,
                    e.reason.traceback,
                )
                self._counters.crashes += 1
                # A short pause, not an immediate retry: an old incarnation may still be
                # releasing the name. Every retry is charged to the intensity, so a child that
                # never starts still escalates.
                self.ctx.schedule(_RETRY_RESTART_S, _RetryRestart(id=child_id))
                return

    def _start(self, child: _Child) -> Ref:
        child.incarnation += (
            1  # every attempt is a new incarnation, as every OTP start is a new pid
        )
        ref = self.ctx.runtime.spawn(
            child.spec.start,
            name=child.spec.id,
            incarnation=child.incarnation,
            watcher=self.ctx.self_ref,
        )
        child.ref = ref
        child.suspected_dead = False
        child.finished_by_itself = False
        self._counters.started += 1
        self._record(
            ActorStarted(
                stream_id=f"lifecycle/{child.spec.id}",
                ts=self.ctx.clock.now(),
                name=child.spec.id,
                incarnation=child.incarnation,
            )
        )
        return ref

    def _terminate(self, child: _Child) -> None:
        ref, child.ref = child.ref, None
        if ref is None:
            return
        timeout = child.spec.shutdown_timeout_s
        if timeout == 0.0:
            self.ctx.runtime.abandon(ref)  # brutal_kill
            return
        if not ref.stop(timeout):
            log.error(
                "supervisor %s: child %s#%d did not stop within %ss; abandoned: %r",
                self.ctx.name,
                child.spec.id,
                child.incarnation,
                timeout,
                AbandonedExit(),
            )
            self.ctx.runtime.abandon(ref)

    def _terminate_all(self) -> None:
        self._stopping = True
        for child in reversed(list(self._children.values())):
            self._terminate(child)

    def _give_up(self, offender: _Child) -> None:
        log.error(
            "supervisor %s: reached max restart intensity (%d in %ss) with child %s; "
            "stopping all children and escalating",
            self.ctx.name,
            self.flags.intensity,
            self.flags.period_s,
            offender.spec.id,
        )
        self._record(
            SupervisorGaveUp(
                stream_id=f"lifecycle/{self.ctx.name}",
                ts=self.ctx.clock.now(),
                supervisor=self.ctx.name,
                reason=f"{offender.spec.id}: {GAVE_UP}",
            )
        )
        self._terminate_all()
        self.ctx.stop_self(Shutdown(cause=GAVE_UP))

    def _maybe_auto_shutdown(self) -> None:
        significant = [c for c in self._children.values() if c.spec.significant]
        match self.flags.auto_shutdown:
            case AutoShutdown.NEVER:
                return
            case AutoShutdown.ANY_SIGNIFICANT:
                done = any(c.ref is None and c.finished_by_itself for c in significant)
            case AutoShutdown.ALL_SIGNIFICANT:
                done = all(c.ref is None and c.finished_by_itself for c in significant)
        if done:
            self._terminate_all()
            self.ctx.stop_self(Shutdown(cause="auto_shutdown"))

    def _record(self, event: Event) -> None:
        """Journal a lifecycle fact. The journal may itself be restarting: then the fact is only
        logged, because waiting for it would stall every restart behind the journal's."""
        if self._journal is None:
            return
        try:
            self.ctx.runtime.lookup(self._journal).tell(Append(event=event))
        except ActorDead:
            log.info(
                "supervisor %s: journal unavailable, lifecycle not journaled: %r",
                self.ctx.name,
                event,
            )

    def _which_children(self) -> tuple[ChildInfo, ...]:
        return tuple(
            ChildInfo(
                id=c.spec.id,
                incarnation=c.incarnation,
                is_alive=c.ref is not None and c.ref.is_alive(),
                kind=c.spec.kind,
                restart=c.spec.restart,
            )
            for c in self._children.values()
        )


def _describe(reason: ExitReason) -> str:
    match reason:
        case Crash(error=error) | InitFailed(error=error):
            return f"{type(reason).__name__}: {error}"
        case Shutdown(cause=cause):
            return f"Shutdown: {cause}"
        case _:
            return type(reason).__name__


def tree_stats(runtime: Runtime, root: str, timeout_s: float = 5.0) -> SupervisorStats:
    """A supervisor's stats summed with those of every live sub-supervisor below it."""
    stats: SupervisorStats = runtime.lookup(root).ask(GetStats(), timeout_s)
    started, restarts, crashes = stats.started, stats.restarts, stats.crashes
    children = list(stats.children)
    for child in stats.children:
        if child.kind is not ChildKind.SUPERVISOR or not child.is_alive:
            continue
        try:
            sub = tree_stats(runtime, child.id, timeout_s)
        except (ActorDead, AskTimeout):
            continue  # stopping or restarting right now; counted on the next look
        started += sub.started
        restarts += sub.restarts
        crashes += sub.crashes
        children.extend(sub.children)
    return replace(
        stats, started=started, restarts=restarts, crashes=crashes, children=tuple(children)
    )
