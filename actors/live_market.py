"""The live market actor: Polymarket's windows, books and reference prices, published like the
simulated market's, so the feed, discovery and venue gateway cannot tell the two apart.

Three sources feed it. Gamma, polled on a timer, lists the windows (`WindowListed`); the market
websocket streams books, level changes, trades, tick-size changes and resolutions of the tokens
of listed windows; the reference price stream gives each asset's spot. The streams call back on
their own threads; each callback only tells this actor, so all state lives on its thread.

A poll is HTTP (Gamma, then the CLOB to ready each new market for orders), one request after
another, each bounded by the request timeout: it runs on a worker thread of its own and its
result comes back as a message (`_Polled`), so books, spots and asks are never held up behind
a slow Gamma. One poll at a time: the next is scheduled when the last one answers, and the
worker is the only user of the Gamma client meanwhile.

It keeps every subscribed token's book (as the venue last described it), for two reasons: a
subscriber that subscribes again (it restarted) gets the books as a catch-up, and at each
window's start it republishes the window's books stamped with the open, which is how the feed
learns that a window is open (the simulated market does the same at its opens; the venue sends
nothing special then).

When the market channel does not deliver a window's resolution, Gamma is asked after
`resolution_check_after_s`, and its answer is published as the `MarketResolved`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeAlias

from actors.subscriptions import Subscribe, Subscribers, Unsubscribe, only
from runtime.api import Actor, ActorDead, Timer, UnhandledMessage
from state.order_book import OrderBook
from venues.errors import RetryableError
from venues.live.gamma import GammaDiscovery
from venues.live.wire import WireError
from venues.types import (
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    PriceChange,
    SpotPrice,
    TickSizeChange,
    TokenId,
    WindowListed,
)

__all__ = [
    "GetLiveMarketStats",
    "LiveMarketActor",
    "LiveMarketStats",
    "LiveSources",
    "MarketSource",
]

log = logging.getLogger(__name__)


class MarketSource(Protocol):
    """The market websocket(s), as this actor drives them."""

    def set_assets(self, token_ids: Iterable[TokenId]) -> None:
        """Stream exactly these tokens (subscribe the new ones, unsubscribe the rest)."""
        ...

    def close(self) -> None: ...


class Closeable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSources:
    """How the actor reaches Polymarket. Each `open_*` starts a connection that calls back on
    its own thread; the actor closes what it opened when it stops or crashes."""

    discovery: Callable[[], GammaDiscovery]
    open_market: Callable[[Callable[[MarketEvent], None]], MarketSource]
    open_spots: Callable[[Callable[[SpotPrice], None]], Closeable]
    poll_interval_s: float
    resolution_check_after_s: float
    # The venue's hooks: ready a market for orders (caches, signing version) when it is
    # listed, and sign on the new grid after a tick-size change. Called on this actor's thread.
    prepare_market: Callable[[MarketWindow, str], None]
    on_tick_size: Callable[[TokenId, Decimal], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class GetLiveMarketStats:
    """Ask: reply with `LiveMarketStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveMarketStats:
    """Counters of this incarnation."""

    windows: int  # listed and not resolved
    tokens_streamed: int
    events: int  # market events and spots published
    polls: int
    poll_failures: int
    resolved_by_gamma: int
    subscribers: tuple[str, ...]
    dead_subscribers: tuple[str, ...]
    is_polling: bool  # a poll's worker has not answered yet


@dataclass(frozen=True, slots=True, kw_only=True)
class _Poll:
    """Timer: ask Gamma for new windows and overdue resolutions."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Polled:
    """A poll's worker answers: the windows Gamma listed (readied for orders) and the
    resolutions of overdue windows; or the venue's error that failed it (tried again at the
    next poll); or an error nobody expected, raised again here so that this actor crashes."""

    found: tuple[MarketWindow, ...] = ()
    resolutions: tuple[MarketResolved, ...] = ()
    failure: RetryableError | WireError | None = None
    crash: Exception | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Open:
    """Timer: `condition_id`'s window starts now; republish its books stamped with the open."""

    condition_id: ConditionId


LiveMarketCommand: TypeAlias = (
    Subscribe | Unsubscribe | GetLiveMarketStats | _Poll | _Polled | _Open
)


class LiveMarketActor(Actor):
    """Publishes Polymarket's windows, market events and spots to subscribers.

    Accepts:
        Subscribe(name, feeds) / Unsubscribe(name): tells, as for the simulated market. The
            catch-up is every unresolved window, its books, and the latest spot of each asset.
        GetLiveMarketStats(): ask -> `LiveMarketStats`.
        Market events and `SpotPrice`s: tells from the stream callbacks.

    A crash loses the books and the listed windows: the new incarnation polls Gamma at once
    (which lists the unresolved windows again) and resubscribes their tokens, and the venue
    answers a subscription with fresh book snapshots. A poll still running for the crashed
    incarnation answers nobody (its result is dropped).
    """

    def __init__(self, sources: LiveSources, *, subscribers: tuple[Subscribe, ...] = ()) -> None:
        self._sources = sources
        self._subscribers = Subscribers("live market", subscribers)
        self._windows: dict[ConditionId, MarketWindow] = {}
        self._books: dict[TokenId, OrderBook] = {}
        self._spots: dict[str, SpotPrice] = {}
        self._open_timers: dict[ConditionId, Timer] = {}
        self._poll_timer: Timer | None = None
        self._is_polling = False
        self._market: MarketSource | None = None
        self._spot_stream: Closeable | None = None
        self._counts = dict.fromkeys(("events", "polls", "poll_failures", "resolved_by_gamma"), 0)

    # --- lifecycle ------------------------------------------------------------------------------

    def on_start(self) -> None:
        self._discovery = self._sources.discovery()
        tell = self.ctx.self_ref.tell
        self._market = self._sources.open_market(tell)
        self._spot_stream = self._sources.open_spots(tell)
        self._poll_timer = self.ctx.schedule(0.0, _Poll())

    def on_stop(self) -> None:
        self._release()

    def on_crash(self) -> None:
        self._release()

    def _release(self) -> None:
        for timer in [*self._open_timers.values(), self._poll_timer]:
            if timer is not None:
                timer.cancel()
        for connection in (self._market, self._spot_stream):
            if connection is not None:
                connection.close()
        self._market = self._spot_stream = None

    # --- messages -------------------------------------------------------------------------------

    def receive(self, message: object) -> object:
        match message:
            case BookSnapshot() | PriceChange() | LastTrade() | TickSizeChange():
                self._on_market_event(message)
            case MarketResolved():
                self._on_resolved(message)
            case SpotPrice(asset=asset):
                self._spots[asset] = message
                self._publish([message])
            case _Poll():
                self._poll()
            case _Polled():
                self._on_polled(message)
            case _Open(condition_id=condition_id):
                self._on_open(condition_id)
            case Subscribe(name=name, feeds=feeds):
                self._subscribers.subscribe(name, feeds)
                self._subscribers.deliver(self.ctx.runtime, name, only(feeds, self._catch_up()))
            case Unsubscribe(name=name):
                self._subscribers.unsubscribe(name)
            case GetLiveMarketStats():
                return self._stats()
            case _:
                msg = f"live market {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)
        return None

    def _on_market_event(
        self, event: BookSnapshot | PriceChange | LastTrade | TickSizeChange
    ) -> None:
        match event:
            case BookSnapshot(token_id=token_id):
                book = self._books.get(token_id)
                if book is None:
                    return  # a token we stopped streaming: its window resolved
                book.apply_snapshot(event)
            case PriceChange(changes=changes, timestamp=timestamp):
                for change in changes:
                    book = self._books.get(change.token_id)
                    if book is not None:
                        book.apply_change(change, timestamp)
            case TickSizeChange(token_id=token_id, new_tick_size=tick, timestamp=timestamp):
                self._sources.on_tick_size(token_id, tick)
                book = self._books.get(token_id)
                if book is not None:
                    book.change_tick_size(tick, timestamp)
        self._publish([event])

    def _on_resolved(self, event: MarketResolved) -> None:
        window = self._windows.pop(event.condition_id, None)
        opening = self._open_timers.pop(event.condition_id, None)
        if opening is not None:
            opening.cancel()
        if window is None:
            return  # resolved twice (stream and Gamma), or not one of ours
        for token in window.tokens:
            self._books.pop(token, None)
        self._stream_tokens()
        self._publish([event])

    # --- discovery ------------------------------------------------------------------------------

    def _poll(self) -> None:
        self._poll_timer = None
        if self._is_polling:
            return
        now = self.ctx.clock.now()
        self._counts["polls"] += 1
        self._is_polling = True
        overdue = tuple(
            w
            for w in self._windows.values()
            if now >= w.end + self._sources.resolution_check_after_s
        )
        worker = threading.Thread(
            target=_poll_worker,
            args=(self.ctx.self_ref.tell, self._discovery, self._sources, now, overdue),
            name=f"{self.ctx.name}-gamma-poll",
            daemon=True,
        )
        worker.start()

    def _on_polled(self, polled: _Polled) -> None:
        self._is_polling = False
        if polled.crash is not None:
            raise polled.crash
        if polled.failure is not None:
            # Gamma is read again at the next poll; what it lists is not lost meanwhile.
            self._counts["poll_failures"] += 1
            log.warning(
                "live market: Gamma poll failed (%s); next try in %.0f s",
                polled.failure,
                self._sources.poll_interval_s,
            )
        now = self.ctx.clock.now()
        for window in polled.found:
            self._list(window, now)
        if polled.found:
            self._stream_tokens()
        for resolved in polled.resolutions:
            self._counts["resolved_by_gamma"] += 1
            self._on_resolved(resolved)
        self._poll_timer = self.ctx.schedule(self._sources.poll_interval_s, _Poll())

    def _list(self, window: MarketWindow, now: float) -> None:
        if window.condition_id in self._windows:
            return
        self._windows[window.condition_id] = window
        for token in window.tokens:
            self._books[token] = OrderBook(
                condition_id=window.condition_id, token_id=token, tick_size=window.tick_size
            )
        self._publish([WindowListed(window=window, timestamp=now)])
        if window.start > now:
            opening = _Open(condition_id=window.condition_id)
            self._open_timers[window.condition_id] = self.ctx.schedule(window.start - now, opening)

    def _on_open(self, condition_id: ConditionId) -> None:
        self._open_timers.pop(condition_id, None)
        window = self._windows.get(condition_id)
        if window is None:
            return
        now = self.ctx.clock.now()
        self._publish(
            [
                _stamped(book.snapshot(), now)
                for token in window.tokens
                if (book := self._books.get(token)) is not None and book.has_snapshot
            ]
        )

    def _stream_tokens(self) -> None:
        if self._market is not None:
            self._market.set_assets(sorted(self._books))

    # --- publishing -----------------------------------------------------------------------------

    def _publish(self, events: list[object]) -> None:
        self._counts["events"] += len(events)
        runtime = self.ctx.runtime
        for name in self._subscribers.returned(runtime):
            feeds = self._subscribers.feeds_of[name]
            self._subscribers.deliver(runtime, name, only(feeds, self._catch_up()))
        self._subscribers.publish(runtime, events)

    def _catch_up(self) -> list[object]:
        now = self.ctx.clock.now()
        events: list[object] = list(self._spots.values())
        for window in self._windows.values():
            events.append(WindowListed(window=window, timestamp=now))
            events.extend(
                book.snapshot()
                for token in window.tokens
                if (book := self._books.get(token)) is not None and book.has_snapshot
            )
        return events

    def _stats(self) -> LiveMarketStats:
        return LiveMarketStats(
            windows=len(self._windows),
            tokens_streamed=len(self._books),
            subscribers=tuple(self._subscribers.feeds_of),
            dead_subscribers=tuple(sorted(self._subscribers.dead)),
            is_polling=self._is_polling,
            **self._counts,
        )


def _poll_worker(
    reply: Callable[[object], None],
    discovery: GammaDiscovery,
    sources: LiveSources,
    now: float,
    overdue: tuple[MarketWindow, ...],
) -> None:
    """A poll's worker thread: Gamma and the venue only; its result goes back as a message."""
    try:
        result = _poll_gamma(discovery, sources, now, overdue)
    except Exception as e:  # noqa: BLE001 - handed to the actor, which crashes with it
        result = _Polled(crash=e)
    try:
        reply(result)
    except ActorDead:
        log.debug("live market: a poll answered after its actor stopped; dropped")


def _poll_gamma(
    discovery: GammaDiscovery, sources: LiveSources, now: float, overdue: tuple[MarketWindow, ...]
) -> _Polled:
    """One poll (blocking I/O, for the worker thread): new windows, each readied for orders,
    and Gamma's resolution of each overdue window."""
    try:
        found = discovery.poll(now).found
        resolutions = tuple(
            resolved
            for window in overdue
            if (resolved := discovery.resolution(window, now)) is not None
        )
    except (RetryableError, WireError) as error:
        return _Polled(failure=error)
    for window in found:
        try:
            sources.prepare_market(window, discovery.version_of(window.condition_id))
        except RetryableError as error:
            # The venue fills the same caches on the first order; only then is it slower.
            log.warning("live market: could not prepare %s for orders (%s)", window.slug, error)
    return _Polled(found=found, resolutions=resolutions)


def _stamped(snapshot: BookSnapshot, timestamp: float) -> BookSnapshot:
    return BookSnapshot(
        condition_id=snapshot.condition_id,
        token_id=snapshot.token_id,
        bids=snapshot.bids,
        asks=snapshot.asks,
        tick_size=snapshot.tick_size,
        timestamp=timestamp,
    )
