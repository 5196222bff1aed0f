"""The Ray backend hosts a supervised tree: every actor a named Ray actor in the project's
namespace, OTP restarts after an exception, after `ray.kill` and after the process exits, timers
on the runtime's clock in every process, and a shutdown that leaves no Ray process behind.

The session's Ray cluster (tests/conftest.py) serves the module; the shutdown test stops it, after
every other test that uses it."""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from runtime.api import (
    Actor,
    ActorDead,
    AskTimeout,
    ChildExited,
    NameTaken,
    ReplyLost,
    StartFailed,
)
from runtime.clock import SimulatedClock
from supervisors import ChildSpec, Flags, GetStats, Supervisor, WhichChildren
from tests.ray.processes import alive_among, descendants
from tests.waiting import eventually

ray = pytest.importorskip("ray")
pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.usefixtures("ship_by_value"),
]

WINDOW = "window/BTC-15m-2026-11-21T15:45Z"
POSITION = "position/BTC-15m-2026-11-21T15:45Z-up-1"


class Toy(Actor):
    """Counts bumps; crashes, or kills its own process, on request; notes its stop in a file."""

    def __init__(self, stop_log: Path | None = None) -> None:
        self.count = 0
        self.stop_log = stop_log
        self.tick_at: float | None = None
        self.log: list[int] = []

    def receive(self, message: object) -> object:
        match message:
            case "bump":
                self.count += 1
                return None
            case "get":
                return (self.ctx.incarnation, self.count)
            case "crash":
                msg = f"{self.ctx.name} told to crash"
                raise ValueError(msg)
            case "exit":
                os._exit(3)  # the process dies mid-handler: nobody is told
            case ("schedule", float(delay_s)):
                self.ctx.schedule(delay_s, "tick")
                return self.ctx.clock.now()
            case "tick":
                self.tick_at = self.ctx.clock.now()
                return None
            case "tick_at":
                return self.tick_at
            case "now":
                return self.ctx.clock.now()
            case ("sleep", float(seconds)):
                time.sleep(seconds)
                return None
            case ("append", int(n)):
                self.log.append(n)
                return None
            case "log":
                return tuple(self.log)
            case ("append_to_then_crash", str(target), int(n)):
                self.ctx.runtime.lookup(target).tell(("append", n))
                msg = f"{self.ctx.name} crashed after telling {target}"
                raise ValueError(msg)
            case ("relay", str(target), int(n)):
                for i in range(n):
                    self.ctx.runtime.lookup(target).tell(("append", i))
                return self.ctx.runtime.lookup(target).ask("log", 10.0)
            case _:
                return super().receive(message)

    def on_stop(self) -> None:
        if self.stop_log is not None:
            with self.stop_log.open("a") as log:
                log.write(self.ctx.name + "\n")


class Watcher(Actor):
    """Keeps the exit notices it is told."""

    def __init__(self) -> None:
        self.exits: list[str] = []

    def receive(self, message: object) -> object:
        match message:
            case ChildExited(name=name):
                self.exits.append(name)
                return None
            case "exits":
                return tuple(self.exits)
            case _:
                return super().receive(message)


CHILDREN = ("journal", "risk", WINDOW, POSITION)


def toy_tree(watchdog_s: float, stop_log: Path | None = None, prefix: str = "") -> Supervisor:
    toy = partial(Toy, stop_log)
    children = tuple(ChildSpec(id=prefix + name, start=toy) for name in CHILDREN)
    return Supervisor(Flags(intensity=10, period_s=60.0), children, watchdog_s=watchdog_s)


@pytest.fixture(scope="module")
def tree(ray_runtime: Any) -> Any:
    # ship_by_value is function-scoped; this module's code must be registered before the spawn.
    import sys

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return ray_runtime.spawn(partial(toy_tree, 0.3), name="tree")


def restart_counts(tree: Any) -> tuple[int, int]:
    stats = tree.ask(GetStats(), 10.0)
    return stats.restarts, stats.crashes


def test_every_supervised_actor_is_a_named_ray_actor_visible_in_the_state_api(
    ray_runtime: Any, tree: Any
) -> None:
    from ray.util.state import list_actors

    expected = {"tree", "journal", "risk", WINDOW, POSITION}
    assert expected <= set(ray_runtime.names())
    # This process's cluster by address: without one, the state API refuses to choose
    # when another local cluster runs (another test session on the machine).
    cluster = ray.get_runtime_context().gcs_address
    alive = list_actors(cluster, filters=[("state", "=", "ALIVE")], limit=1000)
    listed = {a.name for a in alive if a.ray_namespace == ray_runtime.namespace}
    assert expected <= listed
    # num_cpus=0: our I/O-bound actors must not be capped by the node's two CPUs.
    ours = [a for a in alive if a.name in expected]
    assert all(not (a.required_resources or {}).get("CPU") for a in ours)


