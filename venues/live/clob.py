"""The live venue: the `Venue` port on Polymarket's CLOB, through py-clob-client-v2.

Every call is synchronous, made on the caller's thread (the venue gateway's), and is one HTTP
request bounded by `live.request_timeout_s` (applied to the client's shared httpx client), so a
call never holds the gateway longer than about that. A few calls first fill a cache once with
one more bounded request each: the market's tick size, neg-risk flag and fee schedule (GET
/clob-markets, warmed ahead of time by `prepare_market`) and the CLOB version. Paged lists make
one request per page.

Behaviours of the client that are changed here, and why:
- After a fill, `post_order` would poll GET /data/trades for up to 30 s to collect settlement
  hashes; the bot learns about fills from the user channel, so the answer is returned at once.
- Its tick-size cache never expires; ours is replaced by `on_tick_size_change`.
- Batches carry `postOnly` per leg (the client's `post_orders` has one flag for all legs).
- It rounds sizes, market amounts and market prices down on floats
  (`floor(x * 10**digits) / 10**digits`): float(16.99) * 100 is 1698.9999999999998, so an order
  for 16.99 shares was signed for 16.98 (one size in eighteen between 5 and 50), and an exit
  plan left the position's last share-cent uncovered. `_client_float` hands it the float just
  above the decimal, which its rounding maps back to exactly our value.

Idempotence (invariant 2): the order signed for a client id is kept and posted again if the
same request is placed again, so a resend after a lost answer is the same order (same salt,
same hash, same venue id) and the venue refuses it as a duplicate instead of trading twice.
`order_by_client_id` recomputes that hash to find the order after a timeout.

Fees: trades on the wire carry no fee amount (V2 fees are charged at match time from the
market's fee schedule). `trades()` fills `TradeUpdate.fee` of our taker fills with
`venues.paper.fees.taker_fee` at the market's schedule from GET /clob-markets (`fd.r`,
`fd.e`); maker fills pay none. The user-channel feed reports fee 0 and leaves it to its reader.

Redemption is on-chain (the CTF or Protocol V2 Router contract), outside the CLOB API, and
this adapter sends no transactions: `redeem` answers what the winning tokens we hold are worth
(1 pUSD a share) once the market is resolved, and leaves the redemption to the wallet.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    BalanceAllowanceParams,
    MarketOrderArgs,
    OrderArgs,
    OrderMarketCancelParams,
    OrderPayload,
    PartialCreateOrderOptions,
)
from py_clob_client_v2.clob_types import OrderType as ClobOrderType
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.endpoints import GET_MARKET_BY_TOKEN, ORDERS, POST_ORDERS, TRADES
from py_clob_client_v2.exceptions import PolyApiException, PolyException
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from config.secrets import Secrets
from config.settings import LiveSettings
from runtime.clock import Clock
from state.backoff import full_bucket, retry_after_s, take_token
from venues.errors import (
    BatchTooLarge,
    InvalidOrderType,
    MarketNotResolved,
    OrderNotFound,
    RateLimited,
    RejectedError,
    ServerError,
    VenueError,
    VenueTimeout,
    classify,
)
from venues.live.credentials import (
    apply_request_timeout,
    load_or_create_credentials,
    signing_key,
)
from venues.live.data_api import DataApiClient
from venues.live.streams import UserChannelAuth
from venues.live.wire import (
    LAST_CURSOR,
    BalanceAllowance,
    Identity,
    Page,
    WireError,
    classify_order_status,
    parse_balance_allowance,
    parse_book,
    parse_cancel_response,
    parse_clob_market,
    parse_error_body,
    parse_open_order,
    parse_open_orders_page,
    parse_order_response,
    parse_trades_page,
)
from venues.paper.fees import taker_fee
from venues.port import (
    MAX_BATCH_ORDERS,
    MAX_CANCEL_IDS,
    CancelResult,
    MarketCallback,
    Unsubscribe,
    UserCallback,
)
from venues.types import (
    ZERO,
    BookSnapshot,
    ClosedPosition,
    ConditionId,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    Side,
    TokenId,
    TradeUpdate,
    VenuePosition,
)

__all__ = ["LiveVenue", "MarketVersion"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

UserStreamFactory = Callable[[UserChannelAuth, Identity], Callable[[UserCallback], Unsubscribe]]

_FIRST_CURSOR = "MA=="
_MAX_PAGES = 10_000  # a venue that never ends a list must not loop the gateway forever
_VERSION_V3 = 3  # py-clob-client-v2's number for Protocol V2 (ExchangeV3) orders
_ACTIVE = frozenset({OrderStatus.LIVE, OrderStatus.DELAYED, OrderStatus.UNMATCHED})
# Signed orders and order-to-client ids kept for idempotent resends and lookups. A bot runs for
# days; the oldest entries belong to windows resolved long ago, so they are forgotten first.
REMEMBERED_ORDERS = 20_000

MarketVersion = str
"""Gamma's `version` of a market: "v1" (CTF tokens, `clobTokenIds`) or "v2" (Protocol V2
position ids, `positionIds`, signed for ExchangeV3)."""


@dataclass(frozen=True, slots=True)
class _FeeSchedule:
    rate: Decimal
    exponent: int


@dataclass(frozen=True, slots=True)
class _Signed:
    request: OrderRequest
    order: Any  # py-clob-client-v2's SignedOrderV2
    order_id: OrderId


class _Client(ClobClient):  # type: ignore[misc]  # the library is untyped
    """py-clob-client-v2 with the changes the module docstring lists."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tick_sizes: dict[str, str] = {}

    def _resolve_transactions_hashes(self, response: Any) -> Any:
        return response  # no 30 s poll of /data/trades after a fill

    def get_tick_size(self, token_id: str) -> str:
        tick = self.tick_sizes.get(token_id)
        if tick is None:
            tick = self.tick_sizes[token_id] = str(super().get_tick_size(token_id))
        return tick

    def condition_of_token(self, token_id: str) -> Any:
        return self._get(f"{self.host}{GET_MARKET_BY_TOKEN}{token_id}")

    def post_legs(self, legs: list[tuple[Any, str, bool]]) -> Any:
        owner = self.creds.api_key
        payload = [
            order_to_json_v2(order, owner, kind, post_only) for order, kind, post_only in legs
        ]
        serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        headers = self._l2_headers("POST", POST_ORDERS, body=payload, serialized_body=serialized)
        return self._post(f"{self.host}{POST_ORDERS}", headers=headers, data=serialized)

    def l2_get(self, path: str, params: Mapping[str, str]) -> Any:
        return self._get(f"{self.host}{path}", headers=self._l2_headers("GET", path), params=params)


