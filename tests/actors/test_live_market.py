"""LiveMarketActor against the sandbox, with the real Gamma client and websocket streams: it
lists windows, publishes books before their changes, spots, the open's books and resolutions,
and a subscriber that subscribes again gets a catch-up."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import pytest

from actors.live_market import GetLiveMarketStats, LiveMarketActor, LiveSources
from actors.subscriptions import Subscribe
from config.settings import LiveSettings
from runtime.api import Actor
from runtime.clock import RealClock, SimulatedClock
from runtime.pykka_backend import PykkaRuntime
from venues.live.gamma import GammaDiscovery
from venues.live.streams import market_stream_factory, price_stream_factory
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sim.settings import SimAsset, SimSettings
from venues.types import (
    BookSnapshot,
    MarketResolved,
    MarketWindow,
    PriceChange,
    SpotPrice,
    TokenId,
    WindowListed,
)

SPEED = 120.0
START = 1_767_225_600.0 + 240  # one minute before a 5-minute window ends


@dataclass(frozen=True, slots=True)
class GetRecorded:
    pass


class Recorder(Actor):
    def __init__(self) -> None:
        self.events: list[object] = []

    def receive(self, message: object) -> object:
        if isinstance(message, GetRecorded):
            return tuple(self.events)
        self.events.append(message)
        return None


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    sim = SimSettings(
        assets=(SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.5),),
        timeframes_s=(300,),
        listing_lead_s=60,
        resolution_delay_s=5,
    )
    settings = SandboxSettings(sim=sim, start_time=START, speed=SPEED, tick_interval_s=0.02)
    with serve(settings) as running:
        yield running


def _sources(
    server: SandboxServer,
    prepared: list[str],
    *,
    gamma_url: str | None = None,
    gamma_timeout_s: float = 5.0,
) -> LiveSources:
    live = LiveSettings(
        ws_market_url=f"{server.ws_url}market",
        rtds_url=server.rtds_url,
        ws_silent_timeout_s=5,
    )
    wall = RealClock()

    def open_market(callback):  # type: ignore[no-untyped-def]
        stream = market_stream_factory(live, clock=wall)
        stream(callback)
        return stream

    def open_spots(callback):  # type: ignore[no-untyped-def]
        stream = price_stream_factory(live, ("BTC",), clock=wall)
        stream(callback)
        return stream

    return LiveSources(
        discovery=partial(
            GammaDiscovery,
            gamma_url or f"{server.url}/gamma",
            assets=("BTC",),
            timeframes_s=(300,),
            lookahead_s=300,
            timeout_s=gamma_timeout_s,
        ),
        open_market=open_market,
        open_spots=open_spots,
        poll_interval_s=10,  # simulated seconds: about every 0.1 s of the test
        resolution_check_after_s=600,  # the channel's market_resolved is what is tested
        prepare_market=lambda window, version: prepared.append(window.slug),
        on_tick_size=lambda token, tick: None,
    )


def _wait(feed, condition, timeout_s: float = 20.0) -> list[object]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    events: list[object] = []
    while time.monotonic() < deadline:
        events = list(feed.ask(GetRecorded()))
        if condition(events):
            return events
        time.sleep(0.05)
    return events


def _resolved_and_next_open(events: list[object]) -> bool:
    resolved = any(isinstance(e, MarketResolved) for e in events)
    listed = [e.window for e in events if isinstance(e, WindowListed)]
    return resolved and any(_open_books(events, w) for w in listed if w.start > START)


def _open_books(events: list[object], window: MarketWindow) -> list[BookSnapshot]:
    return [
        e
        for e in events
        if isinstance(e, BookSnapshot)
        and e.token_id in window.tokens
        and e.timestamp >= window.start
    ]


@pytest.mark.timeout(60)
def test_publishes_listings_books_spots_opens_and_resolutions(server: SandboxServer) -> None:
    prepared: list[str] = []
    runtime = PykkaRuntime(SimulatedClock(start=START, speed=SPEED))
    try:
        feed = runtime.spawn(Recorder, name="feed")
        market = runtime.spawn(
            lambda: LiveMarketActor(
                _sources(server, prepared), subscribers=(Subscribe(name="feed"),)
            ),
            name="market",
        )
        events = _wait(feed, _resolved_and_next_open)
        stats = market.ask(GetLiveMarketStats())
    finally:
        runtime.shutdown()

    listed = [e.window for e in events if isinstance(e, WindowListed)]
    assert listed, "no window listed"
    assert sorted(prepared) == sorted({w.slug for w in listed})  # each readied for orders once
    first = listed[0]
    resolved = [e for e in events if isinstance(e, MarketResolved)]
    assert [r.condition_id for r in resolved] == [first.condition_id]
    # Books come before their level changes, for every token.
    seen_book: set[TokenId] = set()
    for event in events:
        if isinstance(event, BookSnapshot):
            seen_book.add(event.token_id)
        elif isinstance(event, PriceChange):
            assert {c.token_id for c in event.changes} <= seen_book
    assert any(isinstance(e, SpotPrice) and e.asset == "BTC" for e in events)
    nxt = next(w for w in listed if w.start > START)
    assert len(_open_books(events, nxt)) >= 2  # both tokens' books, stamped at the open
    assert stats.polls > 0
    assert stats.poll_failures == 0


@pytest.mark.timeout(60)
def test_a_subscriber_that_subscribes_again_gets_windows_books_and_spots(
    server: SandboxServer,
) -> None:
    runtime = PykkaRuntime(SimulatedClock(start=START, speed=SPEED))
    try:
        first = runtime.spawn(Recorder, name="feed")
        market = runtime.spawn(
            lambda: LiveMarketActor(_sources(server, []), subscribers=(Subscribe(name="feed"),)),
            name="market",
        )
        _wait(
            first,
            lambda ev: (
                any(isinstance(e, SpotPrice) for e in ev)
                and any(isinstance(e, BookSnapshot) for e in ev)
            ),
        )
        late = runtime.spawn(Recorder, name="late")
        market.tell(Subscribe(name="late"))
        catch_up = _wait(
            late,
            lambda ev: (
                any(isinstance(e, WindowListed) for e in ev)
                and any(isinstance(e, BookSnapshot) for e in ev)
                and any(isinstance(e, SpotPrice) for e in ev)
            ),
        )
    finally:
        runtime.shutdown()
    assert any(isinstance(e, WindowListed) for e in catch_up)
    assert any(isinstance(e, BookSnapshot) for e in catch_up)
    assert any(isinstance(e, SpotPrice) for e in catch_up)


@contextmanager
def _silent_gamma() -> Iterator[str]:
    """A Gamma on 127.0.0.1 that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        host, port = listener.getsockname()
        yield f"http://{host}:{port}"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_actor_answers_and_publishes_while_a_gamma_poll_hangs(server: SandboxServer) -> None:
    hang_s = 4.0  # real seconds, each Gamma request's timeout
    runtime = PykkaRuntime(SimulatedClock(start=START, speed=SPEED))
    try:
        with _silent_gamma() as gamma:
            feed = runtime.spawn(Recorder, name="feed")
            market = runtime.spawn(
                lambda: LiveMarketActor(
                    _sources(server, [], gamma_url=gamma, gamma_timeout_s=hang_s),
                    subscribers=(Subscribe(name="feed"),),
                ),
                name="market",
            )
            deadline = time.monotonic() + 5
            while not market.ask(GetLiveMarketStats(), timeout_s=2).is_polling:
                assert time.monotonic() < deadline, "no poll started"
                time.sleep(0.02)
            # The poll hangs on Gamma; the actor still answers at once and still publishes
            # the price stream's spots.
            spots_before = sum(isinstance(e, SpotPrice) for e in feed.ask(GetRecorded()))
            started = time.monotonic()
            while time.monotonic() - started < hang_s / 2:
                asked_at = time.monotonic()
                stats = market.ask(GetLiveMarketStats(), timeout_s=2)
                assert time.monotonic() - asked_at < 0.5
                assert stats.is_polling
                time.sleep(0.1)
            spots = _wait(
                feed,
                lambda ev: sum(isinstance(e, SpotPrice) for e in ev) > spots_before + 2,
                timeout_s=hang_s / 2,
            )
            assert sum(isinstance(e, SpotPrice) for e in spots) > spots_before + 2
            # The request times out: a failed poll, counted, and the next one is scheduled.
            deadline = time.monotonic() + hang_s * 3
            while market.ask(GetLiveMarketStats(), timeout_s=2).poll_failures == 0:
                assert time.monotonic() < deadline, "the hanging poll never failed"
                time.sleep(0.1)
            after = market.ask(GetLiveMarketStats(), timeout_s=2)
    finally:
        runtime.shutdown()
    assert after.poll_failures >= 1
    assert after.windows == 0
