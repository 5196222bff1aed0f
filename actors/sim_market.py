"""The simulated market actor: runs `SimMarket` on the runtime clock and publishes its events.

A thin shell: every `step_s` of the runtime's clock it asks the pure `SimMarket` what happened
up to now and tells each event, in order, to every subscriber. The clock decides the pace:
real time, N x accelerated, or as fast as the deterministic runtime advances it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from runtime.api import Actor, ActorDead, Timer, UnhandledMessage
from venues.sim.market import SimEvent, SimMarket, SimMarketStats
from venues.types import SpotPrice

if TYPE_CHECKING:
    from venues.sim.settings import SimSettings

__all__ = [
    "ALL_FEEDS",
    "Feed",
    "GetMarketStats",
    "SimMarketActor",
    "SimMarketActorStats",
    "SimMarketCommand",
    "Subscribe",
    "Tick",
    "Unsubscribe",
]

log = logging.getLogger(__name__)


# --- messages ------------------------------------------------------------------------------


class Feed(StrEnum):
    """What a subscriber wants: the market channel, the reference prices, or both."""

    MARKET = "market"  # venues.types.MarketEvent: listings, books, trades, ticks, resolutions
    SPOT = "spot"  # venues.types.SpotPrice


ALL_FEEDS = frozenset(Feed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """Tell: publish the events of `feeds` to the actor named `name`, starting with a catch-up
    of the current state (spots, unresolved windows, their books). Subscribing again replaces
    the feeds and resends the catch-up, which is what a restarted subscriber needs."""

    name: str
    feeds: frozenset[Feed] = ALL_FEEDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    """Tell: stop publishing to `name`."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMarketStats:
    """Ask: reply with `SimMarketActorStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """The step timer's message: run the market up to the clock's now and publish."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimMarketActorStats:
    """The market's own counters plus this incarnation's delivery counters."""

    market: SimMarketStats
    subscribers: tuple[str, ...]
    deliveries: int  # events told, counted once per subscriber
    undelivered_to_dead: int  # events skipped because their subscriber was not alive
    dead_subscribers: tuple[str, ...]  # subscribers found dead at their last delivery


SimMarketCommand: TypeAlias = Subscribe | Unsubscribe | GetMarketStats | Tick


# --- the actor -----------------------------------------------------------------------------


class SimMarketActor(Actor):
    """Publishes the simulated market's events (`MarketEvent`s and `SpotPrice`s) to subscribers.

    Accepts:
        Subscribe(name, feeds): tell. A catch-up now, then every event of those feeds. Names
            are resolved at each delivery, so a subscriber's restarts are survived; one that is
            not alive is skipped and counted, and when seen alive again first gets a catch-up.
        Unsubscribe(name): tell.
        GetMarketStats(): ask -> `SimMarketActorStats`.
        Tick(): the actor's own timer, every `settings.step_s` of the runtime clock.

    Emits, to each subscriber in order: `WindowListed`, `BookSnapshot`, `PriceChange`,
    `LastTrade`, `TickSizeChange`, `MarketResolved` and `SpotPrice` (see `venues.sim.market`).

    A crash loses the subscriptions made by message (those given to the constructor come back)
    and, unless `start_time` was given, the market's path: the new incarnation starts a fresh
    market at the current time. With `start_time`, it replays the same seeded market silently
    from `start_time` up to now, so its windows, prices and books continue where they were, and
    sends its subscribers a catch-up.
    """

    def __init__(
        self,
        settings: SimSettings,
        *,
        subscribers: tuple[Subscribe, ...] = (),
        start_time: float | None = None,
    ) -> None:
        self._settings = settings
        self._start_time = start_time
        self._subscribers = {s.name: s.feeds for s in subscribers}
        self._dead: set[str] = set()
        self._market: SimMarket | None = None
        self._timer: Timer | None = None
        self._deliveries = 0
        self._undelivered = 0

    def on_start(self) -> None:
        now = self.ctx.clock.now()
        start = now if self._start_time is None else self._start_time
        self._market = SimMarket(self._settings, start)
        if self.ctx.incarnation > 1 and start < now:
            # Restarted: replay the same seeded path silently up to now, then tell subscribers
            # where it stands. (A first incarnation publishes everything from `start` instead.)
            self._market.skip_to(now)
            catch_up = self._market.snapshot_events()
            for name, feeds in self._subscribers.items():
                self._deliver(name, _only(feeds, catch_up))
        self._schedule_tick()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def receive(self, message: object) -> object:
        match message:
            case Tick():
                self._on_tick()
                return None
            case Subscribe(name=name, feeds=feeds):
                self._subscribers[name] = feeds
                self._dead.discard(name)
                self._deliver(name, _only(feeds, self._open_market().snapshot_events()))
                return None
            case Unsubscribe(name=name):
                self._subscribers.pop(name, None)
                self._dead.discard(name)
                return None
            case GetMarketStats():
                return SimMarketActorStats(
                    market=self._open_market().stats,
                    subscribers=tuple(self._subscribers),
                    deliveries=self._deliveries,
                    undelivered_to_dead=self._undelivered,
                    dead_subscribers=tuple(sorted(self._dead)),
                )
            case _:
                msg = f"sim market {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    def _on_tick(self) -> None:
        market = self._open_market()
        # A subscriber that was dead and is back (restarted) lost its copy of the market: give
        # it the state as of before this tick, then this tick's events on top.
        for name in [n for n in self._subscribers if n in self._dead and self._is_alive(n)]:
            self._dead.discard(name)
            log.info(
                "sim market %s: subscriber %s is back; sending a catch-up", self.ctx.name, name
            )
            self._deliver(name, _only(self._subscribers[name], market.snapshot_events()))
        events = market.advance(self.ctx.clock.now())
        if events:
            selections: dict[frozenset[Feed], list[SimEvent]] = {ALL_FEEDS: events}
            for name, feeds in self._subscribers.items():
                selected = selections.get(feeds)
                if selected is None:
                    selected = selections[feeds] = _only(feeds, events)
                self._deliver(name, selected)
        self._schedule_tick()

    def _deliver(self, name: str, events: list[SimEvent]) -> None:
        # One lookup per batch rather than per event: the batch is one tick, and the next tick
        # resolves the name again, so a restarted subscriber is found.
        told = 0
        try:
            tell = self.ctx.runtime.lookup(name).tell
            for event in events:
                tell(event)
                told += 1
        except ActorDead:
            self._undelivered += len(events) - told
            if name not in self._dead:
                self._dead.add(name)
                log.warning(
                    "sim market %s#%d: subscriber %s is not alive; skipping its events until "
                    "it is back",
                    self.ctx.name,
                    self.ctx.incarnation,
                    name,
                )
        self._deliveries += told

    def _is_alive(self, name: str) -> bool:
        try:
            return self.ctx.runtime.lookup(name).is_alive()
        except ActorDead:
            return False

    def _schedule_tick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # a Tick told by hand must not start a second timer chain
        delay_s = self._open_market().next_step_at - self.ctx.clock.now()
        self._timer = self.ctx.schedule(max(0.0, delay_s), Tick())

    def _open_market(self) -> SimMarket:
        if self._market is None:
            msg = f"sim market {self.ctx.name} has no market before on_start"
            raise RuntimeError(msg)
        return self._market


def _only(feeds: frozenset[Feed], events: list[SimEvent]) -> list[SimEvent]:
    if feeds == ALL_FEEDS:
        return events
    wants_spot = Feed.SPOT in feeds
    wants_market = Feed.MARKET in feeds
    return [e for e in events if (wants_spot if isinstance(e, SpotPrice) else wants_market)]