def _reason(error_msg: object) -> str:
    if isinstance(error_msg, dict):
        try:
            return parse_error_body(error_msg)
        except WireError:
            return json.dumps(error_msg)
    return str(error_msg)


def _venue_error(error: PolyException, what: str) -> VenueError:
    """The typed error for a failure of the client; `what` names the request."""
    if isinstance(error, PolyApiException):
        if error.status_code is not None:
            return classify(error.status_code, _reason(error.error_msg))
        cause = error.__context__  # the client re-raises httpx errors without their text
        if isinstance(cause, httpx.ConnectError):
            # Never reached the venue, so it cannot have taken effect: a plain retryable error.
            detail = f"internal server error: cannot connect for {what}"
            return ServerError(rule="unreachable", value=what, detail=detail)
        if isinstance(cause, httpx.TimeoutException):
            return VenueTimeout(rule="timeout", value=what, detail=f"request timed out: {what}")
        # The connection broke after the request went out: the outcome is unknown.
        detail = f"request timed out: {what} lost its connection ({type(cause).__name__})"
        return VenueTimeout(rule="connection_lost", value=what, detail=detail)
    # Refused by the client before sending (price off the tick grid, bad tick size...).
    return classify(400, str(error.msg))


def _tick_text(tick: Decimal) -> str:
    return format(tick.normalize(), "f")


