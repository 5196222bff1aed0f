"""Shutdown timeouts, one incarnation at a time, the watchdog, and dynamic rebuilds."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from runtime.clock import ManualClock
from runtime.pykka_backend import PykkaRuntime
from supervisors import (
    ChildSpec,
    DynamicSupervisor,
    Flags,
    GetStats,
    Restart,
    StartChild,
    StartRefused,
    Strategy,
    Supervisor,
    WhichChildren,
)
from tests.waiting import wait_for


@pytest.fixture
def pykka_rt(clock: ManualClock) -> Iterator[PykkaRuntime]:
    runtime = PykkaRuntime(clock)
    yield runtime
    runtime.shutdown(timeout_s=2.0)


def test_a_child_that_does_not_stop_in_its_shutdown_time_is_abandoned_and_replaced(
    pykka_rt, lives, make_worker
):
    children = (
        ChildSpec(id="slow", start=make_worker(), shutdown=0.2),
        ChildSpec(id="b", start=make_worker()),
    )
    pykka_rt.spawn(
        lambda: Supervisor(
            Flags(strategy=Strategy.ONE_FOR_ALL, intensity=5), children, watchdog_s=0
        ),
        name="sup",
    )
    gate = threading.Event()
    old_slow = pykka_rt.lookup("slow")
    old_slow.tell(("block", gate))  # busy: its stop request waits behind this
    pykka_rt.lookup("b").tell("crash")
    try:
        assert wait_for(lambda: ("slow", 2) in lives.of("start"))
        assert pykka_rt.lookup("slow").ask("incarnation", 5.0) == 2
        assert not old_slow.is_alive()  # poisoned: refuses everything from now on
    finally:
        gate.set()


def test_never_two_incarnations_of_a_child_are_alive_at_once(pykka_rt, lives, make_worker):
    children = (
        ChildSpec(id="a", start=make_worker(stop_delay_s=0.2)),
        ChildSpec(id="b", start=make_worker()),
    )
    pykka_rt.spawn(
        lambda: Supervisor(
            Flags(strategy=Strategy.ONE_FOR_ALL, intensity=5), children, watchdog_s=0
        ),
        name="sup",
    )
    pykka_rt.lookup("b").tell("crash")
    assert wait_for(lambda: ("a", 2) in lives.of("start"))
    order = [(w, n, i) for w, n, i in lives.entries if n == "a"]
    assert order == [("start", "a", 1), ("stop", "a", 1), ("start", "a", 2)]


def test_a_child_that_died_without_notice_is_restarted_by_the_watchdog(det, lives, make_worker):
    sup = det.spawn(
        lambda: Supervisor(
            Flags(intensity=5), (ChildSpec(id="a", start=make_worker()),), watchdog_s=1.0
        ),
        name="sup",
    )
    det.abandon(det.lookup("a"))  # gone, and nobody told the supervisor
    det.advance(1.0)
    assert ("a", 2) not in lives.of("start")  # first sighting only makes it a suspect
    det.advance(1.0)
    assert ("a", 2) in lives.of("start")
    assert sup.ask(GetStats()).crashes == 1


def test_a_dynamic_supervisor_rebuilds_its_children_when_it_restarts(det, lives, make_worker):
    open_positions = ["position/1", "position/2"]

    def rebuild(runtime) -> list[ChildSpec]:
        return [ChildSpec(id=p, start=make_worker()) for p in open_positions]

    outer = det.spawn(
        lambda: Supervisor(
            Flags(intensity=5),
            (
                ChildSpec(
                    id="positions", start=lambda: DynamicSupervisor(rebuild=rebuild, watchdog_s=0)
                ),
            ),
            watchdog_s=0,
        ),
        name="outer",
    )
    positions = det.lookup("positions")
    assert [c.id for c in positions.ask(WhichChildren())] == ["position/1", "position/2"]
    open_positions.append("position/3")
    positions.tell("not a message it knows")  # crashes the dynamic supervisor
    det.run_until_idle()
    rebuilt = det.lookup("positions").ask(WhichChildren())
    assert [c.id for c in rebuilt] == ["position/1", "position/2", "position/3"]
    assert outer.ask(GetStats()).restarts == 1


def test_a_dynamic_supervisor_refuses_children_beyond_its_limit(det, make_worker):
    sup = det.spawn(lambda: DynamicSupervisor(max_children=1, watchdog_s=0), name="windows")
    assert not isinstance(
        sup.ask(StartChild(spec=ChildSpec(id="w1", start=make_worker()))), StartRefused
    )
    refused = sup.ask(StartChild(spec=ChildSpec(id="w2", start=make_worker())))
    assert isinstance(refused, StartRefused)
    assert "at most 1" in refused.reason


def test_a_dynamic_supervisor_must_be_one_for_one():
    with pytest.raises(ValueError, match="one_for_one"):
        DynamicSupervisor(Flags(strategy=Strategy.ONE_FOR_ALL))


def test_a_dynamic_supervisor_forgets_a_child_that_finished_for_good(det, lives, make_worker):
    sup = det.spawn(lambda: DynamicSupervisor(watchdog_s=0), name="windows")
    for n in range(3):
        sup.ask(
            StartChild(spec=ChildSpec(id=f"w{n}", start=make_worker(), restart=Restart.TRANSIENT))
        )
    det.lookup("w1").tell("exit")
    det.lookup("w2").tell("crash")  # abnormal: restarted, kept
    det.run_until_idle()
    assert [(c.id, c.incarnation) for c in sup.ask(WhichChildren())] == [("w0", 1), ("w2", 2)]
