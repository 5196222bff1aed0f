"""A Ray runtime per test module on the session's shared cluster (tests/conftest.py), and
shipping test code to the Ray workers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray")

NAMESPACE = "polyactor-test-ray"


@pytest.fixture(scope="module")
def ray_runtime(shared_ray: Any) -> Iterator[object]:
    from runtime.clock import RealClock
    from runtime.ray_backend import RayRuntime

    shared_ray.ensure()
    # connect=False: the cluster is the session's; shutdown stops this module's actors only.
    runtime = RayRuntime(RealClock(), namespace=NAMESPACE, connect=False)
    yield runtime
    runtime.shutdown(timeout_s=10.0)


@pytest.fixture
def ship_by_value(request: pytest.FixtureRequest) -> None:
    """Test modules are not importable in Ray workers; ship the requesting one's code by value."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
