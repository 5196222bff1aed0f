"""Each OTP semantic of the supervisor, on the deterministic and the pykka runtime."""

from __future__ import annotations

import logging
import time

import pytest

from runtime.api import ChildExited, Shutdown, StartFailed
from supervisors import (
    AutoShutdown,
    ChildKind,
    ChildSpec,
    DeleteChild,
    Flags,
    GetStats,
    Restart,
    RestartChild,
    StartChild,
    StartRefused,
    Strategy,
    Supervisor,
    TerminateChild,
    WhichChildren,
    tree_stats,
)


def specs(make_worker, *ids: str, **kw) -> tuple[ChildSpec, ...]:
    return tuple(ChildSpec(id=i, start=make_worker(), **kw) for i in ids)


def start_sup(kit, flags, children, name="sup", watcher=None):
    return kit.rt.spawn(
        lambda: Supervisor(flags, children, watchdog_s=0), name=name, watcher=watcher
    )


def incarnations(kit, *ids):
    return tuple(kit.rt.lookup(i).ask("incarnation") for i in ids)


# --- start and stop order -------------------------------------------------------------------


def test_children_start_in_order_and_stop_in_reverse_order(kit, lives, make_worker):
    sup = start_sup(kit, Flags(), specs(make_worker, "a", "b", "c"))
    assert lives.of("start") == [("a", 1), ("b", 1), ("c", 1)]
    sup.stop(5.0)
    kit.until(lambda: len(lives.of("stop")) == 3)
    assert lives.of("stop") == [("c", 1), ("b", 1), ("a", 1)]


def test_a_child_failing_to_start_stops_the_started_ones_and_fails_the_supervisor(
    kit, lives, make_worker
):
    lives.fail_start[("b", 1)] = True
    with pytest.raises(StartFailed):
        start_sup(kit, Flags(), specs(make_worker, "a", "b", "c"))
    assert lives.of("start") == [("a", 1)]
    assert lives.of("stop") == [("a", 1)]
    assert not kit.rt.names()


# --- strategies -----------------------------------------------------------------------------


def test_one_for_one_restarts_only_the_crashed_child(kit, lives, make_worker):
    start_sup(kit, Flags(intensity=5), specs(make_worker, "a", "b", "c"))
    kit.rt.lookup("b").tell("crash")
    kit.until(lambda: ("b", 2) in lives.of("start"))
    assert incarnations(kit, "a", "b", "c") == (1, 2, 1)
    assert lives.of("stop") == []  # a crash skips on_stop; siblings untouched


def test_one_for_all_stops_siblings_in_reverse_and_restarts_all_in_order(kit, lives, make_worker):
    start_sup(
        kit, Flags(strategy=Strategy.ONE_FOR_ALL, intensity=5), specs(make_worker, "a", "b", "c")
    )
    kit.rt.lookup("b").tell("crash")
    kit.until(lambda: ("c", 2) in lives.of("start"))
    assert lives.of("stop") == [("c", 1), ("a", 1)]
    assert lives.of("start")[3:] == [("a", 2), ("b", 2), ("c", 2)]


def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it(
    kit, lives, make_worker
):
    start_sup(
        kit, Flags(strategy=Strategy.REST_FOR_ONE, intensity=5), specs(make_worker, "a", "b", "c")
    )
    kit.rt.lookup("b").tell("crash")
    kit.until(lambda: ("c", 2) in lives.of("start"))
    assert lives.of("stop") == [("c", 1)]
    assert lives.of("start")[3:] == [("b", 2), ("c", 2)]
    assert incarnations(kit, "a") == (1,)


def test_one_for_all_does_not_restart_a_temporary_sibling(kit, lives, make_worker):
    children = (
        ChildSpec(id="a", start=make_worker(), restart=Restart.TEMPORARY),
        ChildSpec(id="b", start=make_worker()),
    )
    sup = start_sup(kit, Flags(strategy=Strategy.ONE_FOR_ALL, intensity=5), children)
    kit.rt.lookup("b").tell("crash")
    kit.until(lambda: ("b", 2) in lives.of("start"))
    assert ("a", 2) not in lives.of("start")
    assert [c.id for c in sup.ask(WhichChildren())] == ["b"]


# --- restart types --------------------------------------------------------------------------


def test_a_permanent_child_is_restarted_even_after_a_normal_exit(kit, lives, make_worker):
    start_sup(kit, Flags(intensity=5), specs(make_worker, "a"))
    kit.rt.lookup("a").tell("exit")
    kit.until(lambda: ("a", 2) in lives.of("start"))


