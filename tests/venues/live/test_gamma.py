"""Gamma discovery by slug, against the local wire-compatible exchange over 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from runtime.clock import ManualClock
from venues.errors import VenueTimeout
from venues.live.gamma import GammaDiscovery, window_slugs
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sim.settings import SimAsset, SimSettings

START = 1_767_225_600.0 + 120  # two minutes into a 15-minute window (aligned to 900 s)
WINDOW = 1_767_225_600


def test_slugs_cover_the_running_window_and_those_starting_within_the_lookahead() -> None:
    assert window_slugs(("BTC", "ETH"), (900,), START, lookahead_s=900) == (
        f"btc-updown-15m-{WINDOW}",
        f"eth-updown-15m-{WINDOW}",
        f"btc-updown-15m-{WINDOW + 900}",
        f"eth-updown-15m-{WINDOW + 900}",
    )
    assert window_slugs(("SOL",), (300, 3600), WINDOW, lookahead_s=0) == (
        f"sol-updown-5m-{WINDOW}",
        f"sol-updown-1h-{WINDOW}",
    )


def _settings(**changes: object) -> SandboxSettings:
    sim = SimSettings(
        assets=(
            SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.5),
            SimAsset(symbol="ETH", start_price=Decimal(3_300), annual_volatility=0.6),
        ),
    )
    return SandboxSettings(sim=sim, start_time=START, **changes)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[SandboxServer]:
    with serve(_settings(hydration_delay_s=60.0), clock=clock) as running:
        yield running


def _discovery(server: SandboxServer, assets: tuple[str, ...] = ("BTC", "ETH")) -> GammaDiscovery:
    return GammaDiscovery(
        f"{server.url}/gamma", assets=assets, timeframes_s=(900,), lookahead_s=900, timeout_s=5
    )


def test_finds_listed_windows_once_and_asks_again_for_unlisted_ones(
    server: SandboxServer, clock: ManualClock
) -> None:
    discovery = _discovery(server)
    first = discovery.poll(clock.now())
    assert sorted(w.slug for w in first.found) == [
        f"btc-updown-15m-{WINDOW}",
        f"eth-updown-15m-{WINDOW}",
    ]
    btc = next(w for w in first.found if w.asset == "BTC")
    assert (btc.start, btc.end, btc.timeframe_s) == (WINDOW, WINDOW + 900, 900)
    assert btc.up_token != btc.down_token
    assert btc.tick_size == Decimal("0.01")
    # The next windows are not listed yet (listing lead 300 s before their start).
    assert sorted(first.pending) == [
        f"btc-updown-15m-{WINDOW + 900}",
        f"eth-updown-15m-{WINDOW + 900}",
    ]
    again = discovery.poll(clock.now())
    assert again.found == ()  # found windows are not reported twice


def test_a_market_listed_before_hydration_is_found_at_a_later_poll(
    server: SandboxServer, clock: ManualClock
) -> None:
    discovery = _discovery(server, ("BTC",))
    discovery.poll(clock.now())
    next_slug = f"btc-updown-15m-{WINDOW + 900}"
    listed_at = WINDOW + 900 - 300
    clock.set(listed_at + 10)  # listed, token ids still empty (hydration takes 60 s)
    server.step()
    assert discovery.poll(clock.now()).pending == (next_slug,)
    clock.set(listed_at + 61)
    server.step()
    found = discovery.poll(clock.now()).found
    assert [w.slug for w in found] == [next_slug]
    assert found[0].up_token
    assert found[0].down_token


def test_an_unreachable_gamma_is_a_retryable_timeout() -> None:
    discovery = GammaDiscovery(
        "http://127.0.0.1:9", assets=("BTC",), timeframes_s=(900,), lookahead_s=0, timeout_s=1
    )
    with pytest.raises(VenueTimeout):
        discovery.poll(START)
