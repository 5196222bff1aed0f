"""A sandbox exchange on 127.0.0.1, a LiveVenue on the REAL py-clob-client-v2 against it, and
fast socket settings for the websocket feed tests.

The sandbox market runs on a ManualClock that only the tests advance, so its book holds still
while a test trades against it; the venue's own clock (its rate limit) is another ManualClock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from pydantic import SecretStr

from config.secrets import Secrets
from config.settings import LiveSettings
from runtime.clock import ManualClock
from venues.live.clob import LiveVenue
from venues.live.socket import SocketSettings
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sim.settings import SimAsset, SimSettings
from venues.types import MarketWindow

START = 1_767_225_600.0 + 120  # two minutes into a 15-minute window

VenueFactory = Callable[..., LiveVenue]


def sandbox_settings(**changes: Any) -> SandboxSettings:
    sim = SimSettings(
        assets=(SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.5),),
    )
    return SandboxSettings(sim=sim, start_time=START, **changes)


def window_of(server: SandboxServer) -> MarketWindow:
    windows = server.call(lambda state: list(state.windows.values()))
    assert windows, "the market listed no window at start"
    return min(windows, key=lambda w: w.end)


@pytest.fixture
def sandbox_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def server(sandbox_clock: ManualClock) -> Iterator[SandboxServer]:
    with serve(sandbox_settings(page_size=2), clock=sandbox_clock) as running:
        yield running


@pytest.fixture
def private_key() -> str:
    return str(Account.create().key.hex())


@pytest.fixture
def make_venue(tmp_path: Path, private_key: str) -> Iterator[Callable[..., LiveVenue]]:
    """`make_venue(server, **live_settings)`: a LiveVenue closed at the end of the test."""
    built: list[LiveVenue] = []

    def make(server: SandboxServer, *, heartbeat: bool = False, **changes: Any) -> LiveVenue:
        settings = LiveSettings(clob_host=server.url, **{"request_timeout_s": 3.0, **changes})
        venue = LiveVenue(
            settings,
            Secrets(private_key=SecretStr(private_key)),
            ManualClock(START),
            credentials_file=tmp_path / "clob_credentials.json",
            heartbeat=heartbeat,
        )
        built.append(venue)
        return venue

    yield make
    for venue in built:
        venue.close()


@pytest.fixture
def venue(server: SandboxServer, make_venue: Callable[..., LiveVenue]) -> LiveVenue:
    return make_venue(server)


FAST = SocketSettings(
    ping_interval_s=0.2,
    silent_timeout_s=1.0,
    backoff_base_s=0.05,
    backoff_cap_s=0.2,
    connect_timeout_s=2.0,
)
"""Keepalive, silence and backoff short enough for tests that finish in seconds."""


def moving_sandbox_settings(*symbols: str, speed: float = 30.0) -> SandboxSettings:
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
    with serve(moving_sandbox_settings()) as running:
        yield running


def first_window(server: SandboxServer) -> MarketWindow:
    windows = server.call(lambda state: list(state.windows.values()))
    assert windows, "the market listed no window at start"
    # The longest timeframe: at 30x a test's seconds are minutes, and its book must not resolve.
    return max(windows, key=lambda w: (w.end - w.start, -w.start))
