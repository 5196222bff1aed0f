"""The local Polymarket: an aiohttp HTTP + websocket server on 127.0.0.1 speaking the CLOB's
paths, headers and JSON, backed by `SandboxState`, run on a background thread by `serve`.

Every request and the market's steps run on the server's one event-loop thread, so the state
(and the paper exchange inside it) is only ever touched by that thread. Handlers are thin:
check auth, parse, call the state, answer JSON; refusals become the venue's status and
`{"error": "<venue text>"}` (polymarket_api.md 9.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from runtime.clock import Clock, RealClock, SimulatedClock
from venues.errors import VenueError
from venues.sandbox import wire
from venues.sandbox.auth import ApiCredentials, AuthError, verify_l1, verify_l2
from venues.sandbox.orders import InvalidOrderPayload, parse_wire_order
from venues.sandbox.settings import SandboxSettings
from venues.sandbox.state import (
    MarketSubscriber,
    PriceSubscriber,
    SandboxState,
    UserSubscriber,
    venue_error_status,
)
from venues.types import ConditionId, OrderRequest, TokenId

__all__ = ["SandboxServer", "serve"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_STATE = web.AppKey("state", SandboxState)
_NO_ORDERBOOK = "No orderbook exists for the requested token id"
_INVALID_SUBSCRIPTION = "invalid subscription payload"
_MAX_BATCH = 15
_PRICE_TOPICS = frozenset({wire.CHAINLINK_TOPIC, wire.BINANCE_TOPIC})


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def _venue_error(error: VenueError) -> web.Response:
    return _error(venue_error_status(error), error.detail)


class _Handlers:
    """The HTTP routes; `server` gives the state and the wall clock for auth."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    @property
    def _state(self) -> SandboxState:
        return self.server.state

    def _skew_now(self, claimed: str) -> float:
        # Clients sign with their wall clock, or with /time under use_server_time; a timestamp
        # close to either is fresh.
        wall, simulated = self.server.wall_clock.now(), self._state.clock.now()
        try:
            seconds = float(claimed)
        except ValueError:
            return wall
        return wall if abs(wall - seconds) <= abs(simulated - seconds) else simulated

    async def _l2(self, request: web.Request) -> tuple[ApiCredentials, str]:
        body = await request.text()
        headers = {key.upper(): value for key, value in request.headers.items()}
        credentials = verify_l2(
            headers,
            method=request.method,
            path=request.rel_url.path,
            body=body,
            keys=self._state.credentials,
            now=self._skew_now(headers.get("POLY_TIMESTAMP", "")),
            max_skew_s=self._state.settings.auth_max_skew_s,
        )
        return credentials, body

    def _l1(self, request: web.Request) -> tuple[str, int]:
        headers = {key.upper(): value for key, value in request.headers.items()}
        return verify_l1(
            headers,
            chain_id=self._state.settings.chain_id,
            now=self._skew_now(headers.get("POLY_TIMESTAMP", "")),
            max_skew_s=self._state.settings.auth_max_skew_s,
        )

    # --- public --------------------------------------------------------------------------

    async def ok(self, _: web.Request) -> web.Response:
        return web.json_response("OK")

    async def time(self, _: web.Request) -> web.Response:
        return web.Response(text=str(int(self._state.clock.now())), content_type="application/json")

    async def version(self, _: web.Request) -> web.Response:
        return web.json_response({"version": 2})

    def _token(self, request: web.Request) -> TokenId | web.Response:
        token = request.query.get("token_id", "")
        if TokenId(token) not in self._state.condition_of:
            return _error(404, _NO_ORDERBOOK)
        return TokenId(token)

    async def tick_size(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        return web.json_response({"minimum_tick_size": float(self._state.tick_size(token))})

    async def neg_risk(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        return web.json_response({"neg_risk": False})

    async def fee_rate(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        # V2 applies fees at match time (`fd` of /clob-markets); the signed base fee is 0.
        return web.json_response({"base_fee": 0})

    async def book(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        state = self._state
        return web.json_response(wire.book_json(state.book(token), state.book_context(token)))

    async def midpoint(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        mid = self._state.book(token).midpoint
        if mid is None:
            return _error(404, _NO_ORDERBOOK)
        return web.json_response({"mid": wire.decimal_text(mid)})

    async def price(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        book = self._state.book(token)
        # BUY asks what a buyer pays (best ask); SELL what a seller gets (best bid).
        side = request.query.get("side", "").upper()
        best = book.best_ask if side == "BUY" else book.best_bid if side == "SELL" else None
        if side not in ("BUY", "SELL"):
            return _error(400, f"Invalid side {side!r}")
        if best is None:
            return _error(404, _NO_ORDERBOOK)
        return web.json_response({"price": wire.decimal_text(best)})

    async def market(self, request: web.Request) -> web.Response:
        condition_id = ConditionId(request.match_info["condition_id"])
        window = self._state.windows.get(condition_id)
        if window is None:
            return _error(404, "market not found")
        state = self._state
        return web.json_response(
            wire.market_json(
                window,
                tick_size=state.tick_size(window.up_token),
                winner=state.winner(condition_id),
                is_closed=state.is_closed(condition_id),
            )
        )

    async def clob_market(self, request: web.Request) -> web.Response:
        condition_id = ConditionId(request.match_info["condition_id"])
        window = self._state.windows.get(condition_id)
        if window is None:
            return _error(404, "market not found")
        paper = self._state.settings.paper
        return web.json_response(
            wire.clob_market_info_json(
                window,
                tick_size=self._state.tick_size(window.up_token),
                fee_rate=paper.fee_rate,
                fee_exponent=paper.fee_exponent,
            )
        )

    async def market_by_token(self, request: web.Request) -> web.Response:
        condition_id = self._state.condition_of.get(TokenId(request.match_info["token_id"]))
        if condition_id is None:
            return _error(404, "market not found")
        return web.json_response({"condition_id": condition_id})

    # --- L1 ------------------------------------------------------------------------------

    async def create_api_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        credentials = self._state.create_api_key(address, nonce)
        if credentials is None:
            return _error(400, "Could not create api key")
        return web.json_response(_credentials_json(credentials))

    async def derive_api_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        return web.json_response(_credentials_json(self._state.derive_api_key(address, nonce)))

    # --- L2 ------------------------------------------------------------------------------

    async def api_keys(self, request: web.Request) -> web.Response:
        credentials, _ = await self._l2(request)
        return web.json_response({"apiKeys": [credentials.api_key]})

    async def post_order(self, request: web.Request) -> web.Response:
        credentials, body = await self._l2(request)
        try:
            order_request = self._state.prepare(parse_wire_order(_json(body)), credentials)
        except InvalidOrderPayload as e:
            return _error(400, str(e))
        return web.json_response(self._state.place(order_request))

    async def post_orders(self, request: web.Request) -> web.Response:
        credentials, body = await self._l2(request)
        payload = _json(body)
        if not isinstance(payload, list):
            return _error(400, "invalid orders payload: a JSON array is expected")
        if len(payload) > _MAX_BATCH:
            return _error(400, f"too many orders in one batch: {len(payload)} > {_MAX_BATCH}")
        prepared: list[OrderRequest | str] = []
        for item in payload:
            try:
                prepared.append(self._state.prepare(parse_wire_order(item), credentials))
            except InvalidOrderPayload as e:
                prepared.append(str(e))
        requests = tuple(p for p in prepared if isinstance(p, OrderRequest))
        answers = iter(self._state.place_batch(requests) if requests else [])
        # A leg refused before it reached the book answers in its place, as on the venue.
        return web.json_response(
            [
                next(answers)
                if isinstance(p, OrderRequest)
                else {"success": False, "errorMsg": p, "orderID": "", "status": ""}
                for p in prepared
            ]
        )

    async def cancel_order(self, request: web.Request) -> web.Response:
        _, body = await self._l2(request)
        payload = _json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            return _error(400, "invalid cancel payload: orderID is required")
        return web.json_response(self._state.cancel((payload["orderID"],)))

    async def cancel_orders(self, request: web.Request) -> web.Response:
        _, body = await self._l2(request)
        payload = _json(body)
        if not isinstance(payload, list) or not all(isinstance(i, str) for i in payload):
            return _error(400, "invalid cancel payload: a JSON array of order ids is expected")
        return web.json_response(self._state.cancel(tuple(payload)))

    async def cancel_all(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return web.json_response(self._state.cancel_all())

    async def cancel_market_orders(self, request: web.Request) -> web.Response:
        _, body = await self._l2(request)
        payload = _json(body) if body else {}
        if not isinstance(payload, dict):
            return _error(400, "invalid cancel payload: a JSON object is expected")
        market, asset_id = str(payload.get("market", "")), str(payload.get("asset_id", ""))
        return web.json_response(self._state.cancel_market(market, asset_id))

    async def orders(self, request: web.Request) -> web.Response:
        await self._l2(request)
        query = request.query
        rows = self._state.open_orders(
            market=query.get("market", ""),
            asset_id=query.get("asset_id", ""),
            order_id=query.get("id", ""),
        )
        return self._page(rows, query.get("next_cursor", wire.INITIAL_CURSOR))

    def _page(self, rows: list[dict[str, Any]], cursor: str) -> web.Response:
        try:
            page = wire.page_json(rows, cursor=cursor, limit=self._state.settings.page_size)
        except ValueError as e:
            return _error(400, str(e))
        return web.json_response(page)

    async def order(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return web.json_response(self._state.order(request.match_info["order_id"]))

    async def trades(self, request: web.Request) -> web.Response:
        await self._l2(request)
        rows = self._state.trades(request.query)
        return self._page(rows, request.query.get("next_cursor", wire.INITIAL_CURSOR))

    async def balance_allowance(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return web.json_response(self._balance(request, refresh=False))

    async def update_balance_allowance(self, request: web.Request) -> web.Response:
        await self._l2(request)
        self._balance(request, refresh=True)
        # The venue answers the refresh with an empty body; read it with a GET afterwards.
        return web.Response(text="", content_type="application/json")

    def _balance(self, request: web.Request, *, refresh: bool) -> dict[str, Any]:
        return self._state.balance(
            asset_type=request.query.get("asset_type", "COLLATERAL"),
            token_id=request.query.get("token_id", ""),
            refresh=refresh,
        )

    async def heartbeat(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return web.json_response(self._state.heartbeat(wall_now=self.server.wall_clock.now()))


class _OffChainHandlers:
    """Gamma (`/gamma/...`) and Data API (`/data-api/...`): their own hosts on the venue, so a
    config points `gamma_host` at `<url>/gamma` and `data_host` at `<url>/data-api`."""

    def __init__(self, server: SandboxServer) -> None:
        self._server = server

    async def markets(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.state.gamma_markets(request.query))

    async def market_by_slug(self, request: web.Request) -> web.Response:
        rows = self._server.state.gamma_markets({"slug": request.match_info["slug"]})
        if not rows:
            return _error(404, "market not found")
        return web.json_response(rows[0])

    async def events(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.state.gamma_events(request.query))

    async def positions(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not user:
            return _error(400, "user is required")
        return web.json_response(_page(self._server.state.positions(user), request.query))

    async def closed_positions(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not user:
            return _error(400, "user is required")
        rows = self._server.state.closed_positions(user)
        return web.json_response(_page(rows, request.query))


def _page(rows: list[Any], query: Mapping[str, str]) -> list[Any]:
    """The Data API pages with `limit` and `offset` (defaults 100 and 0)."""
    try:
        limit = int(query.get("limit", "100"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        return rows
    return rows[max(offset, 0) : max(offset, 0) + max(limit, 0)]


def _credentials_json(credentials: ApiCredentials) -> dict[str, str]:
    return {
        "apiKey": credentials.api_key,
        "secret": credentials.secret,
        "passphrase": credentials.passphrase,
    }


class _BadJson(ValueError):
    pass


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as e:
        msg = f"invalid JSON body at position {e.pos}"
        raise _BadJson(msg) from e


@web.middleware
async def _refusals(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn refusals raised anywhere in a handler into the venue's error answers."""
    try:
        return await handler(request)
    except AuthError as e:
        _log.info("sandbox refused %s %s: %s", request.method, request.rel_url.path, e.reason)
        request.app[_STATE].protocol_refusals.append(f"{request.rel_url.path}: {e.reason}")
        return _error(401, e.venue_text)
    except VenueError as e:
        return _venue_error(e)
    except (_BadJson, InvalidOrderPayload) as e:
        request.app[_STATE].protocol_refusals.append(f"{request.rel_url.path}: {e}")
        return _error(400, str(e))


# --- websockets --------------------------------------------------------------------------------


class _Socket:
    """One websocket connection: frames are queued by the state and written in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, frame: dict[str, Any] | list[dict[str, Any]] | str) -> None:
        self.queue.put_nowait(frame if isinstance(frame, str) else json.dumps(frame))

    async def write_all(self, server: SandboxServer) -> None:
        while (text := await self.queue.get()) is not None:
            if server.is_silent and text.upper() != "PONG":
                continue  # the "silent socket" fault: open, answering PING, no data
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_str(text)


async def _websocket(request: web.Request) -> web.WebSocketResponse:
    server = request.app[_SERVER]
    channel = request.match_info["channel"]
    if channel not in ("market", "user"):
        raise web.HTTPNotFound
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    socket = _Socket(ws)
    writer = asyncio.get_running_loop().create_task(socket.write_all(server))
    server.sockets[ws] = request.transport
    key: int | None = None
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            key, keep_open = _on_ws_text(server.state, channel, socket, key, message.data)
            if not keep_open:
                socket.queue.put_nowait(None)
                await writer
                await ws.close(code=1008, message=_INVALID_SUBSCRIPTION.encode())
                break
    finally:
        if key is not None:
            server.state.remove_subscriber(key)
        server.sockets.pop(ws, None)
        socket.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


def _on_ws_text(
    state: SandboxState, channel: str, socket: _Socket, key: int | None, text: str
) -> tuple[int | None, bool]:
    """Handle one text frame; returns the subscriber key and whether to keep the socket."""
    if text.strip() == "PING":
        if key is None:
            return key, False  # PING before the subscription: the venue closes with 1008
        socket.send("PONG")
        return key, True
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return key, key is not None and _invalid(socket)
    if not isinstance(message, dict):
        return key, key is not None and _invalid(socket)
    if key is None:
        return _subscribe(state, channel, socket, message)
    if "type" in message or message.get("operation") not in ("subscribe", "unsubscribe"):
        return key, _invalid(socket)  # the initial subscription may not be sent twice
    _operation(state, key, socket, message)
    return key, True


def _invalid(socket: _Socket) -> bool:
    socket.send("INVALID OPERATION")
    return True


def _ids(message: dict[str, Any], name: str) -> set[str] | None:
    values = message.get(name, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    return set(values)


def _subscribe(
    state: SandboxState, channel: str, socket: _Socket, message: dict[str, Any]
) -> tuple[int | None, bool]:
    if str(message.get("type", "")).lower() != channel:
        return None, False
    if channel == "market":
        assets = _ids(message, "assets_ids")
        if assets is None:
            return None, False
        subscriber = MarketSubscriber(
            send=socket.send,
            assets={TokenId(a) for a in assets},
            custom_features=bool(message.get("custom_feature_enabled", False)),
        )
        key = state.add_market_subscriber(subscriber)
        if message.get("initial_dump", True):
            books = state.initial_books(subscriber.assets)
            if books:
                socket.send(books)
        return key, True
    auth = message.get("auth")
    markets = _ids(message, "markets") if message.get("markets") is not None else set()
    if not isinstance(auth, dict) or markets is None:
        return None, False
    known = state.credentials.get(str(auth.get("apiKey", "")))
    if (
        known is None
        or auth.get("secret") != known.secret
        or auth.get("passphrase") != known.passphrase
    ):
        return None, False
    key = state.add_user_subscriber(
        UserSubscriber(send=socket.send, markets={ConditionId(m) for m in markets})
    )
    return key, True


def _operation(state: SandboxState, key: int, socket: _Socket, message: dict[str, Any]) -> None:
    is_subscribe = message["operation"] == "subscribe"
    market = state.market_subscribers.get(key)
    if market is not None:
        assets = {TokenId(a) for a in (_ids(message, "assets_ids") or set())}
        if is_subscribe:
            new = assets - market.assets
            market.assets |= assets
            if "custom_feature_enabled" in message:
                market.custom_features = bool(message["custom_feature_enabled"])
            books = state.initial_books(new)
            if books:
                socket.send(books)
        else:
            market.assets -= assets
        return
    user = state.user_subscribers.get(key)
    if user is not None:
        markets = {ConditionId(m) for m in (_ids(message, "markets") or set())}
        if is_subscribe:
            user.markets |= markets
        else:
            user.markets -= markets


async def _price_stream(request: web.Request) -> web.WebSocketResponse:
    """The real-time price stream (RTDS): `{"action": "subscribe", "subscriptions": [...]}`,
    text `ping` answered `pong`, updates per simulated step of each followed asset."""
    server = request.app[_SERVER]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    socket = _Socket(ws)
    writer = asyncio.get_running_loop().create_task(socket.write_all(server))
    server.sockets[ws] = request.transport
    subscriber = PriceSubscriber(send=socket.send)
    key = server.state.add_price_subscriber(subscriber)
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                _on_price_text(server.state, subscriber, socket, message.data)
    finally:
        server.state.remove_subscriber(key)
        server.sockets.pop(ws, None)
        socket.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


def _on_price_text(
    state: SandboxState, subscriber: PriceSubscriber, socket: _Socket, text: str
) -> None:
    if text.strip().lower() == "ping":
        socket.send("pong")
        return
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return  # the stream ignores what it cannot read
    if not isinstance(message, dict) or message.get("action") not in ("subscribe", "unsubscribe"):
        return
    streams = set()
    for item in message.get("subscriptions") or []:
        if not isinstance(item, dict) or item.get("topic") not in _PRICE_TOPICS:
            continue
        topic = str(item["topic"])
        symbol = _filtered_symbol(item.get("filters"))
        for asset in state.assets():
            if symbol is None or symbol == wire.rtds_symbol(asset, topic):
                streams.add((topic, asset))
    if message["action"] == "unsubscribe":
        subscriber.streams -= streams
        return
    for topic, asset in sorted(streams - subscriber.streams):
        points = state.recent_spots(asset)
        if points:
            subscriber.send(wire.rtds_dump(points, topic, asset))
    subscriber.streams |= streams


def _filtered_symbol(filters: object) -> str | None:
    """The symbol a subscription's `filters` (JSON inside a string) names, None for all."""
    if not isinstance(filters, str) or not filters:
        return None
    try:
        parsed = json.loads(filters)
    except json.JSONDecodeError:
        return None
    symbol = parsed.get("symbol") if isinstance(parsed, dict) else None
    return str(symbol).lower() if symbol else None


# --- the server ---------------------------------------------------------------------------------


class SandboxServer:
    """A running sandbox. `url` is the CLOB host, `ws_url` the websocket base (`/ws/`)."""

    def __init__(self, state: SandboxState, wall_clock: Clock) -> None:
        self.state = state
        self.wall_clock = wall_clock
        # Open websockets, with their connection to cut for the "dropped socket" fault.
        self.sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = {}
        self.is_silent = False
        self.url = ""
        self.ws_url = ""
        self.rtds_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="polymarket-sandbox", daemon=True)
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._startup_error: BaseException | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def _start(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._open())
        except OSError as e:
            self._startup_error = e
            self._started.set()
            return
        self._started.set()
        stepping = self._loop.create_task(self._step_forever())
        try:
            self._loop.run_forever()
        finally:
            stepping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(stepping)
            self._loop.run_until_complete(self._close())
            self._loop.close()
            self._stopped.set()

    async def _open(self) -> None:
        app = web.Application(middlewares=[_refusals])
        app[_STATE] = self.state
        app[_SERVER] = self
        _routes(app, _Handlers(self))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}/ws/"
        self.rtds_url = f"ws://{host}:{port}/rtds"

    async def _close(self) -> None:
        for ws in tuple(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")
        if self._runner is not None:
            await self._runner.cleanup()

    async def _step_forever(self) -> None:
        interval = self.state.settings.tick_interval_s
        while True:
            try:
                self.state.step(wall_now=self.wall_clock.now())
            except Exception:
                # A market that stops moving must not go unnoticed: say why, then stop.
                _log.exception("sandbox market step failed; the market is frozen")
                raise
            await asyncio.sleep(interval)

    def stop(self) -> None:
        """Close every socket and the listener, and end the server's thread."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server stops (for `python run.py sandbox`)."""
        self._stopped.wait()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- control from other threads (tests, fault scenarios) -----------------------------

    def call(self, action: Callable[[SandboxState], _T], timeout_s: float = 10.0) -> _T:
        """Run `action(state)` on the server's thread and return its result."""

        async def run() -> _T:
            return action(self.state)

        future: Future[_T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=timeout_s)

    def step(self) -> None:
        """Run one market step now (tests with a manual clock)."""
        self.call(lambda state: state.step(wall_now=self.wall_clock.now()))

    def drop_sockets(self) -> None:
        """Fault: close every websocket abruptly, as a dropped connection."""

        def cut_all(_: SandboxState) -> None:
            # No close frame: the peer sees the connection vanish, as on a network failure.
            for transport in tuple(self.sockets.values()):
                if transport is not None:
                    transport.abort()

        self.call(cut_all)

    def set_silent(self, is_silent: bool) -> None:
        """Fault: keep sockets open and answering PING, but deliver no data."""
        self.is_silent = is_silent

    def send_raw(self, text: str, timeout_s: float = 10.0) -> None:
        """Fault: send `text` as one frame on every open websocket (e.g. a malformed one)."""

        async def send_all() -> None:
            for ws in tuple(self.sockets):
                with contextlib.suppress(ConnectionResetError):
                    await ws.send_str(text)

        asyncio.run_coroutine_threadsafe(send_all(), self._loop).result(timeout=timeout_s)


_SERVER = web.AppKey("server", SandboxServer)


def _routes(app: web.Application, h: _Handlers) -> None:
    app.router.add_get("/", h.ok)
    app.router.add_get("/ok", h.ok)
    app.router.add_get("/time", h.time)
    app.router.add_get("/version", h.version)
    app.router.add_get("/tick-size", h.tick_size)
    app.router.add_get("/neg-risk", h.neg_risk)
    app.router.add_get("/fee-rate", h.fee_rate)
    app.router.add_get("/book", h.book)
    app.router.add_get("/midpoint", h.midpoint)
    app.router.add_get("/price", h.price)
    app.router.add_get("/markets/{condition_id}", h.market)
    app.router.add_get("/clob-markets/{condition_id}", h.clob_market)
    app.router.add_get("/markets-by-token/{token_id}", h.market_by_token)
    app.router.add_post("/auth/api-key", h.create_api_key)
    app.router.add_get("/auth/derive-api-key", h.derive_api_key)
    app.router.add_get("/auth/api-keys", h.api_keys)
    app.router.add_post("/order", h.post_order)
    app.router.add_post("/orders", h.post_orders)
    app.router.add_delete("/order", h.cancel_order)
    app.router.add_delete("/orders", h.cancel_orders)
    app.router.add_delete("/cancel-all", h.cancel_all)
    app.router.add_delete("/cancel-market-orders", h.cancel_market_orders)
    app.router.add_get("/data/orders", h.orders)
    app.router.add_get("/data/order/{order_id}", h.order)
    app.router.add_get("/data/trades", h.trades)
    app.router.add_get("/balance-allowance", h.balance_allowance)
    app.router.add_get("/balance-allowance/update", h.update_balance_allowance)
    app.router.add_post("/v1/heartbeats", h.heartbeat)
    app.router.add_get("/ws/{channel}", _websocket)
    app.router.add_get("/rtds", _price_stream)
    off_chain = _OffChainHandlers(h.server)
    app.router.add_get("/gamma/markets", off_chain.markets)
    app.router.add_get("/gamma/markets/slug/{slug}", off_chain.market_by_slug)
    app.router.add_get("/gamma/events", off_chain.events)
    app.router.add_get("/data-api/positions", off_chain.positions)
    app.router.add_get("/data-api/closed-positions", off_chain.closed_positions)


def serve(
    settings: SandboxSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
) -> SandboxServer:
    """Start the sandbox on `host:port` (0 = any free port) in a background thread.

    `clock` drives the market and the exchange; by default wall time, or a simulated clock
    at `settings.speed` from `settings.start_time` (or now). Returns once it is listening.
    """
    wall = RealClock()
    if clock is None:
        start = settings.start_time if settings.start_time is not None else wall.now()
        clock = (
            wall
            if settings.speed == 1 and settings.start_time is None
            else (SimulatedClock(start=start, speed=settings.speed))
        )
    server = SandboxServer(SandboxState(settings, clock), wall)
    server._start(host, port)  # noqa: SLF001 - construction is in two steps
    _log.info("Polymarket sandbox listening on %s", server.url)
    return server