def test_a_transient_child_is_restarted_after_a_crash_but_not_after_a_normal_exit(
    kit, lives, make_worker
):
    sup = start_sup(kit, Flags(intensity=5), specs(make_worker, "a", restart=Restart.TRANSIENT))
    kit.rt.lookup("a").tell("crash")
    kit.until(lambda: ("a", 2) in lives.of("start"))
    kit.rt.lookup("a").tell("exit")
    kit.until(lambda: ("a", 2) in lives.of("stop"))
    kit.until(lambda: not sup.ask(WhichChildren())[0].is_alive)
    assert sup.ask(WhichChildren())[0].id == "a"  # spec kept without a process
    assert ("a", 3) not in lives.of("start")


def test_a_temporary_child_is_never_restarted_and_its_spec_is_deleted(kit, lives, make_worker):
    sup = start_sup(kit, Flags(intensity=5), specs(make_worker, "a", restart=Restart.TEMPORARY))
    kit.rt.lookup("a").tell("crash")
    kit.until(lambda: sup.ask(WhichChildren()) == ())
    assert lives.of("start") == [("a", 1)]


# --- intensity and escalation ---------------------------------------------------------------


def test_more_than_intensity_restarts_within_the_period_stops_children_and_escalates(
    kit, lives, make_worker, make_watcher
):
    seen: list[ChildExited] = []
    parent = kit.rt.spawn(make_watcher(seen), name="parent")
    start_sup(kit, Flags(intensity=2, period_s=10.0), specs(make_worker, "a", "b"), watcher=parent)
    for expected in (2, 3):
        kit.rt.lookup("a").tell("crash")
        kit.until(lambda e=expected: ("a", e) in lives.of("start"))
        kit.advance(1.0)
    kit.rt.lookup("a").tell("crash")  # third restart within 10 s: too many
    kit.until(lambda: len(seen) == 1)
    assert seen[0].name == "sup"
    assert seen[0].reason == Shutdown(cause="max_restart_intensity")
    assert lives.of("stop") == [("b", 1)]
    assert sorted(kit.rt.names()) == ["parent"]


def test_restarts_spread_beyond_the_period_never_escalate(kit, lives, make_worker):
    sup = start_sup(kit, Flags(intensity=1, period_s=5.0), specs(make_worker, "a"))
    for incarnation in range(2, 6):
        kit.rt.lookup("a").tell("crash")
        kit.until(lambda i=incarnation: ("a", i) in lives.of("start"))
        kit.advance(5.5)
    assert sup.is_alive()
    assert sup.ask(GetStats()).restarts == 4


def test_a_sub_supervisor_that_gives_up_is_restarted_by_a_permanent_parent_and_charged_there(
    kit, lives, make_worker
):
    inner = ChildSpec(
        id="inner",
        start=lambda: Supervisor(Flags(intensity=0), specs(make_worker, "leaf"), watchdog_s=0),
        kind=ChildKind.SUPERVISOR,
    )
    outer = start_sup(kit, Flags(intensity=3, period_s=60.0), (inner,), name="outer")
    kit.rt.lookup("leaf").tell("crash")  # intensity 0: inner gives up at once
    # The restarted inner supervisor is a new instance: its leaf starts afresh at #1.
    kit.until(lambda: lives.of("start").count(("leaf", 1)) == 2)
    stats = outer.ask(GetStats())
    assert stats.restarts == 1
    assert [(c.id, c.incarnation) for c in stats.children] == [("inner", 2)]


def test_a_transient_sub_supervisor_that_gives_up_is_not_restarted(kit, lives, make_worker):
    inner = ChildSpec(
        id="inner",
        start=lambda: Supervisor(Flags(intensity=0), specs(make_worker, "leaf"), watchdog_s=0),
        kind=ChildKind.SUPERVISOR,
        restart=Restart.TRANSIENT,
    )
    outer = start_sup(kit, Flags(intensity=3), (inner,), name="outer")
    kit.rt.lookup("leaf").tell("crash")
    kit.until(lambda: not outer.ask(WhichChildren())[0].is_alive)
    assert lives.of("start") == [("leaf", 1)]
    assert outer.ask(GetStats()).restarts == 0


def test_a_failed_restart_is_retried_and_charged_to_the_intensity(kit, lives, make_worker):
    lives.fail_start[("a", 2)] = True
    sup = start_sup(kit, Flags(intensity=3, period_s=60.0), specs(make_worker, "a"))
    kit.rt.lookup("a").tell("crash")
    kit.until(lambda: sup.ask(GetStats()).crashes == 2)
    kit.advance(0.1)  # a failed restart is retried after a short pause
    kit.until(lambda: ("a", 3) in lives.of("start"))
    stats = sup.ask(GetStats())
    assert stats.restarts == 2
    assert stats.crashes == 2