def test_each_host_summarises_its_actor_and_each_actor_has_its_own_process(
    ray_runtime: Any, tree: Any
) -> None:
    summaries = {s.name: s for s in ray_runtime.summaries()}
    window = summaries[WINDOW]
    assert (window.actor_type, window.incarnation, window.alive) == ("Toy", 1, True)
    assert summaries["tree"].actor_type == "Supervisor"
    pids = {summaries[n].pid for n in ("tree", "journal", "risk", WINDOW, POSITION)}
    assert len(pids) == 5
    assert os.getpid() not in pids
    before = window.messages
    ray_runtime.address(WINDOW).ask("get", 10.0)
    assert ray_runtime.lookup(WINDOW).summary().messages == before + 1


def test_an_exception_in_a_handler_is_a_crash_and_the_supervisor_restarts_only_that_actor(
    ray_runtime: Any, tree: Any
) -> None:
    window, risk = ray_runtime.address(WINDOW), ray_runtime.address("risk")
    risk.tell("bump")
    assert risk.ask("get", 10.0) == (1, 1)
    restarts, crashes = restart_counts(tree)

    with pytest.raises(ValueError, match="told to crash"):
        window.ask("crash", 10.0)

    def restarted() -> None:
        assert window.ask("get", 10.0) == (2, 0)  # new incarnation, state rebuilt from nothing

    eventually(restarted)
    assert risk.ask("get", 10.0) == (1, 1)  # one_for_one: the sibling kept its state
    assert restart_counts(tree) == (restarts + 1, crashes + 1)


def test_a_crashing_handlers_tells_and_its_exit_notice_arrive_though_they_are_its_first_calls(
    ray_runtime: Any,
) -> None:
    """As in Erlang, what was sent before a crash is delivered: a journal append or an order told
    just before an exception must not vanish with the process, nor the notice that gets it
    restarted (with no watchdog behind it, a lost notice means no restart). A first call waits
    for Ray to look up the callee. Before the host waited for its last calls to leave, this
    lost 6 and 2 of the 40 tells in two runs, and 2, 2 and 1 of 40 notices in three."""
    watcher = ray_runtime.spawn(Watcher, name="toy/watcher")
    sink = ray_runtime.spawn(Toy, name="toy/told")
    tellers = [f"toy/teller-{n}" for n in range(40)]
    try:
        for n, name in enumerate(tellers):
            teller = ray_runtime.spawn(Toy, name=name, watcher=watcher)
            teller.tell(("append_to_then_crash", "toy/told", n))

        def all_arrived() -> None:
            assert sorted(sink.ask("log", 10.0)) == list(range(40))
            assert sorted(watcher.ask("exits", 10.0)) == sorted(tellers)

        eventually(all_arrived, timeout_s=60.0)
    finally:
        sink.stop()
        watcher.stop()


def test_a_ray_kill_without_no_restart_is_found_by_the_watchdog_and_restarted_by_us(
    ray_runtime: Any, tree: Any
) -> None:
    position = ray_runtime.address(POSITION)
    position.tell("bump")
    incarnation, _ = position.ask("get", 10.0)
    restarts, crashes = restart_counts(tree)

    # Ray would restart it itself if max_restarts allowed; it is 0, so our supervisor must.
    ray.kill(ray.get_actor(POSITION, namespace=ray_runtime.namespace), no_restart=False)

    def restarted() -> None:
        assert position.ask("get", 10.0) == (incarnation + 1, 0)

    eventually(restarted)
    assert restart_counts(tree) == (restarts + 1, crashes + 1)
    children = {c.id: (c.incarnation, c.is_alive) for c in tree.ask(WhichChildren(), 10.0)}
    assert children[POSITION] == (incarnation + 1, True)


def test_a_process_that_exits_inside_a_handler_is_counted_as_a_crash_and_restarted(
    ray_runtime: Any, tree: Any
) -> None:
    journal = ray_runtime.address("journal")
    incarnation, _ = journal.ask("get", 10.0)
    old_pid = ray_runtime.lookup("journal").summary().pid
    restarts, crashes = restart_counts(tree)

    with pytest.raises(ActorDead):
        journal.ask("exit", 10.0)

    def restarted() -> None:
        assert journal.ask("get", 10.0) == (incarnation + 1, 0)

    eventually(restarted)
    assert ray_runtime.lookup("journal").summary().pid != old_pid
    assert restart_counts(tree) == (restarts + 1, crashes + 1)


