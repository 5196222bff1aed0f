"""The market feed router: keeps every token's book and routes market data to window actors.

The hot path of the bot (market -> feed -> window -> position -> venue) starts here, so the
feed does as little as it can per event: a level change is a dict write, a book snapshot is
built only for tokens a window listens to, and bursts (one market step's level changes and
trades) are coalesced into one `BookUpdate` per token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from actors.messages import (
    BookUpdate,
    Outcome,
    RegisterWindow,
    SpotUpdate,
    WindowOpened,
    WindowResolved,
)
from actors.sim_market import ALL_FEEDS, Subscribe
from runtime.api import Actor, ActorDead, UnhandledMessage
from runtime.logs import actor_logger
from state.order_book import OrderBook
from venues.types import (
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    PriceChange,
    SpotPrice,
    TickSizeChange,
    TokenId,
    WindowListed,
)

__all__ = [
    "FeedActor",
    "FeedCommand",
    "FeedStats",
    "GetBook",
    "GetFeedStats",
    "ReplayListings",
]


# --- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBook:
    """Ask: the feed's current book of `token_id`, or None if it has none."""

    token_id: TokenId


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayListings:
    """Tell: send `WindowListed` for every listed, unresolved window to the actor `to`.
    A restarted discovery asks this, rather than a market catch-up that would resend books."""

    to: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetFeedStats:
    """Ask: reply with `FeedStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedStats:
    """Counters of this incarnation."""

    events: int  # market events and spot prices received
    windows_routed: int  # registered windows not yet resolved
    books: int  # tokens with a book
    book_updates_sent: int
    spot_updates_sent: int
    changes_ignored: int  # level changes between a tick-size change and the next snapshot
    undeliverable: int  # messages for a window (or discovery) that was not alive


@dataclass(frozen=True, slots=True, kw_only=True)
class _FlushBooks:
    """Self-tell: send the books that changed since the last flush (coalesces one burst)."""


MarketInput: TypeAlias = (
    WindowListed | BookSnapshot | PriceChange | LastTrade | TickSizeChange | MarketResolved
)
FeedCommand: TypeAlias = (
    MarketInput | SpotPrice | RegisterWindow | ReplayListings | GetBook | GetFeedStats | _FlushBooks
)


@dataclass(slots=True, kw_only=True)
class _Route:
    actor_name: str
    up_token: TokenId
    down_token: TokenId
    asset: str
    has_told_open: bool = False


# --- the actor -----------------------------------------------------------------------------


class FeedActor(Actor):
    """Routes the market channel to the window actors that registered for it.

    Accepts:
        Market events (`WindowListed`, `BookSnapshot`, `PriceChange`, `LastTrade`,
            `TickSizeChange`, `MarketResolved`) and `SpotPrice`: tells, from the market.
        RegisterWindow(condition_id, tokens, asset, actor_name): tell, from discovery. The
            window gets `WindowOpened` (if trading has started), the current books and the
            latest spot at once, then every change.
        ReplayListings(to): tell; GetBook(token_id): ask -> BookSnapshot | None;
        GetFeedStats(): ask -> FeedStats.

    Emits:
        To a registered window: `WindowOpened` once its market has a book at or after its start,
        `BookUpdate` (whole book) after each burst that changed one of its tokens,
        `SpotUpdate` for its asset, `WindowResolved` when its market resolves (after which the
        feed forgets the window and its books).
        To "discovery": every `WindowListed`.

    A crash loses the books and the registrations; the new incarnation subscribes to the market
    again, whose catch-up brings the books back and the listings, which the feed forwards to
    discovery, which registers the windows again.
    """

    def __init__(self, *, market: str = "market", discovery: str = "discovery") -> None:
        self._market_name = market
        self._discovery_name = discovery
        self._books: dict[TokenId, OrderBook] = {}
        self._listed: dict[ConditionId, MarketWindow] = {}
        self._routes: dict[ConditionId, _Route] = {}
        self._route_of_token: dict[TokenId, _Route] = {}
        self._routes_of_asset: dict[str, dict[ConditionId, _Route]] = {}
        self._spots: dict[str, SpotPrice] = {}
        self._dirty: dict[TokenId, None] = {}
        self._is_flush_pending = False
        self._events = 0
        self._book_updates = 0
        self._spot_updates = 0
        self._ignored = 0
        self._undeliverable = 0

    def on_start(self) -> None:
        self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        # The catch-up that answers a subscription is what rebuilds a restarted feed.
        self.ctx.runtime.lookup(self._market_name).tell(
            Subscribe(name=self.ctx.name, feeds=ALL_FEEDS)
        )

    def receive(self, message: object) -> object:
        match message:
            case PriceChange():
                self._events += 1
                self._on_price_change(message)
            case SpotPrice():
                self._events += 1
                self._on_spot(message)
            case BookSnapshot():
                self._events += 1
                self._on_book_snapshot(message)
            case LastTrade():
                self._events += 1  # trades move no book level by themselves; a change follows
            case TickSizeChange():
                self._events += 1
                self._on_tick_size_change(message)
            case WindowListed():
                self._events += 1
                self._listed[message.window.condition_id] = message.window
                self._tell(self._discovery_name, message)
            case MarketResolved():
                self._events += 1
                self._on_market_resolved(message)
            case _FlushBooks():
                self._is_flush_pending = False
                self._flush_books()
            case RegisterWindow():
                self._on_register_window(message)
            case ReplayListings(to=to):
                for window in self._listed.values():
                    self._tell(to, WindowListed(window=window, timestamp=self.ctx.clock.now()))
            case GetBook(token_id=token_id):
                book = self._books.get(token_id)
                return None if book is None or not book.has_snapshot else book.snapshot()
            case GetFeedStats():
                return self._stats()
            case _:
                msg = f"feed {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)
        return None

    # --- market data --------------------------------------------------------------------------

    def _on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        book = self._book(snapshot.condition_id, snapshot.token_id, snapshot)
        book.apply_snapshot(snapshot)
        route = self._route_of_token.get(snapshot.token_id)
        if route is not None:
            window = self._listed.get(snapshot.condition_id)
            if (
                not route.has_told_open
                and window is not None
                and snapshot.timestamp >= window.start
            ):
                self._flush_books()  # the window hears of the open before the open's books
                route.has_told_open = True
                self._tell(route.actor_name, WindowOpened(window=window))
            self._mark_dirty(snapshot.token_id)

    def _on_price_change(self, event: PriceChange) -> None:
        books = self._books
        route_of_token = self._route_of_token
        for change in event.changes:
            book = books.get(change.token_id)
            if book is None or not book.apply_change(change, event.timestamp):
                self._ignored += 1
                continue
            if change.token_id in route_of_token:
                self._mark_dirty(change.token_id)

    def _on_tick_size_change(self, event: TickSizeChange) -> None:
        book = self._books.get(event.token_id)
        if book is not None:
            book.change_tick_size(event.new_tick_size, event.timestamp)
        # Nothing to send: the book is stale until the snapshot that always follows.

    def _on_spot(self, spot: SpotPrice) -> None:
        self._spots[spot.asset] = spot
        routes = self._routes_of_asset.get(spot.asset)
        if not routes:
            return
        self._flush_books()  # keep each window's messages in the market's order
        update = SpotUpdate(asset=spot.asset, price=spot.price, timestamp=spot.timestamp)
        for route in tuple(routes.values()):
            self._spot_updates += 1
            self._tell(route.actor_name, update)

    def _on_market_resolved(self, event: MarketResolved) -> None:
        self._flush_books()
        route = self._routes.get(event.condition_id)
        if route is not None:
            winner = Outcome.UP if event.winning_token == route.up_token else Outcome.DOWN
            self._tell(
                route.actor_name,
                WindowResolved(
                    condition_id=event.condition_id, winner=winner, timestamp=event.timestamp
                ),
            )
        self._forget(event.condition_id)

    # --- windows ------------------------------------------------------------------------------

    def _on_register_window(self, message: RegisterWindow) -> None:
        known = self._routes.get(message.condition_id)
        if known is not None and known.actor_name == message.actor_name:
            return  # discovery registers on every listing it sees; the route is already live
        if known is not None:
            self._unroute(message.condition_id)
        up, down = message.tokens
        route = _Route(
            actor_name=message.actor_name, up_token=up, down_token=down, asset=message.asset
        )
        self._routes[message.condition_id] = route
        self._route_of_token[up] = route
        self._route_of_token[down] = route
        self._routes_of_asset.setdefault(message.asset, {})[message.condition_id] = route
        # Catch the window up now rather than at the next change: a quiet book may not move.
        window = self._listed.get(message.condition_id)
        books = [self._books.get(token) for token in message.tokens]
        has_books = [book for book in books if book is not None and book.has_snapshot]
        if window is not None and any(book.timestamp >= window.start for book in has_books):
            route.has_told_open = True
            self._tell(route.actor_name, WindowOpened(window=window))
        for book in has_books:
            self._book_updates += 1
            self._tell(route.actor_name, BookUpdate(book=book.snapshot()))
        spot = self._spots.get(message.asset)
        if spot is not None:
            self._spot_updates += 1
            self._tell(
                route.actor_name,
                SpotUpdate(asset=spot.asset, price=spot.price, timestamp=spot.timestamp),
            )

    def _forget(self, condition_id: ConditionId) -> None:
        """A resolved market: nothing will trade any more, so its books and route are dropped
        (a bot that runs for days sees thousands of windows)."""
        window = self._listed.pop(condition_id, None)
        route = self._routes.get(condition_id)
        tokens: Iterable[TokenId] = ()
        if window is not None:
            tokens = window.tokens
        elif route is not None:
            tokens = (route.up_token, route.down_token)
        for token in tokens:
            self._books.pop(token, None)
            self._dirty.pop(token, None)
        self._unroute(condition_id)

    def _unroute(self, condition_id: ConditionId) -> None:
        route = self._routes.pop(condition_id, None)
        if route is None:
            return
        for token in (route.up_token, route.down_token):
            if self._route_of_token.get(token) is route:
                del self._route_of_token[token]
        of_asset = self._routes_of_asset.get(route.asset)
        if of_asset is not None:
            of_asset.pop(condition_id, None)
            if not of_asset:
                del self._routes_of_asset[route.asset]

    # --- sending ------------------------------------------------------------------------------

    def _book(
        self, condition_id: ConditionId, token_id: TokenId, snapshot: BookSnapshot
    ) -> OrderBook:
        book = self._books.get(token_id)
        if book is None:
            book = self._books[token_id] = OrderBook(
                condition_id=condition_id, token_id=token_id, tick_size=snapshot.tick_size
            )
        return book

    def _mark_dirty(self, token_id: TokenId) -> None:
        self._dirty[token_id] = None
        if not self._is_flush_pending:
            # The rest of this burst is already in the mailbox ahead of this marker, so one
            # BookUpdate per token covers all of it.
            self._is_flush_pending = True
            self.ctx.self_ref.tell(_FlushBooks())

    def _flush_books(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for token in dirty:
            route = self._route_of_token.get(token)
            book = self._books.get(token)
            if route is None or book is None:
                continue
            self._book_updates += 1
            self._tell(route.actor_name, BookUpdate(book=book.snapshot()))

    def _tell(self, name: str, message: object) -> None:
        try:
            self.ctx.runtime.lookup(name).tell(message)
        except ActorDead:
            # A window that settled and stopped, or one being restarted (it rebuilds from its
            # journal and gets the next update); counted and logged, never silently lost.
            self._undeliverable += 1
            self._log.info("feed_undeliverable", to=name, message=type(message).__name__)

    def _stats(self) -> FeedStats:
        return FeedStats(
            events=self._events,
            windows_routed=len(self._routes),
            books=len(self._books),
            book_updates_sent=self._book_updates,
            spot_updates_sent=self._spot_updates,
            changes_ignored=self._ignored,
            undeliverable=self._undeliverable,
        )
