"""The one injectable clock: real time, simulated time at N x speed, and a manual test clock.

Every component reads time through a `Clock`; nothing calls `time.time()` directly. That is
what lets the simulated market run 100x faster than real time and lets supervisor tests
step through restart-intensity windows without sleeping.

`now()` is wall-clock epoch seconds (UTC); `monotonic()` never goes backwards and is what
intervals and timeouts are measured with. `real_delay(sim_s)` converts a simulated delay into
the real seconds a timer thread must wait (None: only an explicit `advance` moves time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "ManualClock", "RealClock", "SimulatedClock", "clock_seconds"]


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC) in this clock's world."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards; only differences are meaningful."""
        ...

    def real_delay(self, sim_seconds: float) -> float | None:
        """Real seconds to wait for `sim_seconds` to pass; None when only `advance` moves time."""
        ...

    def subscribe(self, on_advance: Callable[[], None]) -> None:
        """Call `on_advance` whenever time jumps (manual clocks); a no-op for flowing clocks."""
        ...


class RealClock:
    """Wall-clock time. Reads `time.time()` on every call, so freezegun can freeze it."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def real_delay(self, sim_seconds: float) -> float | None:
        return max(0.0, sim_seconds)

    def subscribe(self, on_advance: Callable[[], None]) -> None:
        return None


class SimulatedClock:
    """Time that flows `speed` times faster than real time, starting at `start` epoch seconds."""

    def __init__(self, *, start: float, speed: float) -> None:
        _check_speed(speed)
        # One tuple, replaced whole, so a reader on another thread never mixes two speeds.
        self._base = (start, time.monotonic(), speed)

    @property
    def speed(self) -> float:
        return self._base[2]

    def now(self) -> float:
        start, origin, speed = self._base
        return start + (time.monotonic() - origin) * speed

    def set_speed(self, speed: float) -> None:
        """Go on from the present moment at `speed` (the local exchange slows down for a test's
        phase that measures simulated seconds finer than a loaded machine keeps real ones)."""
        _check_speed(speed)
        origin = time.monotonic()
        start, then, old_speed = self._base
        self._base = (start + (origin - then) * old_speed, origin, speed)

    def monotonic(self) -> float:
        return self.now()

    def real_delay(self, sim_seconds: float) -> float | None:
        return max(0.0, sim_seconds) / self.speed

    def subscribe(self, on_advance: Callable[[], None]) -> None:
        return None


def _check_speed(speed: float) -> None:
    if speed <= 0:
        msg = f"clock speed must be > 0, got {speed!r}"
        raise ValueError(msg)


class ManualClock:
    """A clock that moves only when told to: tests and the deterministic replay runtime."""

    __test__ = False

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def real_delay(self, sim_seconds: float) -> float | None:
        return 0.0 if sim_seconds <= 0 else None

    def subscribe(self, on_advance: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(on_advance)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            msg = f"a clock cannot go backwards: advance({seconds!r})"
            raise ValueError(msg)
        self.set(self._now + seconds)

    def set(self, epoch_seconds: float) -> None:
        if epoch_seconds < self._now:
            msg = f"a clock cannot go backwards: {epoch_seconds!r} < {self._now!r}"
            raise ValueError(msg)
        with self._lock:
            self._now = epoch_seconds
            listeners = tuple(self._listeners)
        for notify in listeners:
            notify()


def clock_seconds(clock: Clock, real_seconds: float) -> float:
    """How many of `clock`'s seconds pass in `real_seconds` real seconds: the delay to schedule
    on `clock` for something meant in real time. A manual clock has no rate; it gets them 1:1."""
    per_clock_second = clock.real_delay(1.0)
    if not per_clock_second:
        return real_seconds
    return real_seconds / per_clock_second
