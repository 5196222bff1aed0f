"""One local Ray cluster per test module (`ray.init` costs 5-20 s on a busy 2-core machine), and
shipping test code to the Ray workers."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray")

NAMESPACE = "polyactor-test-ray"


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[object]:
    from runtime.clock import RealClock
    from runtime.ray_backend import RayRuntime

    runtime = RayRuntime(RealClock(), namespace=NAMESPACE, include_dashboard=True)
    yield runtime
    runtime.shutdown(timeout_s=10.0)


@pytest.fixture
def ship_by_value(request: pytest.FixtureRequest) -> None:
    """Test modules are not importable in Ray workers; ship the requesting one's code by value."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
