"""Publishing market data to subscribers by name: what the market actors (simulated or live)
share. Not an actor: a helper an actor owns, so it runs on that actor's thread.

Names are resolved at each delivery, so a subscriber's restarts are survived; one found dead
is skipped and counted, and `returned` names it again once it is alive, so its owner can send
it a catch-up (it lost its copy of the market when it crashed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from runtime.api import ActorDead, Runtime
from venues.types import SpotPrice

__all__ = ["ALL_FEEDS", "Feed", "Subscribe", "Subscribers", "Unsubscribe"]

log = logging.getLogger(__name__)


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


class Subscribers:
    """Who gets which feeds, and delivery to them with dead-subscriber bookkeeping."""

    def __init__(self, publisher: str, initial: tuple[Subscribe, ...] = ()) -> None:
        self._publisher = publisher
        self.feeds_of: dict[str, frozenset[Feed]] = {s.name: s.feeds for s in initial}
        self.dead: set[str] = set()
        self.deliveries = 0
        self.undelivered = 0

    def subscribe(self, name: str, feeds: frozenset[Feed]) -> None:
        self.feeds_of[name] = feeds
        self.dead.discard(name)

    def unsubscribe(self, name: str) -> None:
        self.feeds_of.pop(name, None)
        self.dead.discard(name)

    def returned(self, runtime: Runtime) -> list[str]:
        """Subscribers found dead before that are alive again (forgotten as dead now)."""
        back = [n for n in self.feeds_of if n in self.dead and _is_alive(runtime, n)]
        self.dead.difference_update(back)
        return back

    def publish(self, runtime: Runtime, events: Sequence[object]) -> None:
        """Tell `events`, in order, to every subscriber that wants them."""
        if not events:
            return
        selections: dict[frozenset[Feed], Sequence[object]] = {ALL_FEEDS: events}
        for name, feeds in self.feeds_of.items():
            selected = selections.get(feeds)
            if selected is None:
                selected = selections[feeds] = only(feeds, events)
            self.deliver(runtime, name, selected)

    def deliver(self, runtime: Runtime, name: str, events: Sequence[object]) -> None:
        # One lookup per batch rather than per event; the next batch resolves the name again,
        # so a restarted subscriber is found.
        told = 0
        try:
            tell = runtime.lookup(name).tell
            for event in events:
                tell(event)
                told += 1
        except ActorDead:
            self.undelivered += len(events) - told
            if name not in self.dead:
                self.dead.add(name)
                log.warning(
                    "%s: subscriber %s is not alive; skipping its events until it is back",
                    self._publisher,
                    name,
                )
        self.deliveries += told


def only(feeds: frozenset[Feed], events: Sequence[object]) -> Sequence[object]:
    """The events of `feeds` among `events`."""
    if feeds == ALL_FEEDS:
        return events
    wants_spot = Feed.SPOT in feeds
    wants_market = Feed.MARKET in feeds
    return [e for e in events if (wants_spot if isinstance(e, SpotPrice) else wants_market)]


def _is_alive(runtime: Runtime, name: str) -> bool:
    try:
        return runtime.lookup(name).is_alive()
    except ActorDead:
        return False
