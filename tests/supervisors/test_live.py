"""Live mode's wiring (supervisors/live.py): a feed's frames into the actor it serves."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from runtime import make_runtime
from runtime.api import Actor, ActorDead, Runtime
from runtime.clock import RealClock
from supervisors.live import _into_actor


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    running = make_runtime("pykka", RealClock())
    yield running
    running.shutdown()


class _Feed:
    """A websocket stand-in: frames reach its callback on a thread of its own."""

    def __init__(self, wrap: Callable[[Callable[[str], None]], Callable[[str], None]]) -> None:
        self._wrap = wrap
        self._callback: Callable[[str], None] | None = None
        self.failures: list[BaseException] = []

    def open(self, callback: Callable[[str], None]) -> None:
        self._callback = self._wrap(callback)

    def frame_from_its_thread(self, frame: str) -> None:
        callback = self._callback
        assert callback is not None

        def deliver() -> None:
            try:
                callback(frame)
            except ActorDead as e:  # what killed a feed's thread at shutdown
                self.failures.append(e)

        thread = threading.Thread(target=deliver)
        thread.start()
        thread.join(timeout=5)


class _FedActor(Actor):
    """Opens its feed at start; in on_stop a frame lands before the feed is closed, as one
    can at every shutdown (the runtime runs on_stop once the actor takes no more messages)."""

    def __init__(self, feed: _Feed) -> None:
        self._feed = feed

    def on_start(self) -> None:
        self._feed.open(self.ctx.self_ref.tell)

    def on_stop(self) -> None:
        self._feed.frame_from_its_thread("late frame")

    def receive(self, message: object) -> object:
        return None


def test_a_frame_for_an_actor_that_has_stopped_kills_a_bare_feed(runtime: Runtime) -> None:
    feed = _Feed(lambda callback: callback)
    runtime.spawn(lambda: _FedActor(feed), name="fed").stop(timeout_s=5)
    assert [type(e) for e in feed.failures] == [ActorDead]


def test_a_feed_into_an_actor_drops_what_lands_after_the_actor_stopped(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    feed = _Feed(lambda callback: _into_actor(callback, "market"))
    with caplog.at_level(logging.DEBUG, logger="supervisors.live"):
        runtime.spawn(lambda: _FedActor(feed), name="fed").stop(timeout_s=5)
    assert feed.failures == []
    assert "feed market: str dropped, its actor has stopped" in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
