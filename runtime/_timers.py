"""Timers on a runtime's clock: one thread per process for all of them (a window ticking at 60x
speed would otherwise start hundreds of threads a second). Shared by the threaded backends;
the deterministic backend keeps the same heap entries and fires them itself."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.api import ActorDead, Ref

if TYPE_CHECKING:
    from runtime.clock import Clock

__all__ = ["Due", "TimerHandle", "TimerThread"]

log = logging.getLogger("runtime")


@dataclass(slots=True)
class TimerHandle:
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass(order=True, slots=True)
class Due:
    at: float
    seq: int
    target: Ref = field(compare=False)
    message: object = field(compare=False)
    handle: TimerHandle = field(compare=False)


class TimerThread:
    """Tells each due message to its target, sleeping on the clock in between."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[Due] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="polyactor-timers", daemon=True)
        clock.subscribe(self._wake)
        self._thread.start()

    def add(self, delay_s: float, target: Ref, message: object) -> TimerHandle:
        handle = TimerHandle()
        with self._cond:
            at = self._clock.monotonic() + max(0.0, delay_s)
            heapq.heappush(self._heap, Due(at, next(self._seq), target, message, handle))
            self._cond.notify()
        return handle

    def close(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        self._thread.join(timeout=2.0)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._running:
                    return
                now = self._clock.monotonic()
                due: list[Due] = []
                while self._heap and self._heap[0].at <= now:
                    due.append(heapq.heappop(self._heap))
                if not due:
                    wait = self._clock.real_delay(self._heap[0].at - now) if self._heap else None
                    self._cond.wait(timeout=wait)
                    continue
            for item in due:
                if item.handle.cancelled:
                    continue
                try:
                    item.target.tell(item.message)
                except ActorDead:
                    log.debug("timer for %s fired after it stopped", item.target.name)
