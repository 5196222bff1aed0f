"""The runtime seam is backend-neutral: the same toy actors and the same one_for_one
supervisor that run on pykka run under Ray, each actor a named Ray actor (its own process)."""

from __future__ import annotations

import sys

import pytest

from runtime.api import Actor
from runtime.clock import RealClock
from supervisors import ChildSpec, Flags, GetStats, Supervisor, WhichChildren
from tests.waiting import eventually

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(180)]


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

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
            case _:
                return super().receive(message)


def make_supervisor() -> Supervisor:
    children = (ChildSpec(id="toy/a", start=Counter), ChildSpec(id="toy/b", start=Counter))
    return Supervisor(Flags(intensity=3, period_s=30.0), children, watchdog_s=0)


@pytest.fixture(scope="module")
def ray_runtime(shared_ray):
    from runtime.ray_backend import RayRuntime

    # Test modules are not importable in Ray workers; ship this one's code by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    shared_ray.ensure()
    # On the session's cluster (tests/conftest.py): shutdown stops this module's actors only.
    runtime = RayRuntime(RealClock(), namespace="polyactor-test-seam", connect=False)
    yield runtime
    runtime.shutdown(timeout_s=10.0)


def test_a_one_for_one_supervisor_restarts_a_crashed_ray_actor_and_spares_its_sibling(
    ray_runtime,
):
    sup = ray_runtime.spawn(make_supervisor, name="toy/sup")
    a, b = ray_runtime.address("toy/a"), ray_runtime.address("toy/b")
    for _ in range(3):
        a.tell("bump")
        b.tell("bump")
    assert a.ask("get", 10.0) == (1, 3)
    assert b.ask("get", 10.0) == (1, 3)

    b.tell("crash")

    def restarted() -> None:
        assert b.ask("get", 10.0) == (2, 0)  # a new incarnation, state rebuilt from nothing

    eventually(restarted)
    assert a.ask("get", 10.0) == (1, 3)  # one_for_one: the sibling kept its state
    stats = sup.ask(GetStats(), 10.0)
    assert (stats.restarts, stats.crashes) == (1, 1)
    assert [(c.id, c.incarnation, c.is_alive) for c in sup.ask(WhichChildren(), 10.0)] == [
        ("toy/a", 1, True),
        ("toy/b", 2, True),
    ]
    names = {actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)}
    assert {"toy/sup", "toy/a", "toy/b"} <= names
