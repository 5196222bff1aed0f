"""The simulated market actor: runs `SimMarket` on the runtime clock and publishes its events.

A thin shell: every `step_s` of the runtime's clock it asks the pure `SimMarket` what happened
up to now and tells each event, in order, to every subscriber. The clock decides the pace:
real time, N x accelerated, or as fast as the deterministic runtime advances it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from actors.subscriptions import ALL_FEEDS, Feed, Subscribe, Subscribers, Unsubscribe, only
from runtime.api import Actor, Timer, UnhandledMessage
from venues.sim.market import SimMarket, SimMarketStats

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
        self._subscribers = Subscribers("sim market", subscribers)
        self._market: SimMarket | None = None
        self._timer: Timer | None = None

    def on_start(self) -> None:
        now = self.ctx.clock.now()
        start = now if self._start_time is None else self._start_time
        self._market = SimMarket(self._settings, start)
        if self.ctx.incarnation > 1 and start < now:
            # Restarted: replay the same seeded path silently up to now, then tell subscribers
            # where it stands. (A first incarnation publishes everything from `start` instead.)
            self._market.skip_to(now)
            catch_up = self._market.snapshot_events()
            for name, feeds in self._subscribers.feeds_of.items():
                self._subscribers.deliver(self.ctx.runtime, name, only(feeds, catch_up))
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
                self._subscribers.subscribe(name, feeds)
                catch_up = only(feeds, self._open_market().snapshot_events())
                self._subscribers.deliver(self.ctx.runtime, name, catch_up)
                return None
            case Unsubscribe(name=name):
                self._subscribers.unsubscribe(name)
                return None
            case GetMarketStats():
                subscribers = self._subscribers
                return SimMarketActorStats(
                    market=self._open_market().stats,
                    subscribers=tuple(subscribers.feeds_of),
                    deliveries=subscribers.deliveries,
                    undelivered_to_dead=subscribers.undelivered,
                    dead_subscribers=tuple(sorted(subscribers.dead)),
                )
            case _:
                msg = f"sim market {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    def _on_tick(self) -> None:
        market = self._open_market()
        runtime = self.ctx.runtime
        # A subscriber that was dead and is back (restarted) lost its copy of the market: give
        # it the state as of before this tick, then this tick's events on top.
        for name in self._subscribers.returned(runtime):
            log.info(
                "sim market %s: subscriber %s is back; sending a catch-up", self.ctx.name, name
            )
            feeds = self._subscribers.feeds_of[name]
            self._subscribers.deliver(runtime, name, only(feeds, market.snapshot_events()))
        self._subscribers.publish(runtime, market.advance(self.ctx.clock.now()))
        self._schedule_tick()

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
