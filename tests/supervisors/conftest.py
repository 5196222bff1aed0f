"""Toy children for supervisor tests: they record their lives in a shared journal list."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from runtime.api import Actor, ChildExited
from runtime.clock import ManualClock
from runtime.deterministic import DeterministicRuntime
from tests.waiting import wait_for


@dataclass
class Lives:
    """What happened, in order: ("start", id, incarnation), ("stop", id, incarnation)."""

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    fail_start: dict[tuple[str, int], bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, name: str, incarnation: int) -> None:
        with self.lock:
            self.entries.append((what, name, incarnation))

    def of(self, what: str) -> list[tuple[str, int]]:
        with self.lock:
            return [(n, i) for w, n, i in self.entries if w == what]


class Worker(Actor):
    """Crashes on "crash", exits normally on "exit", answers "incarnation"."""

    def __init__(self, lives: Lives, stop_delay_s: float = 0.0) -> None:
        self.lives = lives
        self.stop_delay_s = stop_delay_s
        self.handled = 0

    def on_start(self) -> None:
        if self.lives.fail_start.get((self.ctx.name, self.ctx.incarnation)):
            msg = f"{self.ctx.name} refuses to start"
            raise RuntimeError(msg)
        self.lives.add("start", self.ctx.name, self.ctx.incarnation)

    def receive(self, message: object) -> object:
        match message:
            case "crash":
                msg = f"{self.ctx.name} was told to crash"
                raise ValueError(msg)
            case "exit":
                self.ctx.stop_self()
                return None
            case "incarnation":
                return self.ctx.incarnation
            case ("block", threading.Event() as gate):
                gate.wait(10)
                return None
            case "count":
                self.handled += 1
                return self.handled
            case _:
                return super().receive(message)

    def on_stop(self) -> None:
        if self.stop_delay_s:
            time.sleep(self.stop_delay_s)
        self.lives.add("stop", self.ctx.name, self.ctx.incarnation)


class Watcher(Actor):
    """Stands in for a parent supervisor: records the ChildExited notices it receives."""

    def __init__(self, seen: list[ChildExited]) -> None:
        self.seen = seen

    def receive(self, message: object) -> object:
        match message:
            case ChildExited():
                self.seen.append(message)
                return None
            case _:
                return super().receive(message)


@pytest.fixture
def lives() -> Lives:
    return Lives()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def det(clock: ManualClock) -> Iterator[DeterministicRuntime]:
    runtime = DeterministicRuntime(clock)
    yield runtime
    runtime.shutdown()


@pytest.fixture
def make_worker(lives: Lives) -> Callable[..., Callable[[], Worker]]:
    def make(**kwargs: float) -> Callable[[], Worker]:
        return lambda: Worker(lives, **kwargs)

    return make


@pytest.fixture
def make_watcher() -> Callable[[list[ChildExited]], Callable[[], Watcher]]:
    return lambda seen: lambda: Watcher(seen)


@dataclass
class Kit:
    """A runtime plus a way to let it process what was sent, whatever the backend."""

    rt: object
    clock: ManualClock

    def until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        if isinstance(self.rt, DeterministicRuntime):
            self.rt.run_until_idle()
            assert predicate(), "condition not met after running to idle"
        else:
            assert wait_for(predicate, timeout_s), "condition not met in time"

    def advance(self, seconds: float) -> None:
        if isinstance(self.rt, DeterministicRuntime):
            self.rt.advance(seconds)
        else:
            self.clock.advance(seconds)


@pytest.fixture(params=["deterministic", "pykka"])
def kit(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[Kit]:
    if request.param == "deterministic":
        runtime: object = DeterministicRuntime(clock)
    else:
        from runtime.pykka_backend import PykkaRuntime

        runtime = PykkaRuntime(clock)
    yield Kit(runtime, clock)
    runtime.shutdown(timeout_s=2.0)  # type: ignore[attr-defined]
