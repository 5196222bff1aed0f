"""Live mode's exchange: Polymarket's CLOB client, websocket feeds and Gamma, assembled for the
tree (the `Exchange` that paper mode fills with the simulator and the paper exchange).

`connect_live` does network I/O (it derives API credentials and reads the venue's clock and
balance), so `run.py` calls it once, before the tree starts; the tree's actors then share the
one `LiveVenue`, as they share the one paper exchange, because the venue outlives a crashed
gateway. `LiveConnection.close()` stops what it opened (heartbeat, recorder) at shutdown.

Every websocket feeds an actor: its callback is a tell into the actor that opened it (the
live market actor: market channel and price stream; the venue gateway: user channel). An actor
closes its feeds in `on_stop`/`on_crash`, which the runtime runs after the actor stopped taking
messages, so a frame can land in between, at every shutdown: `_into_actor` drops it on purpose
(logged at debug) instead of letting the feed's thread die of the dead actor with an ERROR and
a traceback. Nothing is lost: a restarted actor opens new feeds and resynchronises (books from
the venue's snapshots, orders from the venue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TypeVar

from actors.live_market import LiveMarketActor, LiveSources, MarketSource
from config.secrets import Secrets
from config.settings import Settings
from runtime.api import ActorDead
from runtime.clock import Clock, RealClock, SimulatedClock
from supervisors.tree import Exchange
from venues.live.clob import LiveVenue
from venues.live.gamma import GammaDiscovery
from venues.live.recorder import FrameRecorder
from venues.live.streams import (
    PriceStream,
    UserChannelAuth,
    market_stream_factory,
    price_stream_factory,
    recorder_from,
    user_stream_factory,
)
from venues.live.wire import Identity
from venues.port import Unsubscribe, UserCallback
from venues.types import MarketEvent, MarketWindow, SpotPrice

__all__ = ["LiveConnection", "connect_live"]

_log = logging.getLogger(__name__)

CREDENTIALS_FILE = "clob_credentials.json"

E = TypeVar("E")


def _into_actor(callback: Callable[[E], None], feed: str) -> Callable[[E], None]:
    """`callback`, a tell into the actor a feed serves, with what arrives after that actor
    stopped dropped on purpose (see the module docstring)."""

    def deliver(event: E) -> None:
        try:
            callback(event)
        except ActorDead:
            _log.debug("feed %s: %s dropped, its actor has stopped", feed, type(event).__name__)

    return deliver


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveConnection:
    """The connected venue, the clock the bot runs on, and what the tree trades on."""

    venue: LiveVenue
    clock: Clock
    recorder: FrameRecorder | None

    def exchange(self, settings: Settings, starting_collateral: Decimal) -> Exchange:
        wall = RealClock()
        live = settings.live
        discovery = live.discovery
        venue = self.venue

        def open_market(callback: Callable[[MarketEvent], None]) -> MarketSource:
            stream = market_stream_factory(live, clock=wall, recorder=self.recorder)
            stream(_into_actor(callback, "market"))
            return stream

        def open_spots(callback: Callable[[SpotPrice], None]) -> PriceStream:
            stream = price_stream_factory(
                live, discovery.assets, clock=wall, recorder=self.recorder
            )
            stream(_into_actor(callback, "rtds"))
            return stream

        def prepare(window: MarketWindow, version: str) -> None:
            venue.prepare_market(window.condition_id, version)

        sources = LiveSources(
            discovery=partial(
                GammaDiscovery,
                live.gamma_host,
                assets=discovery.assets,
                timeframes_s=discovery.timeframes_s,
                lookahead_s=discovery.lookahead_s,
                timeout_s=live.request_timeout_s,
            ),
            open_market=open_market,
            open_spots=open_spots,
            poll_interval_s=discovery.interval_s,
            resolution_check_after_s=discovery.resolution_check_after_s,
            prepare_market=prepare,
            on_tick_size=venue.on_tick_size_change,
        )
        return Exchange(
            market=partial(LiveMarketActor, sources),
            venue=lambda _clock: venue,
            starting_collateral=starting_collateral,
            assets=discovery.assets,
            timeframes_s=discovery.timeframes_s,
        )

    def close(self) -> None:
        self.venue.close()
        if self.recorder is not None:
            self.recorder.close()


def connect_live(
    settings: Settings, secrets: Secrets, *, record_path: Path | None = None
) -> LiveConnection:
    """Connect to the venue of `settings.live` with `secrets`: credentials derived (and cached
    owner-only in the data directory), the heartbeat started. The bot's clock is the venue's:
    real time on Polymarket; on a local sandbox running faster (`speed` > 1) a simulated clock
    started at the sandbox's time, so both agree on when windows open and close."""
    wall = RealClock()
    recorder = recorder_from(settings.live, wall, record_path)

    def user_stream(
        auth: UserChannelAuth, identity: Identity
    ) -> Callable[[UserCallback], Unsubscribe]:
        stream = user_stream_factory(settings.live, auth, identity, clock=wall, recorder=recorder)
        return lambda callback: stream(_into_actor(callback, "user"))

    venue = LiveVenue(
        settings.live,
        secrets,
        wall,  # its rate limit is the venue's, in real seconds whatever the bot's speed
        credentials_file=Path(settings.data_dir) / CREDENTIALS_FILE,
        user_stream=user_stream,
    )
    clock: Clock = (
        wall
        if settings.speed == 1.0
        else SimulatedClock(start=venue.server_time(), speed=settings.speed)
    )
    return LiveConnection(venue=venue, clock=clock, recorder=recorder)
