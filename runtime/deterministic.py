"""Deterministic backend: one thread, one FIFO queue, timers on a manual clock.

Nothing runs until the driver says so: `run_until_idle()` delivers queued messages in the order
they were sent; `advance(seconds)` moves the clock, firing timers in due order and running to
idle after each. Same inputs, same order, every time: tests and replay use it for
reproducibility and for speed (no thread switches, no locks on the hot path).

An `ask` is a direct, synchronous call. From outside any handler it first drains the queue, so
messages told earlier are handled before it, as on the threaded backends.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from runtime._exits import report_exit, run_on_crash
from runtime._timers import Due, TimerHandle
from runtime.api import (
    ActorDead,
    Address,
    AskTimeout,
    Crash,
    ExitReason,
    Factory,
    InitFailed,
    NameTaken,
    Normal,
    Ref,
    Reply,
    Shutdown,
    StartFailed,
)
from runtime.clock import ManualClock

if TYPE_CHECKING:
    from runtime.api import Actor

__all__ = ["DeterministicRuntime"]

log = logging.getLogger(__name__)


class _Host:
    __slots__ = (
        "actor",
        "alive",
        "busy",
        "incarnation",
        "name",
        "pending_stop",
        "queued",
        "runtime",
        "watcher",
    )

    def __init__(
        self,
        runtime: DeterministicRuntime,
        actor: Actor,
        name: str,
        incarnation: int,
        watcher: Ref | None,
    ) -> None:
        self.runtime = runtime
        self.actor = actor
        self.name = name
        self.incarnation = incarnation
        self.watcher = watcher
        self.alive = True
        self.pending_stop: ExitReason | None = None
        self.queued = 0  # messages for this host still in the runtime's queue
        self.busy = False  # inside one of its handlers


class _DetRef:
    __slots__ = ("_host",)

    def __init__(self, host: _Host) -> None:
        self._host = host

    @property
    def name(self) -> str:
        return self._host.name

    @property
    def incarnation(self) -> int:
        return self._host.incarnation

    def tell(self, message: object) -> None:
        if not self._host.alive:
            msg = f"{self._host.name}#{self._host.incarnation} is not alive"
            raise ActorDead(msg)
        self._host.queued += 1
        self._host.runtime._queue.append((self._host, message))

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        return self._host.runtime._ask(self._host, message)

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        self._host.runtime._stop(self._host, Shutdown())
        return True

    def is_alive(self) -> bool:
        return self._host.alive

    def __repr__(self) -> str:
        return f"<ref {self._host.name}#{self._host.incarnation}>"


class _Context:
    __slots__ = ("_host", "_ref")

    def __init__(self, host: _Host, ref: _DetRef) -> None:
        self._host = host
        self._ref = ref

    @property
    def name(self) -> str:
        return self._host.name

    @property
    def incarnation(self) -> int:
        return self._host.incarnation

    @property
    def self_ref(self) -> Ref:
        return self._ref

    @property
    def runtime(self) -> DeterministicRuntime:
        return self._host.runtime

    @property
    def clock(self) -> ManualClock:
        return self._host.runtime.clock

    def schedule(self, delay_s: float, message: object) -> TimerHandle:
        return self._host.runtime.schedule(delay_s, self._ref, message)

    def stop_self(self, reason: ExitReason | None = None) -> None:
        # Takes effect after the current message, like the threaded backends.
        if self._host.pending_stop is None:
            self._host.pending_stop = reason or Normal()

    def defer_reply(self) -> Reply | None:
        # An ask is a direct call that returns the handler's value: asks never queue up, so
        # there is nothing to serve together.
        return None


class DeterministicRuntime:
    """Single-threaded scheduler over a `ManualClock`."""

    kind = "deterministic"

    def __init__(self, clock: ManualClock | None = None) -> None:
        self._clock = clock or ManualClock()
        self._queue: deque[tuple[_Host, object]] = deque()
        self._names: dict[str, _Host] = {}
        self._spawned: dict[int, _Host] = {}
        self._timers: list[Due] = []
        self._seq = itertools.count()
        self._depth = 0
        self.delivered = 0

    @property
    def clock(self) -> ManualClock:
        return self._clock

    @property
    def supervision_clock(self) -> ManualClock:
        return self._clock

    # Runtime protocol ---------------------------------------------------------------------------

    def spawn(
        self, factory: Factory, *, name: str, incarnation: int = 1, watcher: Ref | None = None
    ) -> Ref:
        holder = self._names.get(name)
        if holder is not None and holder.alive:
            msg = f"actor name {name!r} is held by live incarnation #{holder.incarnation}"
            raise NameTaken(msg)
        actor = factory()
        host = _Host(self, actor, name, incarnation, watcher)
        ref = _DetRef(host)
        actor.ctx = _Context(host, ref)
        self._names[name] = host
        self._spawned[id(host)] = host
        self._depth += 1
        try:
            actor.on_start()
        except Exception as e:
            self._release(host)
            raise StartFailed(InitFailed(error=repr(e), traceback=traceback.format_exc())) from e
        finally:
            self._depth -= 1
        self._after_handler(host)
        return ref

    def lookup(self, name: str) -> Ref:
        host = self._names.get(name)
        if host is None or not host.alive:
            msg = f"no live actor named {name!r}"
            raise ActorDead(msg)
        return _DetRef(host)

    def address(self, name: str) -> Address:
        return Address(name, self)

    def schedule(self, delay_s: float, target: Ref, message: object) -> TimerHandle:
        handle = TimerHandle()
        at = self._clock.monotonic() + max(0.0, delay_s)
        heapq.heappush(self._timers, Due(at, next(self._seq), target, message, handle))
        return handle

    def abandon(self, ref: Ref) -> None:
        host = self._names.get(ref.name)
        if host is not None:
            self._release(host)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        # Unsupervised actors first (roots stop their own subtrees in order), then stragglers.
        for roots_only in (True, False):
            for host in reversed(list(self._spawned.values())):
                if host.alive and (host.watcher is None or not roots_only):
                    self._stop(host, Shutdown())
        self._timers.clear()
        self._queue.clear()

    # driving -------------------------------------------------------------------------------------

    def run_until_idle(self, max_messages: int | None = None) -> int:
        """Deliver queued messages until none are left (or `max_messages`); returns the count."""
        handled = 0
        queue = self._queue
        while queue and (max_messages is None or handled < max_messages):
            host, message = queue.popleft()
            host.queued -= 1
            handled += 1
            if host.alive:
                self._deliver(host, message)
        self.delivered += handled
        return handled

    def advance(self, seconds: float) -> None:
        """Move the clock forward, firing each due timer at its own time, running to idle."""
        self.advance_to(self._clock.now() + seconds)

    def advance_to(self, epoch_seconds: float) -> None:
        self.run_until_idle()
        while self._timers and self._timers[0].at <= epoch_seconds:
            due = heapq.heappop(self._timers)
            if due.handle.cancelled:
                continue
            if due.at > self._clock.now():
                self._clock.set(due.at)
            try:
                due.target.tell(due.message)
            except ActorDead:
                log.debug("timer for %s fired after it stopped", due.target.name)
            self.run_until_idle()
        if epoch_seconds > self._clock.now():
            self._clock.set(epoch_seconds)
        self.run_until_idle()

    def next_timer_at(self) -> float | None:
        while self._timers and self._timers[0].handle.cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].at if self._timers else None

    def names(self) -> list[str]:
        return sorted(n for n, h in self._names.items() if h.alive)

    # internals -----------------------------------------------------------------------------------

    def _deliver(self, host: _Host, message: object) -> None:
        self._depth += 1
        host.busy = True
        try:
            host.actor.receive(message)
        except Exception as e:  # noqa: BLE001 - a crash, reported to the watcher
            self._crashed(host, e)
            return
        finally:
            host.busy = False
            self._depth -= 1
        self._after_handler(host)

    def _ask(self, host: _Host, message: object) -> Any:
        if self._depth == 0:
            self.run_until_idle()
        else:
            # An ask from inside a handler: the target's mailbox is FIFO on every backend, so
            # the messages told to it earlier are handled before the ask.
            self._deliver_queued_for(host)
        if not host.alive:
            msg = f"{host.name}#{host.incarnation} is not alive"
            raise ActorDead(msg)
        if host.busy:
            # An ask cycle (A asks B, B asks A): on pykka and Ray it waits out its timeout,
            # here it would run A's handler re-entrantly on half-updated state.
            msg = f"{host.name} is busy in a handler that is waiting on this ask (an ask cycle)"
            raise AskTimeout(msg)
        self._depth += 1
        host.busy = True
        try:
            reply = host.actor.receive(message)
        except Exception as e:
            self._crashed(host, e)
            raise
        finally:
            host.busy = False
            self._depth -= 1
        self._after_handler(host)
        return reply

    def _deliver_queued_for(self, host: _Host) -> None:
        if not host.queued:
            return
        mine = [m for h, m in self._queue if h is host]
        others = [(h, m) for h, m in self._queue if h is not host]
        self._queue.clear()
        self._queue.extend(others)
        host.queued = 0
        for message in mine:
            if not host.alive:
                return
            self._deliver(host, message)

    def _after_handler(self, host: _Host) -> None:
        if host.alive and host.pending_stop is not None:
            self._stop(host, host.pending_stop)

    def _crashed(self, host: _Host, error: Exception) -> None:
        reason = Crash(error=repr(error), traceback=traceback.format_exc())
        self._release(host)
        run_on_crash(host.actor, host.name)
        self._notify(host, reason)

    def _stop(self, host: _Host, reason: ExitReason) -> None:
        if not host.alive:
            return
        # Messages queued before the stop are handled first, as on the threaded backends.
        self._deliver_queued_for(host)
        if not host.alive:
            return
        self._release(host)
        try:
            host.actor.on_stop()
        except Exception as e:  # noqa: BLE001 - on_stop failing is a crash of this incarnation
            reason = Crash(error=repr(e), traceback=traceback.format_exc())
            run_on_crash(host.actor, host.name)
        self._notify(host, reason)

    def _release(self, host: _Host) -> None:
        host.alive = False
        if self._names.get(host.name) is host:
            del self._names[host.name]
        self._spawned.pop(id(host), None)

    def _notify(self, host: _Host, reason: ExitReason) -> None:
        report_exit(host.name, host.incarnation, reason, host.watcher)