def test_an_ask_whose_target_becomes_unavailable_mid_call_has_an_unknown_outcome(
    ray_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ray.exceptions import ActorUnavailableError

    ref = ray_runtime.lookup("risk")
    ref.handle()

    def unavailable(*args: object, **kwargs: object) -> object:
        raise ActorUnavailableError("connection lost", None)

    monkeypatch.setattr(ray, "get", unavailable)  # the backend's ray is this same module
    with pytest.raises(ReplyLost, match="outcome unknown") as raised:
        ref.ask("bump", 1.0)
    # Callers that already treat a timeout as "outcome unknown, reconcile" handle it unchanged.
    assert isinstance(raised.value, AskTimeout)


def test_a_name_held_by_a_live_actor_is_taken_but_one_not_released_in_time_is_a_failed_start(
    ray_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow is not taken: a supervisor retries a failed start later (charged to its intensity),
    while NameTaken would crash it, and a restart on a loaded machine waits for the old holder."""
    import runtime.ray_backend

    holder = ray_runtime.spawn(Toy, name="toy/held")
    try:
        with pytest.raises(NameTaken, match="'toy/held' is held by a live actor"):
            ray_runtime.spawn(Toy, name="toy/held", incarnation=2)

        holder.tell(("sleep", 6.0))  # busy past the ping timeout: live or dying, nobody knows
        monkeypatch.setattr(runtime.ray_backend, "NAME_RELEASE_TIMEOUT_S", 0.5)
        with pytest.raises(StartFailed, match=r"'toy/held' was not released within 0\.5s") as e:
            ray_runtime.spawn(Toy, name="toy/held", incarnation=2)
        assert "its holder is unknown" in e.value.reason.error
    finally:
        holder.stop(10.0)


def test_tells_from_a_handler_arrive_in_order_and_before_its_later_ask(ray_runtime: Any) -> None:
    relay = ray_runtime.spawn(Toy, name="toy/relay")
    sink = ray_runtime.spawn(Toy, name="toy/sink")
    try:
        # The 500 tells leave as one batch; the ask must not overtake them.
        assert relay.ask(("relay", "toy/sink", 500), 30.0) == tuple(range(500))
        assert sink.summary().messages == 501
    finally:
        relay.stop()
        sink.stop()


def test_is_alive_is_true_for_a_live_actor_and_false_once_its_process_is_gone(
    ray_runtime: Any,
) -> None:
    ref = ray_runtime.spawn(Toy, name="toy/alive")
    assert ref.is_alive()
    assert ref.is_alive()  # the second check reads the first one's ping
    ray.kill(ray.get_actor("toy/alive", namespace=ray_runtime.namespace), no_restart=True)

    def dead() -> None:
        assert not ref.is_alive()

    eventually(dead, timeout_s=10.0)


def test_timers_follow_a_simulated_clock_shared_by_every_process(ray_runtime: Any) -> None:
    from runtime.ray_backend import RayRuntime

    clock = SimulatedClock(start=1_800_000_000.0, speed=100.0)
    sim = RayRuntime(clock, namespace=ray_runtime.namespace + "-sim", connect=False)
    ref = sim.spawn(Toy, name="toy/sim-clock")
    try:
        # Each process reads the same simulated time: time.monotonic is one clock per machine.
        before = clock.now()
        assert before <= ref.ask("now", 10.0) <= clock.now()
        asked_at = ref.ask(("schedule", 60.0), 10.0)
        started = time.monotonic()

        def ticked() -> float:
            tick_at = ref.ask("tick_at", 10.0)
            assert tick_at is not None
            return float(tick_at)

        tick_at = eventually(ticked, timeout_s=30.0)
        assert time.monotonic() - started < 30.0  # 60 simulated seconds at 100x, not 60 real
        assert tick_at - asked_at >= 60.0
    finally:
        sim.shutdown()


@pytest.mark.stops_ray
def test_shutdown_stops_actors_in_reverse_start_order_and_leaves_no_ray_process(
    shared_ray: Any, tmp_path: Path
) -> None:
    from runtime.clock import RealClock
    from runtime.ray_backend import RayRuntime

    shared_ray.ensure()
    # As run.py does: whoever started Ray in this process owns it (connect=True), and its
    # shutdown stops Ray too.
    runtime = RayRuntime(RealClock(), namespace="polyactor-test-shutdown")
    stop_log = tmp_path / "stops.txt"
    runtime.spawn(partial(Toy, stop_log), name="first")
    runtime.spawn(partial(toy_tree, 0.3, stop_log, "logged/"), name="logged")
    ours = descendants(os.getpid())
    assert ours, "a local Ray cluster runs in child processes of the driver"

    runtime.shutdown(timeout_s=10.0)

    # The last actor spawned stops first, and a supervisor stops its children last to first.
    expected = [*(f"logged/{name}" for name in CHILDREN[::-1]), "first"]
    assert stop_log.read_text().split() == expected

    def all_gone() -> None:
        assert alive_among(ours) == set()

    eventually(all_gone, timeout_s=20.0)
    assert not ray.is_initialized()
