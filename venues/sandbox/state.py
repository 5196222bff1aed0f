"""The sandbox exchange's state: a simulated market driving a paper exchange, seen through
Polymarket's ids and JSON. No networking and no threads: the server calls it from one thread.

It owns the mapping between the venue's order ids (EIP-712 digests of the signed orders) and
the paper exchange's own ids, remembers what the wire needs besides the paper exchange's
snapshots (owner, maker address, outcome), and turns the paper exchange's market and user
streams into websocket frames for the subscribers it is given. One paper account backs every
API key: the sandbox is a single-user exchange.
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

from runtime.clock import Clock
from venues.errors import (
    Maintenance,
    MarketClosed,
    OrderNotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    VenueError,
    VenueTimeout,
)
from venues.paper.exchange import PaperExchange
from venues.port import CancelResult
from venues.sandbox import wire
from venues.sandbox.auth import ApiCredentials, derive_credentials
from venues.sandbox.orders import (
    EXCHANGE_V2,
    NEG_RISK_EXCHANGE_V2,
    InvalidOrderPayload,
    WireOrder,
    to_request,
    verify_signature,
)
from venues.sandbox.settings import SandboxSettings
from venues.sim.market import SimMarket
from venues.types import (
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderUpdate,
    PriceChange,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeUpdate,
    UserEvent,
    WindowListed,
)

__all__ = [
    "HOUSE_ADDRESS",
    "SPENDERS",
    "MarketSubscriber",
    "PriceSubscriber",
    "SandboxState",
    "UserSubscriber",
    "venue_error_status",
]

HOUSE_ADDRESS = "0x000000000000000000000000000000000000dEaD"
"""The maker address the simulated counterparty shows in trades."""

NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
SPENDERS = (EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER)
"""The contracts `allowances` is keyed by, as on the venue."""

Frame = dict[str, Any]

_GAMMA = ("slug", "condition_ids", "clob_token_ids")
_SPOT_HISTORY = 60  # points of each asset a new price subscription gets first

_TRADING_MODES = frozenset({"post_only_mode", "cancel_only_mode", "trading_disabled"})


@dataclass(slots=True, kw_only=True)
class MarketSubscriber:
    """A market-channel socket: the tokens it follows; `send` queues one frame."""

    send: Callable[[Frame], None]
    assets: set[TokenId] = field(default_factory=set)
    custom_features: bool = False


@dataclass(slots=True, kw_only=True)
class PriceSubscriber:
    """A price-stream (RTDS) socket: (topic, asset) pairs it follows; `send` queues one frame."""

    send: Callable[[Frame], None]
    streams: set[tuple[str, str]] = field(default_factory=set)


@dataclass(slots=True, kw_only=True)
class UserSubscriber:
    """A user-channel socket: the markets it follows (empty = all); `send` queues one frame."""

    send: Callable[[Frame], None]
    markets: set[ConditionId] = field(default_factory=set)


class SandboxState:
    """Simulated market + paper exchange + the venue's ids and JSON."""

    def __init__(self, settings: SandboxSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.exchange = PaperExchange(settings.paper, clock)
        start = settings.start_time if settings.start_time is not None else clock.now()
        self.market = SimMarket(settings.sim, start_time=start)
        self._salt = settings.credential_salt.encode()
        self.credentials: dict[str, ApiCredentials] = {}  # by api key
        self._created: set[tuple[str, int]] = set()  # (address, nonce) with a created key
        self.windows: dict[ConditionId, MarketWindow] = {}
        self.condition_of: dict[TokenId, ConditionId] = {}
        self._last_trade_price: dict[TokenId, Decimal] = {}
        self._contexts: dict[OrderId, wire.OrderContext] = {}  # by wire id
        # What a test of a client checks: signatures that verified, and every request refused
        # for its protocol (auth, malformed body, invalid or duplicate order) with the reason.
        self.orders_verified = 0
        self.protocol_refusals: list[str] = []
        self._created_at: dict[OrderId, float] = {}
        self._wire_of: dict[OrderId, OrderId] = {}  # paper id -> wire id
        self._paper_of: dict[OrderId, OrderId] = {}  # wire id -> paper id
        self._matched_at: dict[str, float] = {}  # trade id -> first seen
        self._pending: list[MarketEvent | UserEvent] = []
        self.market_subscribers: dict[int, MarketSubscriber] = {}
        self.user_subscribers: dict[int, UserSubscriber] = {}
        self.price_subscribers: dict[int, PriceSubscriber] = {}
        self._spots: dict[str, deque[SpotPrice]] = {}
        self._subscriber_ids = itertools.count(1)
        self._heartbeat_deadline: float | None = None
        self.heartbeat_id: str | None = None
        self.unmapped_events = 0
        # Fault hooks: orders that leave the book just before a cancel reaches them (wire id ->
        # simulated seconds before the user channel says so), and that news held back until then.
        self._vanishing: dict[OrderId, float] = {}
        self._held_back: list[tuple[float, UserEvent]] = []
        self.exchange.subscribe_market(self._pending.append)
        self.exchange.subscribe_user(self._pending.append)

    # === the market moves ======================================================================

    def step(self, *, wall_now: float) -> None:
        """Run the market up to now, the exchange's due work, the dead-man switch; publish."""
        for event in self.market.advance(self.clock.now()):
            match event:
                case SpotPrice():
                    self._publish_spot(event)  # the price stream (RTDS), not the CLOB
                case WindowListed():
                    self._remember(event.window)
                    self.exchange.on_market_event(event)
                case _:
                    self.exchange.on_market_event(event)
        self.exchange.poll()
        if self._heartbeat_deadline is not None and wall_now > self._heartbeat_deadline:
            # The dead-man switch: no heartbeat in time, every open order goes.
            self._heartbeat_deadline = None
            self.heartbeat_id = None
            self.exchange.cancel_all()
        self.publish()

    def _remember(self, window: MarketWindow) -> None:
        self.windows[window.condition_id] = window
        for token in window.tokens:
            self.condition_of[token] = window.condition_id

    # === credentials ===========================================================================

    def create_api_key(self, address: str, nonce: int) -> ApiCredentials | None:
        """New credentials, or None when this (address, nonce) already has a key (HTTP 400)."""
        if (address.lower(), nonce) in self._created:
            return None
        self._created.add((address.lower(), nonce))
        return self.derive_api_key(address, nonce)

    def derive_api_key(self, address: str, nonce: int) -> ApiCredentials:
        credentials = derive_credentials(server_salt=self._salt, address=address, nonce=nonce)
        self._created.add((address.lower(), nonce))
        self.credentials[credentials.api_key] = credentials
        return credentials

    # === orders ================================================================================

    def tick_size(self, token: TokenId) -> Decimal:
        return self.exchange.tick_size(token)

    def prepare(self, order: WireOrder, credentials: ApiCredentials) -> OrderRequest:
        """Verify one posted order and register its wire id; InvalidOrderPayload if bad."""
        signed = order.order
        if order.owner != credentials.api_key:
            msg = "the order owner has to be the owner of the API KEY"
            raise InvalidOrderPayload(msg)
        if signed.signer.lower() != credentials.address.lower():
            msg = "the order signer address has to be the address of the API KEY"
            raise InvalidOrderPayload(msg)
        condition_id = self.condition_of.get(signed.token_id)
        if condition_id is None:
            msg = f"market not found for token {signed.token_id}"
            raise InvalidOrderPayload(msg)
        order_id = verify_signature(signed, chain_id=self.settings.chain_id)
        self.orders_verified += 1
        if order_id in self._contexts:
            msg = f"invalid order: duplicate order {order_id} was already posted"
            raise InvalidOrderPayload(msg)
        request = to_request(order, order_id=order_id, tick_size=self.tick_size(signed.token_id))
        window = self.windows[condition_id]
        self._contexts[order_id] = wire.OrderContext(
            order_id=order_id,
            owner=credentials.api_key,
            maker_address=signed.maker,
            outcome="Up" if signed.token_id == window.up_token else "Down",
            order_type=order.order_type.value,
            expiration=signed.expiration,
        )
        self._created_at[order_id] = self.clock.now()
        return request

    def place(self, request: OrderRequest) -> Frame:
        """POST /order for a prepared request; raises the paper exchange's VenueError."""
        try:
            result = self.exchange.place_order(request)
        except VenueError:
            self._claim((request,), ())
            self._forget_unplaced((request,))
            self.publish()
            raise
        self._claim((request,), (result,))
        self.publish()
        return wire.order_response_json(self._on_wire(result), self._trade_ids_of(result))

    def place_batch(self, requests: tuple[OrderRequest, ...]) -> list[Frame]:
        """POST /orders for prepared requests; per-leg refusals are in the answers."""
        try:
            results = self.exchange.place_orders(requests)
        except VenueError:
            self._claim(requests, ())
            self._forget_unplaced(requests)
            self.publish()
            raise
        self._claim(requests, results)
        self._forget_unplaced(requests)
        self.publish()
        return [
            wire.order_response_json(self._on_wire(result), self._trade_ids_of(result))
            for result in results
        ]

    def _on_wire(self, result: OrderResult) -> OrderResult:
        if result.order_id is None:
            return result
        return OrderResult(
            client_id=result.client_id,
            order_id=OrderId(result.client_id),
            status=result.status,
            making_amount=result.making_amount,
            taking_amount=result.taking_amount,
            error=result.error,
        )

    def _link(self, paper_id: OrderId, wire_id: OrderId) -> None:
        self._wire_of[paper_id] = wire_id
        self._paper_of[wire_id] = paper_id

    def _claim(self, requests: tuple[OrderRequest, ...], results: tuple[OrderResult, ...]) -> None:
        """Link the paper ids of this call's new orders to their wire ids.

        Results name them; a killed FOK/FAK (an exception, or a batch leg with `error`) only
        shows up in events, so an unlinked id in the events is the first unlinked request of
        the same token and side, in submission order (the exchange processes legs in order).
        """
        for result in results:
            if result.order_id is not None:
                self._link(result.order_id, OrderId(result.client_id))
        open_requests = [r for r in requests if OrderId(r.client_id) not in self._paper_of]
        for event in self._pending:
            if not isinstance(event, OrderUpdate | TradeUpdate) or event.order_id in self._wire_of:
                continue
            for request in open_requests:
                if request.token_id == event.token_id and request.side is event.side:
                    self._link(event.order_id, OrderId(request.client_id))
                    open_requests.remove(request)
                    break

    def forget(self, order_id: OrderId) -> None:
        """Drop a prepared order that never reached the exchange, so it may be posted again."""
        self._contexts.pop(order_id, None)
        self._created_at.pop(order_id, None)

    def _forget_unplaced(self, requests: tuple[OrderRequest, ...]) -> None:
        # Refused before it existed (425, 5xx, a rule): the same signed order may come again.
        for request in requests:
            if OrderId(request.client_id) not in self._paper_of:
                self.forget(OrderId(request.client_id))

    def _trade_ids_of(self, result: OrderResult) -> list[str]:
        if result.order_id is None:
            return []
        return [t.trade_id for t in self.exchange.trades() if t.order_id == result.order_id]

    def _paper_ids(self, wire_ids: tuple[str, ...]) -> tuple[OrderId, ...]:
        return tuple(self._paper_of.get(OrderId(w), OrderId(w)) for w in wire_ids)

    def _cancel_on_wire(self, result: CancelResult) -> Frame:
        self.publish()
        return wire.cancel_json(
            CancelResult(
                canceled=tuple(self._wire_of.get(i, i) for i in result.canceled),
                not_canceled={self._wire_of.get(i, i): r for i, r in result.not_canceled.items()},
            )
        )

    def cancel(self, order_ids: tuple[str, ...]) -> Frame:
        self._vanish(order_ids)
        try:
            if len(order_ids) == 1:
                return self._cancel_on_wire(self.exchange.cancel(self._paper_ids(order_ids)[0]))
            return self._cancel_on_wire(self.exchange.cancel_orders(self._paper_ids(order_ids)))
        finally:
            self.publish()

    def vanish_on_cancel(self, wire_id: OrderId, *, news_after_s: float) -> None:
        """Fault: the next cancel naming `wire_id` finds it already gone, as when the venue
        took it off the book (an expiry, a venue-side cancel) while that cancel was on its way.
        The exchange cancels it first; the user channel tells its owner `news_after_s`
        simulated seconds later, so the owner's cancel is answered "not found" first."""
        self._vanishing[wire_id] = news_after_s

    def _vanish(self, order_ids: tuple[str, ...]) -> None:
        for wire_id in order_ids:
            news_after_s = self._vanishing.pop(OrderId(wire_id), None)
            paper_id = self._paper_of.get(OrderId(wire_id))
            if news_after_s is None or paper_id is None:
                continue
            seen = len(self._pending)
            try:
                self.exchange.cancel(paper_id)
            except OrderNotFound:
                continue  # gone already: the cancel will say so anyway
            release_at = self.clock.now() + news_after_s
            kept: list[MarketEvent | UserEvent] = []
            for event in self._pending[seen:]:
                if isinstance(event, OrderUpdate | TradeUpdate) and event.order_id == paper_id:
                    self._held_back.append((release_at, event))
                else:
                    kept.append(event)
            self._pending[seen:] = kept

    def cancel_all(self) -> Frame:
        try:
            return self._cancel_on_wire(self.exchange.cancel_all())
        finally:
            self.publish()

    def cancel_market(self, market: str, asset_id: str) -> Frame:
        try:
            if market and not asset_id:
                return self._cancel_on_wire(self.exchange.cancel_market(ConditionId(market)))
            ids = tuple(
                order.order_id
                for order in self.exchange.open_orders(ConditionId(market) if market else None)
                if not asset_id or order.token_id == asset_id
            )
            if not ids:
                return wire.cancel_json(CancelResult())
            return self._cancel_on_wire(self.exchange.cancel_orders(ids))
        finally:
            self.publish()

    # === account reads =========================================================================

    def context(self, wire_id: OrderId) -> wire.OrderContext:
        known = self._contexts.get(wire_id)
        if known is not None:
            return known
        # Not posted through the sandbox (cannot happen on the wire); describe it minimally.
        return wire.OrderContext(
            order_id=wire_id,
            owner="",
            maker_address="",
            outcome="",
            order_type="GTC",
            expiration=0,
        )

    def open_orders(self, *, market: str, asset_id: str, order_id: str) -> list[Frame]:
        trades_of = self._trade_ids_by_order()
        rows = []
        for order in self.exchange.open_orders(ConditionId(market) if market else None):
            wire_id = self._wire_of.get(order.order_id, order.order_id)
            if (asset_id and order.token_id != asset_id) or (order_id and wire_id != order_id):
                continue
            rows.append(
                wire.open_order_json(
                    order, self.context(wire_id), trades_of.get(order.order_id, [])
                )
            )
        return rows

    def order(self, wire_id: str) -> Frame | None:
        paper_id = self._paper_of.get(OrderId(wire_id))
        if paper_id is None:
            return None
        snapshot = self.exchange.get_order(paper_id)
        if snapshot is None:
            return None
        trade_ids = self._trade_ids_by_order().get(paper_id, [])
        return wire.open_order_json(snapshot, self.context(OrderId(wire_id)), trade_ids)

    def _trade_ids_by_order(self) -> dict[OrderId, list[str]]:
        ids: dict[OrderId, list[str]] = {}
        for trade in self.exchange.trades():
            ids.setdefault(trade.order_id, []).append(trade.trade_id)
        return ids

    def trades(self, query: Mapping[str, str]) -> list[Frame]:
        after = float(query["after"]) if query.get("after") else None
        before = float(query["before"]) if query.get("before") else None
        market = query.get("market") or None
        rows = []
        for trade in self.exchange.trades(ConditionId(market) if market else None, after):
            if query.get("id") and trade.trade_id != query["id"]:
                continue
            if query.get("asset_id") and trade.token_id != query["asset_id"]:
                continue
            matched_at = self._matched_at.setdefault(trade.trade_id, trade.timestamp)
            if before is not None and matched_at >= before:
                continue
            wire_id = self._wire_of.get(trade.order_id, trade.order_id)
            rows.append(
                wire.trade_json(
                    trade,
                    self.context(wire_id),
                    matched_at=matched_at,
                    house_address=HOUSE_ADDRESS,
                )
            )
        return rows

    def balance(self, *, asset_type: str, token_id: str, refresh: bool) -> Frame:
        token = TokenId(token_id) if asset_type.upper().startswith("CONDITIONAL") else None
        if token is not None and not token_id:
            msg = "token_id is required for asset_type CONDITIONAL"
            raise MarketClosed(rule="market_not_found", value=asset_type, detail=msg)
        if refresh:
            self.exchange.refresh_balance(token)
        amount = self.exchange.balance(token)
        return wire.balance_json(amount, self.exchange.allowance(token), SPENDERS)

    def heartbeat(self, *, wall_now: float) -> Frame:
        """POST /v1/heartbeats: (re)arm the dead-man switch and hand out the next id."""
        self._heartbeat_deadline = wall_now + self.settings.heartbeat_timeout_s
        self.heartbeat_id = str(uuid.uuid4())
        return {"heartbeat_id": self.heartbeat_id}

    # === Gamma and Data API ====================================================================

    def _gamma_market(self, window: MarketWindow) -> Frame:
        winner = self.winner(window.condition_id)
        if winner is not None:
            up = Decimal(1) if winner == window.up_token else Decimal(0)
        else:
            mid = self.book(window.up_token).midpoint
            up = mid if mid is not None else Decimal("0.5")
        return wire.gamma_market_json(
            window,
            tick_size=self.tick_size(window.up_token),
            outcome_prices=(up, 1 - up),
            is_closed=self.is_closed(window.condition_id),
            is_resolved=winner is not None,
            is_hydrated=self.clock.now()
            >= window.start - self.settings.sim.listing_lead_s + self.settings.hydration_delay_s,
        )

    def gamma_markets(self, query: Mapping[str, str]) -> list[Frame]:
        """Gamma GET /markets (and /events, `as_events`) with the filters discovery uses."""
        wanted = {name: set(filter(None, query.get(name, "").split(","))) for name in _GAMMA}
        rows = []
        for window in self.windows.values():
            if wanted["slug"] and window.slug not in wanted["slug"]:
                continue
            if wanted["condition_ids"] and window.condition_id not in wanted["condition_ids"]:
                continue
            if wanted["clob_token_ids"] and wanted["clob_token_ids"].isdisjoint(window.tokens):
                continue
            market = self._gamma_market(window)
            if query.get("closed") in ("true", "false") and market["closed"] != (
                query["closed"] == "true"
            ):
                continue
            rows.append(market)
        return rows

    def gamma_events(self, query: Mapping[str, str]) -> list[Frame]:
        series = query.get("series_slug", "")
        events = []
        for market in self.gamma_markets(query):
            condition_id = ConditionId(market["conditionId"])
            simulated = self.market.window(condition_id)
            events.append(
                wire.gamma_event_json(
                    self.windows[condition_id],
                    market,
                    price_to_beat=simulated.price_to_beat,
                    final_price=simulated.final_price,
                )
            )
        return [event for event in events if not series or event["seriesSlug"] == series]

    def positions(self, wallet: str) -> list[Frame]:
        """Data API GET /positions: every outcome token the paper account holds."""
        return [
            wire.data_position_json(
                self.windows[held.condition_id],
                wallet=wallet,
                token=held.token_id,
                size=held.size,
                avg_price=held.avg_price,
                current_price=held.current_price,
                is_redeemable=held.redeemable,
            )
            for held in self.exchange.positions()
            if held.condition_id in self.windows
        ]

    def closed_positions(self, wallet: str) -> list[Frame]:
        """Data API GET /closed-positions: what the paper account bought and no longer holds."""
        return [
            wire.closed_position_json(
                self.windows[closed.condition_id], wallet=wallet, closed=closed
            )
            for closed in self.exchange.closed_positions()
            if closed.condition_id in self.windows
        ]

    # === market data ===========================================================================

    def book_context(self, token: TokenId) -> wire.BookContext:
        window = self.windows[self.condition_of[token]]
        return wire.BookContext(
            min_order_size=window.min_order_size,
            last_trade_price=self._last_trade_price.get(token),
        )

    def book(self, token: TokenId) -> BookSnapshot:
        return self.exchange.book(token)

    def is_closed(self, condition_id: ConditionId) -> bool:
        window = self.windows[condition_id]
        return self.clock.now() >= window.end

    def winner(self, condition_id: ConditionId) -> TokenId | None:
        outcome = self.market.window(condition_id).winning_outcome
        if outcome is None:
            return None
        window = self.windows[condition_id]
        return window.up_token if outcome == "Up" else window.down_token

    # === subscribers ===========================================================================

    def add_market_subscriber(self, subscriber: MarketSubscriber) -> int:
        key = next(self._subscriber_ids)
        self.market_subscribers[key] = subscriber
        return key

    def add_user_subscriber(self, subscriber: UserSubscriber) -> int:
        key = next(self._subscriber_ids)
        self.user_subscribers[key] = subscriber
        return key

    def add_price_subscriber(self, subscriber: PriceSubscriber) -> int:
        key = next(self._subscriber_ids)
        self.price_subscribers[key] = subscriber
        return key

    def remove_subscriber(self, key: int) -> None:
        self.market_subscribers.pop(key, None)
        self.user_subscribers.pop(key, None)
        self.price_subscribers.pop(key, None)

    def assets(self) -> tuple[str, ...]:
        return tuple(asset.symbol for asset in self.settings.sim.assets)

    def recent_spots(self, asset: str) -> list[SpotPrice]:
        return list(self._spots.get(asset, ()))

    def _publish_spot(self, spot: SpotPrice) -> None:
        self._spots.setdefault(spot.asset, deque(maxlen=_SPOT_HISTORY)).append(spot)
        for subscriber in self.price_subscribers.values():
            for topic, asset in subscriber.streams:
                if asset == spot.asset:
                    subscriber.send(wire.rtds_update(spot, topic))

    def initial_books(self, assets: set[TokenId]) -> list[Frame]:
        """The snapshot dump a new market subscription gets: one `book` per known token."""
        return [
            wire.book_event(self.book(token), self.book_context(token))
            for token in sorted(assets)
            if token in self.condition_of
        ]

    def publish(self) -> None:
        """Send every event the exchange produced since the last call to its subscribers."""
        now = self.clock.now()
        if any(at <= now for at, _ in self._held_back):
            self._pending.extend(e for at, e in self._held_back if at <= now)
            self._held_back = [(at, e) for at, e in self._held_back if at > now]
        pending, self._pending[:] = list(self._pending), []
        for event in pending:
            match event:
                case OrderUpdate() | TradeUpdate():
                    self._publish_user(event)
                case _:
                    self._publish_market(event)

    def _publish_market(self, event: MarketEvent) -> None:
        match event:
            case BookSnapshot():
                if event.token_id not in self.condition_of:
                    return
                frame = wire.book_event(event, self.book_context(event.token_id))
                self._to_market(frame, frozenset({event.token_id}), custom=False)
            case PriceChange():
                for subscriber in self.market_subscribers.values():
                    change = wire.price_change_event(event, frozenset(subscriber.assets))
                    if change is not None:
                        subscriber.send(change)
            case LastTrade():
                self._last_trade_price[event.token_id] = event.price
                self._to_market(
                    wire.last_trade_event(event), frozenset({event.token_id}), custom=False
                )
            case TickSizeChange():
                self._to_market(
                    wire.tick_size_change_event(event), frozenset({event.token_id}), custom=False
                )
            case MarketResolved():
                window = self.windows.get(event.condition_id)
                if window is not None:
                    frame = wire.market_resolved_event(event, window)
                    self._to_market(frame, frozenset(window.tokens), custom=True)
            case WindowListed():
                self._remember(event.window)
                frame = wire.new_market_event(event.window, event.timestamp)
                self._to_market(frame, None, custom=True)
            case _:
                assert_never(event)

    def _to_market(self, frame: Frame, tokens: frozenset[TokenId] | None, *, custom: bool) -> None:
        for subscriber in self.market_subscribers.values():
            if custom and not subscriber.custom_features:
                continue
            if tokens is None or not subscriber.assets.isdisjoint(tokens):
                subscriber.send(frame)

    def _publish_user(self, event: UserEvent) -> None:
        wire_id = self._wire_of.get(event.order_id)
        if wire_id is None:
            self.unmapped_events += 1  # an order the sandbox did not place: nobody owns it
            return
        context = self.context(wire_id)
        match event:
            case OrderUpdate():
                trade_ids = self._trade_ids_by_order().get(event.order_id, [])
                created_at = self._created_at.get(wire_id, event.timestamp)
                frame = wire.order_event(event, context, trade_ids, created_at)
            case TradeUpdate():
                matched_at = self._matched_at.setdefault(event.trade_id, event.timestamp)
                frame = wire.trade_event(
                    event, context, matched_at=matched_at, house_address=HOUSE_ADDRESS
                )
            case _:
                assert_never(event)
        for subscriber in self.user_subscribers.values():
            if not subscriber.markets or event.condition_id in subscriber.markets:
                subscriber.send(frame)


def venue_error_status(error: VenueError) -> int:
    """The HTTP status the venue answers a refusal with."""
    match error:
        case Maintenance() if error.rule in _TRADING_MODES:
            return 503  # the venue's post-only / cancel-only / trading-disabled modes
        case Maintenance():
            return 425  # the matching engine is restarting
        case RateLimited():
            return 429
        case VenueTimeout():
            return 504
        case ServerError():
            return 500
        case Unauthorized():
            return 401
        case OrderNotFound():
            return 404
        case _:
            return 400