class _Heartbeat:
    """POST /v1/heartbeats every `interval_s` on a daemon thread: the venue cancels all our
    orders if they stop, so a hung process does not leave orders on the book. Failures are
    logged and retried next period; it is a backstop, the gateway's cancels are the rule."""

    def __init__(self, client: _Client, interval_s: float) -> None:
        self._client = client
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clob-heartbeat", daemon=True)
        self.beats = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        heartbeat_id = ""
        while not self._stop.is_set():
            try:
                answer = self._client.post_heartbeat(heartbeat_id)
                heartbeat_id = (
                    str(answer.get("heartbeat_id") or "") if isinstance(answer, dict) else ""
                )
                self.beats += 1
            except PolyException as e:
                heartbeat_id = ""  # start a new chain; the venue refuses a stale id
                _log.warning("heartbeat failed: %s", _venue_error(e, "POST /v1/heartbeats"))
            self._stop.wait(self._interval_s)

    def stop(self, timeout_s: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)


class LiveVenue:
    """`venues.port.Venue` on Polymarket's CLOB. See the module docstring.

    Build it once per process (it holds the order-id map, the signed orders and the heartbeat),
    and `close()` it at shutdown. `market_stream` is the market websocket feed and
    `user_stream` makes the user channel's feed from the API credentials and our identity
    (e.g. `venues.live.streams.user_stream_factory`); `subscribe_user` / `subscribe_market`
    hand the callback to them.
    """

    def __init__(
        self,
        settings: LiveSettings,
        secrets: Secrets,
        clock: Clock,
        *,
        credentials_file: Path,
        user_stream: UserStreamFactory | None = None,
        market_stream: Callable[[MarketCallback], Unsubscribe] | None = None,
        heartbeat: bool = True,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._market_stream = market_stream
        apply_request_timeout(settings.request_timeout_s)
        self._client = _Client(
            settings.clob_host,
            chain_id=settings.chain_id,
            key=signing_key(secrets),
            signature_type=settings.signature_type,
            funder=settings.funder_address,
        )
        try:
            credentials = load_or_create_credentials(self._client, secrets, credentials_file)
        except PolyException as e:
            raise _venue_error(e, "API credentials (create or derive)") from None
        self._client.set_api_creds(credentials)
        self.address: str = self._client.get_address()
        self.funder: str = self._client.builder.funder
        self.identity = Identity.of(
            api_keys=(credentials.api_key,), addresses=(self.address, self.funder)
        )
        # The user channel authenticates with the credentials made just above.
        self._user_stream = (
            None
            if user_stream is None
            else user_stream(
                UserChannelAuth.of(
                    api_key=credentials.api_key,
                    secret=credentials.api_secret,
                    passphrase=credentials.api_passphrase,
                ),
                self.identity,
            )
        )
        self._data_api = DataApiClient(
            settings.data_host, self.funder, timeout_s=settings.request_timeout_s
        )
        self._contracts = get_contract_config(settings.chain_id)
        self._bucket = full_bucket(
            capacity=settings.order_burst,
            rate_per_s=settings.orders_per_second,
            now=clock.monotonic(),
        )
        self._client_of: dict[OrderId, str] = {}
        self._signed: dict[str, _Signed] = {}
        self._v2_tokens: set[TokenId] = set()
        self._fees: dict[ConditionId, _FeeSchedule] = {}
        self._condition_of: dict[TokenId, ConditionId] = {}
        self._redeem_logged: set[ConditionId] = set()
        self._heartbeat = _Heartbeat(self._client, settings.heartbeat_interval_s)
        if heartbeat:
            self._heartbeat.start()

    # --- lifecycle and hooks -------------------------------------------------------------

    def close(self) -> None:
        """Stop the heartbeat (the venue then cancels our orders ~10 s later)."""
        self._heartbeat.stop(timeout_s=self._settings.request_timeout_s + 1)

    @property
    def heartbeats_sent(self) -> int:
        return self._heartbeat.beats

    def prepare_market(self, condition_id: ConditionId, version: MarketVersion = "v1") -> None:
        """Fill the caches an order on this market needs (tick, neg-risk, fees: one GET
        /clob-markets), off the placement's path. `version` is Gamma's: tokens of a "v2" market
        are Protocol V2 position ids, signed for ExchangeV3 and read as CONDITIONAL-V2."""
        tokens = self._load_market(condition_id)
        if version.lower() == "v2":
            self._v2_tokens.update(tokens)

    def on_tick_size_change(self, token_id: TokenId, new_tick: Decimal) -> None:
        """The market channel's `tick_size_change`: sign later orders on the new grid."""
        self._client.tick_sizes[token_id] = _tick_text(new_tick)

    # --- orders --------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderResult:
        _check_order_type(request)
        self._take_order_token()
        signed = self._sign(request)
        raw = self._call(
            "POST /order",
            lambda: self._client.post_order(
                signed.order, getattr(ClobOrderType, request.order_type.value), request.post_only
            ),
        )
        result = parse_order_response(raw, request.client_id)
        if result.order_id is None:
            raise classify(400, result.error or "order rejected")
        _remember(self._client_of, result.order_id, request.client_id)
        return result

    def place_orders(self, requests: tuple[OrderRequest, ...]) -> tuple[OrderResult, ...]:
        if len(requests) > MAX_BATCH_ORDERS:
            detail = f"too many orders in one batch: {len(requests)} > {MAX_BATCH_ORDERS}"
            raise BatchTooLarge(rule="max_batch_orders", value=len(requests), detail=detail)
        if not requests:
            return ()
        self._take_order_token()
        results: list[OrderResult | None] = [None] * len(requests)
        legs: list[tuple[int, _Signed]] = []
        for index, request in enumerate(requests):
            try:
                _check_order_type(request)
                legs.append((index, self._sign(request)))
            except RejectedError as refused:
                results[index] = OrderResult(
                    client_id=request.client_id, order_id=None, status=None, error=str(refused)
                )
        if legs:
            wire_legs = [
                (s.order, s.request.order_type.value, s.request.post_only) for _, s in legs
            ]
            raw = self._call("POST /orders", lambda: self._client.post_legs(wire_legs))
            if not isinstance(raw, list) or len(raw) != len(legs):
                problem = f"expected {len(legs)} answers, got {raw!r}"
                raise WireError(path="$", problem=problem)
            for (index, signed), answer in zip(legs, raw, strict=True):
                result = parse_order_response(answer, signed.request.client_id, f"$[{index}]")
                if result.order_id is not None:
                    _remember(self._client_of, result.order_id, signed.request.client_id)
                results[index] = result
        return tuple(r for r in results if r is not None)

    def cancel(self, order_id: OrderId) -> CancelResult:
        raw = self._call(
            "DELETE /order", lambda: self._client.cancel_order(OrderPayload(orderID=order_id))
        )
        return parse_cancel_response(raw)

    def cancel_orders(self, order_ids: tuple[OrderId, ...]) -> CancelResult:
        if not order_ids:
            return CancelResult()
        if len(order_ids) > MAX_CANCEL_IDS:
            detail = f"too many orders in one batch: {len(order_ids)} > {MAX_CANCEL_IDS}"
            raise BatchTooLarge(rule="max_cancel_ids", value=len(order_ids), detail=detail)
        raw = self._call("DELETE /orders", lambda: self._client.cancel_orders(list(order_ids)))
        return parse_cancel_response(raw)

    def cancel_all(self) -> CancelResult:
        return parse_cancel_response(self._call("DELETE /cancel-all", self._client.cancel_all))

    def cancel_market(self, condition_id: ConditionId) -> CancelResult:
        params = OrderMarketCancelParams(market=condition_id)
        raw = self._call(
            "DELETE /cancel-market-orders", lambda: self._client.cancel_market_orders(params)
        )
        return parse_cancel_response(raw)

    # --- account state -------------------------------------------------------------------

    def get_order(self, order_id: OrderId) -> OrderSnapshot | None:
        try:
            raw = self._call(
                f"GET /data/order/{order_id}", lambda: self._client.get_order(order_id)
            )
        except OrderNotFound:
            return None
        if not raw:
            return None  # the venue answers null for an order it does not have
        snapshot = self._with_client_id(parse_open_order(raw))
        return snapshot if classify_order_status(snapshot.status) in _ACTIVE else None

    def order_by_client_id(self, client_id: str) -> OrderSnapshot | None:
        """What became of the order this venue signed for `client_id`, terminal included:
        None if it never signed one, or the venue has neither the order nor a fill of it."""
        signed = self._signed.get(client_id)
        if signed is None:
            return None
        _remember(self._client_of, signed.order_id, client_id)
        active = self.get_order(signed.order_id)
        if active is not None:
            return active
        request = signed.request
        condition = self._condition_of.get(request.token_id)
        fills = [t for t in self.trades(condition) if t.order_id == signed.order_id]
        if not fills:
            return None
        return OrderSnapshot(
            order_id=signed.order_id,
            client_id=client_id,
            condition_id=fills[0].condition_id,
            token_id=request.token_id,
            side=request.side,
            price=request.price,
            original_size=request.size,
            size_matched=sum((t.size for t in fills), ZERO),
            order_type=request.order_type,
            status="MATCHED",
            created_at=min(t.timestamp for t in fills),
        )

    def open_orders(self, condition_id: ConditionId | None = None) -> tuple[OrderSnapshot, ...]:
        params: dict[str, str] = {"market": condition_id} if condition_id else {}
        orders = self._all_pages(ORDERS, params, parse_open_orders_page)
        return tuple(self._with_client_id(order) for order in orders)

    def trades(
        self, condition_id: ConditionId | None = None, after: float | None = None
    ) -> tuple[TradeUpdate, ...]:
        params: dict[str, str] = {"market": condition_id} if condition_id else {}
        if after is not None:
            params["after"] = str(int(after))
        identity = self.identity
        fills = self._all_pages(TRADES, params, lambda raw: parse_trades_page(raw, identity))
        return tuple(self._with_fee(fill) for fill in fills)

    def balance(self, token_id: TokenId | None = None) -> Decimal:
        return self._balance_allowance(token_id, refresh=False).balance

    def refresh_balance(self, token_id: TokenId | None = None) -> Decimal:
        return self._balance_allowance(token_id, refresh=True).balance

    def allowance(self, token_id: TokenId | None = None) -> Decimal:
        """What the exchange we sign for may move: its entry in the venue's per-spender map."""
        allowances = self._balance_allowance(token_id, refresh=False).allowances
        exchange = self._exchange_for(token_id).lower()
        by_spender = {spender.lower(): amount for spender, amount in allowances.items()}
        return by_spender.get(exchange, by_spender.get("", ZERO))

    def redeem(self, condition_id: ConditionId) -> Decimal:
        """What our winning tokens of a resolved market are worth (1 pUSD a share); raises
        `MarketNotResolved` before resolution. Sends no transaction: the wallet redeems
        on-chain (see the module docstring); this is logged once per market."""
        raw = self._call(
            f"GET /markets/{condition_id}", lambda: self._client.get_market(condition_id)
        )
        market = parse_clob_market(raw)
        winner = market.winning_token
        if winner is None:
            detail = f"market is not resolved: {market.slug or condition_id} cannot be redeemed yet"
            raise MarketNotResolved(rule="market_not_resolved", value=condition_id, detail=detail)
        value = self.refresh_balance(winner)
        if condition_id not in self._redeem_logged:
            self._redeem_logged.add(condition_id)
            _log.warning(
                "redeem %s: %s winning shares are worth %s pUSD once the wallet redeems them "
                "on-chain; polyactor does not send that transaction",
                condition_id,
                value,
                value,
            )
        return value

    # --- market data ---------------------------------------------------------------------

    def book(self, token_id: TokenId) -> BookSnapshot:
        raw = self._call("GET /book", lambda: self._client.get_order_book(token_id))
        return parse_book(raw, tick_size_if_absent=self.tick_size(token_id))

    def midpoint(self, token_id: TokenId) -> Decimal | None:
        try:
            raw = self._call("GET /midpoint", lambda: self._client.get_midpoint(token_id))
        except OrderNotFound:
            return None  # 404 "No orderbook exists": no two-sided book, no midpoint
        mid = raw.get("mid") if isinstance(raw, dict) else None
        return Decimal(str(mid)) if mid not in (None, "") else None

    def tick_size(self, token_id: TokenId) -> Decimal:
        return Decimal(self._call("GET /tick-size", lambda: self._client.get_tick_size(token_id)))

    def server_time(self) -> float:
        return float(self._call("GET /time", self._client.get_server_time))

    # --- streams -------------------------------------------------------------------------

    # --- the wallet's positions (Data API) ---------------------------------------------------

    def positions(self) -> tuple[VenuePosition, ...]:
        return self._data_api.positions()

    def closed_positions(self) -> tuple[ClosedPosition, ...]:
        return self._data_api.closed_positions()

    def subscribe_market(self, callback: MarketCallback) -> Unsubscribe:
        if self._market_stream is None:
            msg = "LiveVenue was built without market_stream: pass the market websocket feed"
            raise RuntimeError(msg)
        return self._market_stream(callback)

    def subscribe_user(self, callback: UserCallback) -> Unsubscribe:
        if self._user_stream is None:
            msg = "LiveVenue was built without user_stream: pass the user websocket feed"
            raise RuntimeError(msg)
        return self._user_stream(callback)

    # --- helpers -------------------------------------------------------------------------

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except PolyException as e:
            raise _venue_error(e, what) from None

    def _take_order_token(self) -> None:
        now = self._clock.monotonic()
        self._bucket, taken = take_token(self._bucket, now)
        if not taken:
            wait_s = retry_after_s(self._bucket, now)
            detail = (
                f"Too Many Requests: live.orders_per_second={self._settings.orders_per_second} "
                f"(burst {self._settings.order_burst}) reached; next order in {wait_s:.3f} s"
            )
            raise RateLimited(
                rule="client_rate_limit", value=self._settings.orders_per_second, detail=detail
            )

    def _sign(self, request: OrderRequest) -> _Signed:
        known = self._signed.get(request.client_id)
        if known is not None:
            if known.request != request:
                detail = f"order rejected: client id {request.client_id} was used for another order"
                raise RejectedError(rule="client_id_reused", value=request.client_id, detail=detail)
            return known
        token = request.token_id
        is_v2 = token in self._v2_tokens
        target = {"position_id": token, "token_id": None} if is_v2 else {"token_id": token}
        tick_size = self._call("GET /tick-size", lambda: self._client.get_tick_size(token))
        options = PartialCreateOrderOptions(tick_size=tick_size)
        digits = ROUNDING_CONFIG.get(tick_size)
        if digits is None:
            detail = f"order rejected: the client has no rounding for tick size {tick_size!r}"
            raise RejectedError(rule="tick_size", value=tick_size, detail=detail)
        if request.side is Side.BUY and request.amount is not None:
            self._load_market_of(token)  # fee schedule cached: no lookups inside the client
            market_args = MarketOrderArgs(
                amount=_client_float(request.amount, digits.size),
                side=request.side.value,
                price=_client_float(request.price, digits.price),
                order_type=request.order_type.value,
                **target,
            )
            order = self._call(
                "sign order", lambda: self._client.create_market_order(market_args, options)
            )
        else:
            expiration = (
                int(request.expiration)
                if request.order_type is OrderType.GTD and request.expiration
                else 0
            )
            limit_args = OrderArgs(
                price=float(request.price),  # the client rounds limit prices to nearest
                size=_client_float(request.size, digits.size),
                side=request.side.value,
                expiration=expiration,
                **target,
            )
            order = self._call("sign order", lambda: self._client.create_order(limit_args, options))
        signed = _Signed(request=request, order=order, order_id=self._order_hash(order, token))
        _remember(self._signed, request.client_id, signed)
        return signed

    def _exchange_for(self, token_id: TokenId | None) -> str:
        if token_id is not None and token_id in self._v2_tokens:
            return str(self._contracts.exchange_v3)
        is_neg_risk = token_id is not None and bool(
            self._call("GET /neg-risk", lambda: self._client.get_neg_risk(token_id))
        )
        return str(
            self._contracts.neg_risk_exchange_v2 if is_neg_risk else self._contracts.exchange_v2
        )

    def _order_hash(self, order: Any, token: TokenId) -> OrderId:
        """The venue's id of a signed order: its EIP-712 digest under the exchange it is for."""
        version = str(_VERSION_V3) if token in self._v2_tokens else "2"
        builder = ExchangeOrderBuilderV2(
            self._exchange_for(token),
            self._settings.chain_id,
            self._client.signer,
            domain_version=version,
        )
        return OrderId(str(builder.build_order_hash(builder.build_order_typed_data(order))))

    def _load_market(self, condition_id: ConditionId) -> tuple[TokenId, ...]:
        info = self._call(
            f"GET /clob-markets/{condition_id}",
            lambda: self._client.get_clob_market_info(condition_id),
        )
        tokens = tuple(TokenId(str(t["t"])) for t in info.get("t") or () if t)
        for token in tokens:
            self._condition_of[token] = condition_id
            self._client.tick_sizes[token] = _tick_text(Decimal(str(info["mts"])))
        schedule = info.get("fd") or {}
        self._fees[condition_id] = _FeeSchedule(
            rate=Decimal(str(schedule.get("r", 0))), exponent=int(schedule.get("e", 1) or 1)
        )
        return tokens

    def _load_market_of(self, token: TokenId) -> None:
        if token in self._condition_of:
            return
        found = self._call(
            f"GET /markets-by-token/{token}", lambda: self._client.condition_of_token(token)
        )
        condition = found.get("condition_id") if isinstance(found, dict) else None
        if not condition:
            raise WireError(path="$.condition_id", problem=f"missing for token {token}")
        self._load_market(ConditionId(str(condition)))

    def _fee_schedule(self, condition_id: ConditionId) -> _FeeSchedule:
        schedule = self._fees.get(condition_id)
        if schedule is None:
            self._load_market(condition_id)
            schedule = self._fees[condition_id]
        return schedule

    def _with_fee(self, fill: TradeUpdate) -> TradeUpdate:
        if fill.is_maker:
            return fill
        schedule = self._fee_schedule(fill.condition_id)
        fee = taker_fee(
            side=fill.side,
            shares=fill.size,
            price=fill.price,
            rate=schedule.rate,
            exponent=schedule.exponent,
        )
        return replace(fill, fee=fee)

    def _with_client_id(self, order: OrderSnapshot) -> OrderSnapshot:
        client_id = self._client_of.get(order.order_id)
        return order if client_id is None else replace(order, client_id=client_id)

    def _all_pages(
        self, path: str, params: dict[str, str], parse: Callable[[object], Page[T]]
    ) -> list[T]:
        items: list[T] = []
        cursor = _FIRST_CURSOR
        for _ in range(_MAX_PAGES):
            query = {**params, "next_cursor": cursor}
            raw = self._call(f"GET {path}", lambda: self._client.l2_get(path, query))  # noqa: B023 - called at once
            page = parse(raw)
            items.extend(page.items)
            if page.is_last:
                return items
            cursor = page.next_cursor
        problem = (
            f"more than {_MAX_PAGES} pages; the last cursor was {cursor!r} (not {LAST_CURSOR})"
        )
        raise WireError(path="$.next_cursor", problem=problem)

    def _balance_allowance(self, token_id: TokenId | None, *, refresh: bool) -> BalanceAllowance:
        if token_id is None:
            params = BalanceAllowanceParams(asset_type="COLLATERAL")
        else:
            kind = "CONDITIONAL-V2" if token_id in self._v2_tokens else "CONDITIONAL"
            params = BalanceAllowanceParams(asset_type=kind, token_id=token_id)
        if refresh:
            self._call(
                "GET /balance-allowance/update",
                lambda: self._client.update_balance_allowance(params),
            )
        raw = self._call(
            "GET /balance-allowance", lambda: self._client.get_balance_allowance(params)
        )
        return parse_balance_allowance(raw)


K = TypeVar("K")
V = TypeVar("V")


def _remember(known: dict[K, V], key: K, value: V) -> None:
    known[key] = value
    while len(known) > REMEMBERED_ORDERS:
        del known[next(iter(known))]  # dicts keep insertion order: this is the oldest


def _client_float(value: Decimal, digits: int) -> float:
    """`value` as the float that the client's `round_down(x, digits)` (a float floor) maps to
    `value` truncated to `digits`: the nearest float above when the nearest one falls short."""
    scale = 10**digits
    wanted = int((value * scale).to_integral_value(rounding=ROUND_DOWN))
    x = float(value)
    while math.floor(x * scale) < wanted:
        x = math.nextafter(x, math.inf)
    return x


def _check_order_type(request: OrderRequest) -> None:
    if request.post_only and request.order_type in (OrderType.FOK, OrderType.FAK):
        detail = (
            f"invalid order type: post-only is not allowed on {request.order_type.value} orders"
        )
        raise InvalidOrderType(rule="post_only", value=request.order_type.value, detail=detail)
