"""Shared set-up of the live feed tests: a local exchange whose market moves on its own, fast
socket settings, and a bounded wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from venues.live.socket import SocketSettings
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sim.settings import SimAsset, SimSettings
from venues.types import MarketWindow

START = 1_767_225_600.0 + 120  # two minutes into a 15-minute window

FAST = SocketSettings(
    ping_interval_s=0.2,
    silent_timeout_s=1.0,
    backoff_base_s=0.05,
    backoff_cap_s=0.2,
    connect_timeout_s=2.0,
)
"""Keepalive, silence and backoff short enough for tests that finish in seconds."""


def sandbox_settings(*symbols: str, speed: float = 30.0) -> SandboxSettings:
    sim = SimSettings(
        assets=tuple(
            SimAsset(symbol=symbol, start_price=Decimal(95_000), annual_volatility=0.5)
            for symbol in symbols or ("BTC",)
        ),
    )
    return SandboxSettings(sim=sim, start_time=START, speed=speed, tick_interval_s=0.02)


@pytest.fixture
def moving_server() -> Iterator[SandboxServer]:
    """A sandbox whose simulated market runs 30x faster than real time: books move by
    themselves, several times a second."""
    with serve(sandbox_settings()) as running:
        yield running


def first_window(server: SandboxServer) -> MarketWindow:
    windows = server.call(lambda state: list(state.windows.values()))
    assert windows, "the market listed no window at start"
    # The longest timeframe: at 30x a test's seconds are minutes, and its book must not resolve.
    return max(windows, key=lambda w: (w.end - w.start, -w.start))


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