def test_a_child_that_never_starts_again_exhausts_the_intensity(
    kit, lives, make_worker, make_watcher
):
    for incarnation in range(2, 10):
        lives.fail_start[("a", incarnation)] = True
    seen: list[ChildExited] = []
    parent = kit.rt.spawn(make_watcher(seen), name="parent")
    start_sup(kit, Flags(intensity=3, period_s=60.0), specs(make_worker, "a"), watcher=parent)
    kit.rt.lookup("a").tell("crash")
    for _ in range(200):  # each failed restart is retried after a short pause
        if seen:
            break
        kit.advance(0.1)
        time.sleep(0.005)
    kit.until(lambda: len(seen) == 1)
    assert seen[0].reason == Shutdown(cause="max_restart_intensity")


# --- shutdown -------------------------------------------------------------------------------


def test_auto_shutdown_stops_the_supervisor_when_a_significant_child_ends(
    kit, lives, make_worker, make_watcher
):
    seen: list[ChildExited] = []
    parent = kit.rt.spawn(make_watcher(seen), name="parent")
    children = (
        ChildSpec(id="a", start=make_worker()),
        ChildSpec(id="window", start=make_worker(), restart=Restart.TRANSIENT, significant=True),
    )
    start_sup(kit, Flags(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT), children, watcher=parent)
    kit.rt.lookup("window").tell("exit")
    kit.until(lambda: len(seen) == 1)
    assert seen[0].reason == Shutdown(cause="auto_shutdown")
    assert ("a", 1) in lives.of("stop")


def test_stats_count_starts_restarts_and_crashes_across_the_tree(kit, lives, make_worker):
    inner = ChildSpec(
        id="inner",
        start=lambda: Supervisor(Flags(intensity=5), specs(make_worker, "leaf"), watchdog_s=0),
        kind=ChildKind.SUPERVISOR,
    )
    start_sup(kit, Flags(), (inner, *specs(make_worker, "a")), name="root")
    kit.rt.lookup("leaf").tell("crash")
    kit.until(lambda: ("leaf", 2) in lives.of("start"))
    stats = tree_stats(kit.rt, "root")
    assert (stats.started, stats.restarts, stats.crashes) == (4, 1, 1)


def test_a_crash_is_logged_once_with_its_traceback(kit, lives, make_worker, caplog):
    caplog.set_level(logging.INFO)
    start_sup(kit, Flags(intensity=5), specs(make_worker, "a"))
    kit.rt.lookup("a").tell("crash")
    kit.until(lambda: ("a", 2) in lives.of("start"))
    crash_lines = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "told to crash" in r.getMessage()
    ]
    assert len(crash_lines) == 1
    assert "Traceback" in crash_lines[0].getMessage()
    assert "supervisor sup: child a#1 crashed" in crash_lines[0].getMessage()


# --- dynamic children -----------------------------------------------------------------------


def test_children_can_be_added_terminated_restarted_and_deleted(kit, lives, make_worker):
    sup = start_sup(kit, Flags(intensity=5), ())
    ref = sup.ask(
        StartChild(spec=ChildSpec(id="w", start=make_worker(), restart=Restart.TRANSIENT))
    )
    assert ref.ask("incarnation") == 1
    refused = sup.ask(StartChild(spec=ChildSpec(id="w", start=make_worker())))
    assert isinstance(refused, StartRefused)
    assert "already exists" in refused.reason
    assert sup.ask(TerminateChild(id="w")) is True
    kit.until(lambda: ("w", 1) in lives.of("stop"))
    assert sup.ask(RestartChild(id="w")).ask("incarnation") == 2
    assert sup.ask(DeleteChild(id="w")) is False  # still running
    sup.ask(TerminateChild(id="w"))
    assert sup.ask(DeleteChild(id="w")) is True
    assert sup.ask(WhichChildren()) == ()


def test_a_child_whose_start_fails_is_refused_without_crashing_the_supervisor(
    kit, lives, make_worker
):
    lives.fail_start[("w", 1)] = True
    sup = start_sup(kit, Flags(), ())
    refused = sup.ask(StartChild(spec=ChildSpec(id="w", start=make_worker())))
    assert isinstance(refused, StartRefused)
    assert "refuses to start" in refused.reason
    assert sup.is_alive()
