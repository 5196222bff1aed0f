"""Polymarket's JSON, both ways: parsers into the domain values of `venues.types`, and encoders
of those values back into Polymarket's JSON for the wire-compatible local exchange.

Pure: no I/O, no clock, no threads. Every number on the wire is a string (Data API: a JSON
number) and becomes a `Decimal`; timestamps (ms or s strings, integers, ISO 8601) become epoch
seconds. Anything unknown or malformed raises one `WireError` naming the field path, so a feed
can count and drop it; `parse_frame` does exactly that for one websocket frame.

Shapes and pitfalls are in shared/reference/polymarket_api.md (2.8 REST, 4 websocket, 5 Gamma,
6 Data API) and polymarket_v2.md (5 websocket, `positionIds` of Protocol V2 markets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, TypeVar

from venues.port import CancelResult
from venues.types import (
    ZERO,
    BestBidAsk,
    BookLevel,
    BookSnapshot,
    ClosedPosition,
    ConditionId,
    LastTrade,
    MarketResolved,
    MarketWindow,
    NewMarket,
    OrderId,
    OrderResult,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    PriceChange,
    PriceLevelChange,
    Side,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeStatus,
    TradeUpdate,
    VenuePosition,
)

__all__ = [
    "DEFAULT_TICK_SIZE",
    "LAST_CURSOR",
    "NOBODY",
    "BalanceAllowance",
    "ClobMarket",
    "ClobToken",
    "DataPosition",
    "FrameParse",
    "GammaMarket",
    "Identity",
    "Page",
    "ServerNotice",
    "WireError",
    "WireEvent",
    "classify_order_status",
    "encode_balance_allowance",
    "encode_best_bid_ask",
    "encode_book",
    "encode_cancel_response",
    "encode_last_trade",
    "encode_market_resolved",
    "encode_open_order",
    "encode_order_event",
    "encode_order_response",
    "encode_page",
    "encode_price_change",
    "encode_tick_size_change",
    "encode_trade",
    "parse_balance_allowance",
    "parse_book",
    "parse_cancel_response",
    "parse_clob_market",
    "parse_closed_positions",
    "parse_error_body",
    "parse_frame",
    "parse_gamma_market",
    "parse_message",
    "parse_open_order",
    "parse_open_orders_page",
    "parse_order_response",
    "parse_positions",
    "parse_trade",
    "parse_trades_page",
    "up_down_window",
    "venue_position",
]

DEFAULT_TICK_SIZE = Decimal("0.01")
"""The tick of a `book` frame that does not carry one (older servers); the feed should pass the
market's real tick from discovery instead."""

LAST_CURSOR = "LTE="
"""`next_cursor` of the last page of a paged REST list."""

COLLATERAL_DECIMALS = 6
"""pUSD and outcome tokens have 6 decimals; /balance-allowance answers in base units."""

_MS_THRESHOLD = 100_000_000_000
"""Epoch numbers above this are milliseconds (1e11 s is the year 5138)."""

_ORDER_STATUS_PREFIX = "ORDER_STATUS_"
_TRADE_STATUS_PREFIX = "TRADE_STATUS_"


class WireError(ValueError):
    """A message we cannot turn into a domain value; `path` names the offending field."""

    def __init__(self, *, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ServerNotice(StrEnum):
    """The plain-text frames the CLOB websocket sends besides JSON."""

    PONG = "PONG"
    NO_NEW_ASSETS = "NO NEW ASSETS"  # heartbeat of the new-market feed
    INVALID_OPERATION = "INVALID OPERATION"  # e.g. a second initial subscription on one socket


WireEvent = (
    BookSnapshot
    | PriceChange
    | LastTrade
    | TickSizeChange
    | MarketResolved
    | BestBidAsk
    | NewMarket
    | SpotPrice
    | OrderUpdate
    | TradeUpdate
)
"""Everything a websocket frame can carry (market channel, user channel, RTDS prices)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who "we" are on the user channel: our API keys (`owner`) and wallet addresses
    (`maker_address`, the funder/proxy and the signer). A trade where we were maker lists every
    maker order of the match; ours are the ones carrying one of these."""

    api_keys: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()

    @staticmethod
    def of(*, api_keys: Iterable[str] = (), addresses: Iterable[str] = ()) -> Identity:
        # Addresses are compared case-insensitively: the venue mixes checksummed and lower case.
        return Identity(
            api_keys=frozenset(api_keys), addresses=frozenset(a.lower() for a in addresses)
        )

    def owns(self, *, owner: str | None, address: str | None) -> bool:
        return (owner is not None and owner in self.api_keys) or (
            address is not None and address.lower() in self.addresses
        )

    def knows_someone(self) -> bool:
        return bool(self.api_keys or self.addresses)

    def learn(self, *, owner: str | None, address: str | None) -> Identity:
        """This identity plus the owner and address of an order the user channel sent us
        (user-channel `order` events are only ever about our own orders)."""
        keys = self.api_keys | ({owner} if owner else set())
        addresses = self.addresses | ({address.lower()} if address else set())
        return Identity(api_keys=frozenset(keys), addresses=frozenset(addresses))


NOBODY = Identity()
"""The identity of a market-data-only reader: no trade is ever ours as maker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameParse:
    """One websocket frame, parsed: the events it carried, the text notices, and how many of
    its messages were rejected (with their errors, for a rate-limited log line)."""

    events: tuple[WireEvent, ...] = ()
    notices: tuple[ServerNotice, ...] = ()
    rejected_count: int = 0
    errors: tuple[WireError, ...] = ()
    identity: Identity = NOBODY


T = TypeVar("T")
StrEnumT = TypeVar("StrEnumT", bound=StrEnum)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a cursor-paged REST list (`/data/orders`, `/data/trades`)."""

    items: tuple[T, ...]
    next_cursor: str

    @property
    def is_last(self) -> bool:
        return self.next_cursor in ("", LAST_CURSOR)


def _frozen_amounts() -> Mapping[str, Decimal]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceAllowance:
    """GET /balance-allowance, in whole units (pUSD, or shares of one token)."""

    balance: Decimal
    allowances: Mapping[str, Decimal] = field(default_factory=_frozen_amounts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowances", MappingProxyType(dict(self.allowances)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClobToken:
    token_id: TokenId
    outcome: str
    winner: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClobMarket:
    """GET /markets/{condition_id} of the CLOB; `tokens[].winner` is its resolution flag."""

    condition_id: ConditionId
    question: str
    slug: str
    tokens: tuple[ClobToken, ...]
    tick_size: Decimal
    min_order_size: Decimal
    accepting_orders: bool
    active: bool
    closed: bool
    neg_risk: bool
    end: float | None

    @property
    def winning_token(self) -> TokenId | None:
        return next((t.token_id for t in self.tokens if t.winner), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class GammaMarket:
    """A Gamma market. `token_ids` is empty while the CLOB has not hydrated the market yet
    (discovery retries later); for Protocol V2 markets (`version == "v2"`) they are the
    `positionIds`, which is also what books and subscriptions use."""

    gamma_id: str
    condition_id: ConditionId
    slug: str
    question: str
    version: str
    outcomes: tuple[str, ...]
    token_ids: tuple[TokenId, ...]
    outcome_prices: tuple[Decimal, ...]
    window_start: float | None  # eventStartTime: the window start of Up/Down markets
    end: float | None
    tick_size: Decimal | None
    min_order_size: Decimal | None
    active: bool
    closed: bool
    accepting_orders: bool
    neg_risk: bool

    @property
    def is_hydrated(self) -> bool:
        return len(self.token_ids) == len(self.outcomes) > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DataPosition:
    """One position from the Data API (`/positions`), for reconciliation."""

    wallet: str
    token_id: TokenId
    condition_id: ConditionId
    size: Decimal
    avg_price: Decimal
    current_price: Decimal
    redeemable: bool
    outcome: str
    outcome_index: int
    slug: str
    end_date: str
    opposite_token: TokenId | None = None


# --- field access --------------------------------------------------------------------------


def _object(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise WireError(path=path, problem=f"expected a JSON object, got {type(value).__name__}")
    return value


def _field(obj: Mapping[str, object], key: str, path: str) -> object:
    if key not in obj or obj[key] is None:
        raise WireError(path=f"{path}.{key}", problem="missing")
    return obj[key]


def _first_field(obj: Mapping[str, object], keys: Sequence[str], path: str) -> object:
    """The first of `keys` present (older wire names, `token_id` alias of `asset_id`, ...)."""
    for key in keys:
        if obj.get(key) is not None:
            return obj[key]
    raise WireError(path=f"{path}.{keys[0]}", problem="missing")


def _text(obj: Mapping[str, object], key: str, path: str) -> str:
    value = _field(obj, key, path)
    if not isinstance(value, str):
        raise WireError(path=f"{path}.{key}", problem=f"expected a string, got {value!r}")
    return value


def _optional_text(obj: Mapping[str, object], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(path=f"{path}.{key}", problem=f"expected a string, got {value!r}")
    return value


def _to_decimal(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise WireError(path=path, problem=f"expected a number, got {value!r}")
    try:
        # str() of a float is its shortest repr, so 0.55 becomes Decimal("0.55"), not 0.5500000001
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise WireError(path=path, problem=f"not a number: {value!r}") from None
    if not number.is_finite():
        raise WireError(path=path, problem=f"not a finite number: {value!r}")
    return number


def _decimal(obj: Mapping[str, object], key: str, path: str) -> Decimal:
    return _to_decimal(_field(obj, key, path), f"{path}.{key}")


def _decimal_or_none(obj: Mapping[str, object], key: str, path: str) -> Decimal | None:
    """Absent, null and "" (the venue's "no value", e.g. a killed FOK's size_matched) are None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _to_decimal(value, f"{path}.{key}")


def _to_epoch_seconds(value: object, path: str) -> float:
    if isinstance(value, bool):
        raise WireError(path=path, problem=f"expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value).timestamp()
            except ValueError:
                raise WireError(path=path, problem=f"not a timestamp: {value!r}") from None
    else:
        raise WireError(path=path, problem=f"expected a timestamp, got {value!r}")
    return number / 1000 if number > _MS_THRESHOLD else number


def _timestamp(obj: Mapping[str, object], key: str, path: str) -> float:
    return _to_epoch_seconds(_field(obj, key, path), f"{path}.{key}")


def _timestamp_or_none(obj: Mapping[str, object], key: str, path: str) -> float | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _to_epoch_seconds(value, f"{path}.{key}")


def _flag(obj: Mapping[str, object], key: str, path: str, *, default: bool) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise WireError(path=f"{path}.{key}", problem=f"expected true or false, got {value!r}")
    return value


def _list(obj: Mapping[str, object], key: str, path: str) -> list[object]:
    value = _field(obj, key, path)
    if not isinstance(value, list):
        raise WireError(path=f"{path}.{key}", problem=f"expected a JSON array, got {value!r}")
    return value


def _enum(enum: type[StrEnumT], text: str, path: str, *, prefix: str = "") -> StrEnumT:
    # V2 REST may answer prefixed enums (ORDER_STATUS_LIVE, TRADE_STATUS_CONFIRMED).
    bare = text.removeprefix(prefix)
    try:
        return enum(bare)
    except ValueError:
        expected = ", ".join(member.value for member in enum)
        raise WireError(
            path=path, problem=f"unknown value {text!r} (expected one of {expected})"
        ) from None


def _side(obj: Mapping[str, object], key: str, path: str) -> Side:
    return _enum(Side, _text(obj, key, path).upper(), f"{path}.{key}")


def _token(obj: Mapping[str, object], path: str) -> TokenId:
    # Protocol V2 events may name the asset `token_id` (polymarket_v2.md 5).
    value = _first_field(obj, ("asset_id", "token_id"), path)
    if not isinstance(value, str) or not value:
        raise WireError(path=f"{path}.asset_id", problem=f"expected a token id, got {value!r}")
    return TokenId(value)


def _condition(obj: Mapping[str, object], path: str, key: str = "market") -> ConditionId:
    return ConditionId(_text(obj, key, path))


def _json_in_string(obj: Mapping[str, object], key: str, path: str) -> list[object]:
    """Gamma sends some arrays as JSON inside a string ("[\"Up\", \"Down\"]"), some fixtures as
    plain arrays; accept both, and "" or absent as empty."""
    value = obj.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise WireError(
                path=f"{path}.{key}", problem=f"not JSON inside the string: {error}"
            ) from None
    if not isinstance(value, list):
        raise WireError(path=f"{path}.{key}", problem=f"expected an array, got {value!r}")
    return value


def classify_order_status(status: str, path: str = "status") -> OrderStatus:
    """The order state behind one of the venue's status texts, matched by prefix because the
    venue appends free text (`CANCELED_order couldn't be fully filled. ...`)."""
    bare = status.removeprefix(_ORDER_STATUS_PREFIX).upper()
    if bare.startswith("CANCELED") or bare == "INVALID":
        return OrderStatus.CANCELED  # INVALID is a cancel the venue did itself
    try:
        return OrderStatus(bare.lower())
    except ValueError:
        known = "LIVE, MATCHED, DELAYED, UNMATCHED, CANCELED*, INVALID"
        raise WireError(path=path, problem=f"unknown value {status!r} (expected {known})") from None


# --- market channel ------------------------------------------------------------------------


def _levels(obj: Mapping[str, object], key: str, path: str) -> list[BookLevel]:
    levels = []
    for index, raw in enumerate(_list(obj, key, path)):
        level_path = f"{path}.{key}[{index}]"
        level = _object(raw, level_path)
        levels.append(
            BookLevel(_decimal(level, "price", level_path), _decimal(level, "size", level_path))
        )
    return levels


def parse_book(
    raw: object, path: str = "$", *, tick_size_if_absent: Decimal = DEFAULT_TICK_SIZE
) -> BookSnapshot:
    """A `book` event or a GET /book answer. The venue sends bids ascending and asks descending
    (best last); some publishers send them best-first, so sort rather than reverse."""
    obj = _object(raw, path)
    tick = _decimal_or_none(obj, "tick_size", path)
    return BookSnapshot(
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        bids=tuple(sorted(_levels(obj, "bids", path), key=lambda lvl: lvl.price, reverse=True)),
        asks=tuple(sorted(_levels(obj, "asks", path), key=lambda lvl: lvl.price)),
        tick_size=tick if tick is not None else tick_size_if_absent,
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _level_change(
    item: Mapping[str, object], path: str, *, token_id: TokenId | None = None
) -> PriceLevelChange:
    return PriceLevelChange(
        token_id=token_id if token_id is not None else _token(item, path),
        price=_decimal(item, "price", path),
        size=_decimal(item, "size", path),
        side=_side(item, "side", path),
        best_bid=_decimal_or_none(item, "best_bid", path),
        best_ask=_decimal_or_none(item, "best_ask", path),
    )


def _price_change(obj: Mapping[str, object], path: str) -> PriceChange:
    if "price_changes" in obj:
        items = _list(obj, "price_changes", path)
        changes = tuple(
            _level_change(_object(item, f"{path}.price_changes[{i}]"), f"{path}.price_changes[{i}]")
            for i, item in enumerate(items)
        )
    else:
        # Legacy (before Sept 2025): one asset at the top, flat price/side/size or `changes[]`.
        token = _token(obj, path)
        if "changes" in obj:
            changes = tuple(
                _level_change(
                    _object(item, f"{path}.changes[{i}]"), f"{path}.changes[{i}]", token_id=token
                )
                for i, item in enumerate(_list(obj, "changes", path))
            )
        else:
            changes = (_level_change(obj, path, token_id=token),)
    return PriceChange(
        condition_id=_condition(obj, path),
        changes=changes,
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _last_trade(obj: Mapping[str, object], path: str) -> LastTrade:
    return LastTrade(
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        price=_decimal(obj, "price", path),
        size=_decimal(obj, "size", path),
        side=_side(obj, "side", path),
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _tick_size_change(obj: Mapping[str, object], path: str) -> TickSizeChange:
    return TickSizeChange(
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        old_tick_size=_decimal(obj, "old_tick_size", path),
        new_tick_size=_decimal(obj, "new_tick_size", path),
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _best_bid_ask(obj: Mapping[str, object], path: str) -> BestBidAsk:
    return BestBidAsk(
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        best_bid=_decimal_or_none(obj, "best_bid", path),
        best_ask=_decimal_or_none(obj, "best_ask", path),
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _strings(values: list[object], path: str) -> tuple[str, ...]:
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise WireError(path=f"{path}[{index}]", problem=f"expected a string, got {value!r}")
    return tuple(str(value) for value in values)


def _new_market(obj: Mapping[str, object], path: str) -> NewMarket:
    key = "clob_token_ids" if obj.get("clob_token_ids") else "assets_ids"
    tokens = _strings(_list(obj, key, path), f"{path}.{key}")
    outcomes = _strings(_list(obj, "outcomes", path), f"{path}.outcomes")
    if len(tokens) != len(outcomes):
        msg = f"{len(tokens)} token ids for {len(outcomes)} outcomes"
        raise WireError(path=f"{path}.{key}", problem=msg)
    condition = obj.get("condition_id") or obj.get("market")
    if not isinstance(condition, str):
        raise WireError(
            path=f"{path}.condition_id", problem=f"expected a condition id, got {condition!r}"
        )
    return NewMarket(
        condition_id=ConditionId(condition),
        slug=_text(obj, "slug", path),
        question=_optional_text(obj, "question", path) or "",
        token_ids=tuple(TokenId(t) for t in tokens),
        outcomes=outcomes,
        tick_size=_decimal_or_none(obj, "order_price_min_tick_size", path),
        active=_flag(obj, "active", path, default=True),
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _market_resolved(obj: Mapping[str, object], path: str) -> MarketResolved:
    winner = _text(obj, "winning_asset_id", path)
    return MarketResolved(
        condition_id=_condition(obj, path),
        winning_token=TokenId(winner),
        winning_outcome=_text(obj, "winning_outcome", path),
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _spot_prices(obj: Mapping[str, object], path: str) -> tuple[SpotPrice, ...]:
    """An RTDS `crypto_prices` / `crypto_prices_chainlink` message: an update, or the dump of
    recent points sent on subscribe."""
    payload = _object(_field(obj, "payload", path), f"{path}.payload")
    payload_path = f"{path}.payload"
    asset = _asset_of_symbol(_text(payload, "symbol", payload_path))
    if "data" in payload:
        points = []
        for index, raw in enumerate(_list(payload, "data", payload_path)):
            point_path = f"{payload_path}.data[{index}]"
            point = _object(raw, point_path)
            points.append(
                SpotPrice(
                    asset=asset,
                    price=_decimal(point, "value", point_path),
                    timestamp=_timestamp(point, "timestamp", point_path),
                )
            )
        return tuple(points)
    # full_accuracy_value is the exact decimal; `value` is a JSON float.
    exact = "full_accuracy_value" if payload.get("full_accuracy_value") else "value"
    return (
        SpotPrice(
            asset=asset,
            price=_decimal(payload, exact, payload_path),
            timestamp=_timestamp(payload, "timestamp", payload_path),
        ),
    )


def _asset_of_symbol(symbol: str) -> str:
    """ "btc/usd" (Chainlink) and "btcusdt" (Binance) are both the asset "BTC"."""
    base = symbol.split("/", maxsplit=1)[0].upper()
    for quote in ("USDT", "USDC", "USD"):
        if base.endswith(quote) and len(base) > len(quote):
            return base.removesuffix(quote)
    return base


# --- user channel --------------------------------------------------------------------------


def _order_update(obj: Mapping[str, object], path: str) -> OrderUpdate:
    status = _text(obj, "status", path).removeprefix(_ORDER_STATUS_PREFIX)
    classify_order_status(status, f"{path}.status")  # unknown statuses are rejected here
    kind_text = _optional_text(obj, "type", path) or ""
    kind = _enum(OrderUpdateKind, kind_text.upper(), f"{path}.type")
    return OrderUpdate(
        kind=kind,
        order_id=OrderId(_text(obj, "id", path)),
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        side=_side(obj, "side", path),
        price=_decimal(obj, "price", path),
        original_size=_decimal(obj, "original_size", path),
        size_matched=_decimal_or_none(obj, "size_matched", path) or ZERO,
        status=status,
        timestamp=_timestamp(obj, "timestamp", path),
    )


def _trade_time(obj: Mapping[str, object], path: str) -> float:
    """When this status of the trade was reported: `timestamp` on the websocket; REST items have
    only `last_update` and `match_time` (older docs: `matchtime`)."""
    for key in ("timestamp", "last_update", "match_time", "matchtime"):
        value = _timestamp_or_none(obj, key, path)
        if value is not None:
            return value
    raise WireError(path=f"{path}.timestamp", problem="missing (and no last_update or match_time)")


def parse_trade(raw: object, identity: Identity, path: str = "$") -> tuple[TradeUpdate, ...]:
    """Our fills in one trade (a `trade` event or a /data/trades item), at its status.

    As taker, the top-level side/price/size/asset are ours. As maker, the top level describes
    the taker and our fills are the `maker_orders` entries that carry our owner or address
    (several, if several of our orders were matched; a self-match also makes us taker and
    maker). Each of our maker fills has its own trade id when one match holds more than one of
    our fills (`"<id>:<order id>"`), because consumers dedupe on (trade_id, status)."""
    obj = _object(raw, path)
    trade_id = _text(obj, "id", path)
    status = _enum(
        TradeStatus,
        _text(obj, "status", path).upper(),
        f"{path}.status",
        prefix=_TRADE_STATUS_PREFIX,
    )
    condition = _condition(obj, path)
    timestamp = _trade_time(obj, path)
    trader_side = (_optional_text(obj, "trader_side", path) or "TAKER").upper()
    if trader_side not in ("TAKER", "MAKER"):
        raise WireError(path=f"{path}.trader_side", problem=f"unknown value {trader_side!r}")
    taker_side = _side(obj, "side", path)
    fills: list[TradeUpdate] = []
    taker_is_us = trader_side == "TAKER" or identity.owns(
        owner=_optional_text(obj, "trade_owner", path), address=None
    )
    if taker_is_us:
        fills.append(
            TradeUpdate(
                trade_id=trade_id,
                order_id=OrderId(_text(obj, "taker_order_id", path)),
                condition_id=condition,
                token_id=_token(obj, path),
                side=taker_side,
                price=_decimal(obj, "price", path),
                size=_decimal(obj, "size", path),
                # The trade carries no fee amount (V2 fees are set at match time from the
                # market's fee schedule); the position prices fees from the schedule.
                fee=ZERO,
                status=status,
                is_maker=False,
                timestamp=timestamp,
            )
        )
    maker_orders = obj.get("maker_orders") or []
    if not isinstance(maker_orders, list):
        raise WireError(
            path=f"{path}.maker_orders", problem=f"expected a JSON array, got {maker_orders!r}"
        )
    for index, raw_maker in enumerate(maker_orders):
        maker_path = f"{path}.maker_orders[{index}]"
        maker = _object(raw_maker, maker_path)
        if not identity.owns(
            owner=_optional_text(maker, "owner", maker_path),
            address=_optional_text(maker, "maker_address", maker_path),
        ):
            continue
        side_text = _optional_text(maker, "side", maker_path)
        # A cross-asset maker (the other token) buys too; a same-token maker takes the opposite side.
        token = _token(maker, maker_path)
        token_taker_side = taker_side if token == _token(obj, path) else _opposite(taker_side)
        side = (
            _enum(Side, side_text.upper(), f"{maker_path}.side")
            if side_text
            else _opposite(token_taker_side)
        )
        fills.append(
            TradeUpdate(
                trade_id=trade_id,
                order_id=OrderId(_text(maker, "order_id", maker_path)),
                condition_id=condition,
                token_id=token,
                side=side,
                price=_decimal(maker, "price", maker_path),
                size=_decimal(maker, "matched_amount", maker_path),
                fee=ZERO,  # makers pay no fee
                status=status,
                is_maker=True,
                timestamp=timestamp,
            )
        )
    if trader_side == "MAKER" and not any(fill.is_maker for fill in fills):
        raise WireError(
            path=f"{path}.maker_orders", problem="we were maker but no maker order is ours"
        )
    if len(fills) > 1:
        fills = [
            fill if not fill.is_maker else replace(fill, trade_id=f"{trade_id}:{fill.order_id}")
            for fill in fills
        ]
    return tuple(fills)


def _opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


# --- messages and frames -------------------------------------------------------------------


def _event_type(obj: Mapping[str, object], path: str) -> str:
    """The event type; recorders and some docs strip `event_type`, so infer it from the shape."""
    declared = obj.get("event_type")
    if isinstance(declared, str) and declared:
        return declared
    if declared is not None:
        raise WireError(path=f"{path}.event_type", problem=f"expected a string, got {declared!r}")
    kind = obj.get("type")
    shapes: tuple[tuple[bool, str], ...] = (
        ("topic" in obj and "payload" in obj, "rtds"),
        ("price_changes" in obj, "price_change"),
        ("bids" in obj or "asks" in obj, "book"),
        ("new_tick_size" in obj, "tick_size_change"),
        ("winning_asset_id" in obj, "market_resolved"),
        ("maker_orders" in obj or kind == "TRADE", "trade"),
        (kind in ("PLACEMENT", "UPDATE", "CANCELLATION"), "order"),
        ("best_bid" in obj and "best_ask" in obj, "best_bid_ask"),
        ("hash" in obj and "price" in obj, "price_change"),  # legacy single-level change
        ("fee_rate_bps" in obj and "price" in obj, "last_trade_price"),
    )
    for matches, name in shapes:
        if matches:
            return name
    raise WireError(
        path=f"{path}.event_type", problem="missing, and the message matches no known shape"
    )


def parse_message(
    raw: object,
    identity: Identity = NOBODY,
    path: str = "$",
    *,
    tick_size_if_absent: Decimal = DEFAULT_TICK_SIZE,
) -> tuple[WireEvent, ...]:
    """One websocket message (market channel, user channel or RTDS) as domain events."""
    obj = _object(raw, path)
    match _event_type(obj, path):
        case "book":
            return (parse_book(obj, path, tick_size_if_absent=tick_size_if_absent),)
        case "price_change":
            return (_price_change(obj, path),)
        case "last_trade_price":
            return (_last_trade(obj, path),)
        case "tick_size_change":
            return (_tick_size_change(obj, path),)
        case "best_bid_ask":
            return (_best_bid_ask(obj, path),)
        case "new_market":
            return (_new_market(obj, path),)
        case "market_resolved":
            return (_market_resolved(obj, path),)
        case "order":
            return (_order_update(obj, path),)
        case "trade":
            return parse_trade(obj, identity, path)
        case "rtds":
            return _spot_prices(obj, path)
        case other:
            raise WireError(path=f"{path}.event_type", problem=f"unknown event type {other!r}")


def parse_frame(
    text: str | bytes,
    identity: Identity = NOBODY,
    *,
    learn_identity: bool = False,
    tick_size_if_absent: Decimal = DEFAULT_TICK_SIZE,
) -> FrameParse:
    """One websocket frame: a text notice, one JSON message or a JSON array of them. A bad
    message is counted and dropped; the others of the frame still count.

    With `learn_identity` (replay of a recorded user feed whose account is not configured),
    the owner and address of every `order` event join the identity before the frame's trades
    are read: the user channel only sends orders that are ours, and a resting order is always
    placed before it fills as maker. The identity used is returned in `FrameParse.identity`."""
    try:
        stripped = (text.decode() if isinstance(text, bytes) else text).strip()
    except UnicodeDecodeError as error:
        problem = WireError(path="$", problem=f"not UTF-8 text: {error.reason}")
        return FrameParse(rejected_count=1, errors=(problem,), identity=identity)
    try:
        # Case-insensitive: the CLOB answers "PONG", the price stream (RTDS) "pong".
        return FrameParse(notices=(ServerNotice(stripped.upper()),), identity=identity)
    except ValueError:
        pass  # not a notice: JSON
    try:
        decoded = json.loads(stripped)
    except json.JSONDecodeError as error:
        problem = WireError(
            path="$",
            problem=f"neither JSON nor a known text frame ({error.msg}): {stripped[:80]!r}",
        )
        return FrameParse(rejected_count=1, errors=(problem,), identity=identity)
    messages = decoded if isinstance(decoded, list) else [decoded]
    paths = [f"$[{i}]" for i in range(len(messages))] if isinstance(decoded, list) else ["$"]
    if learn_identity:
        identity = _learn_from_orders(messages, identity)
    events: list[WireEvent] = []
    errors: list[WireError] = []
    for message, path in zip(messages, paths, strict=True):
        try:
            events.extend(
                parse_message(message, identity, path, tick_size_if_absent=tick_size_if_absent)
            )
        except WireError as error:
            errors.append(error)
    return FrameParse(
        events=tuple(events), rejected_count=len(errors), errors=tuple(errors), identity=identity
    )


def _learn_from_orders(messages: Iterable[object], identity: Identity) -> Identity:
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        is_order = message.get("event_type") == "order" or (
            "event_type" not in message
            and message.get("type") in ("PLACEMENT", "UPDATE", "CANCELLATION")
        )
        owner, address = message.get("owner"), message.get("maker_address")
        if is_order:
            identity = identity.learn(
                owner=owner if isinstance(owner, str) else None,
                address=address if isinstance(address, str) else None,
            )
    return identity


# --- REST ----------------------------------------------------------------------------------


def parse_open_order(raw: object, path: str = "$") -> OrderSnapshot:
    """An order of GET /data/order/{id} or an item of GET /data/orders."""
    obj = _object(raw, path)
    status = _text(obj, "status", path).removeprefix(_ORDER_STATUS_PREFIX)
    classify_order_status(status, f"{path}.status")
    return OrderSnapshot(
        order_id=OrderId(_text(obj, "id", path)),
        client_id=None,  # the venue knows only its own id; the gateway maps it back
        condition_id=_condition(obj, path),
        token_id=_token(obj, path),
        side=_side(obj, "side", path),
        price=_decimal(obj, "price", path),
        original_size=_decimal(obj, "original_size", path),
        size_matched=_decimal_or_none(obj, "size_matched", path) or ZERO,
        order_type=_enum(OrderType, _text(obj, "order_type", path).upper(), f"{path}.order_type"),
        status=status,
        created_at=_timestamp_or_none(obj, "created_at", path) or 0.0,
    )


def _page(raw: object, path: str, parse_item: Callable[[object, str], tuple[T, ...]]) -> Page[T]:
    obj = _object(raw, path)
    items: list[T] = []
    for index, item in enumerate(_list(obj, "data", path)):
        items.extend(parse_item(item, f"{path}.data[{index}]"))
    cursor = _optional_text(obj, "next_cursor", path)
    return Page(items=tuple(items), next_cursor=cursor if cursor is not None else LAST_CURSOR)


def parse_open_orders_page(raw: object, path: str = "$") -> Page[OrderSnapshot]:
    return _page(raw, path, lambda item, item_path: (parse_open_order(item, item_path),))


def parse_trades_page(raw: object, identity: Identity, path: str = "$") -> Page[TradeUpdate]:
    """A page of GET /data/trades: our fills in each trade (see `parse_trade`)."""
    return _page(raw, path, lambda item, item_path: parse_trade(item, identity, item_path))


def parse_order_response(raw: object, client_id: str, path: str = "$") -> OrderResult:
    """The answer to POST /order, or one leg of POST /orders. A refusal (`success: false`, or an
    `errorMsg` with no order id) is an `OrderResult` with `error` set; the adapter raises the
    classified error for single orders."""
    obj = _object(raw, path)
    order_id = _optional_text(obj, "orderID", path) or None
    error = _optional_text(obj, "errorMsg", path) or _optional_text(obj, "error", path) or None
    success = _flag(obj, "success", path, default=order_id is not None)
    if not success or order_id is None:
        reason = error or "refused without a reason"
        return OrderResult(client_id=client_id, order_id=None, status=None, error=reason)
    status_text = _optional_text(obj, "status", path)
    status = (
        _enum(OrderStatus, status_text.lower(), f"{path}.status", prefix="order_status_")
        if status_text
        else None
    )
    return OrderResult(
        client_id=client_id,
        order_id=OrderId(order_id),
        status=status,
        making_amount=_decimal_or_none(obj, "makingAmount", path) or ZERO,
        taking_amount=_decimal_or_none(obj, "takingAmount", path) or ZERO,
        error=error,
    )


def parse_error_body(raw: object, path: str = "$") -> str:
    """The reason in an HTTP error body (`{"error": "..."}`, sometimes `errorMsg`)."""
    obj = _object(raw, path)
    reason = _optional_text(obj, "error", path) or _optional_text(obj, "errorMsg", path)
    if not reason:
        raise WireError(path=f"{path}.error", problem="missing")
    return reason


def parse_cancel_response(raw: object, path: str = "$") -> CancelResult:
    obj = _object(raw, path)
    raw_canceled = obj.get("canceled") or []
    if not isinstance(raw_canceled, list):
        raise WireError(
            path=f"{path}.canceled", problem=f"expected a JSON array, got {raw_canceled!r}"
        )
    canceled = _strings(raw_canceled, f"{path}.canceled")
    not_canceled = _object(obj.get("not_canceled") or {}, f"{path}.not_canceled")
    reasons: dict[OrderId, str] = {}
    for order_id, reason in not_canceled.items():
        if not isinstance(reason, str):
            raise WireError(
                path=f"{path}.not_canceled.{order_id}", problem=f"expected a reason, got {reason!r}"
            )
        reasons[OrderId(order_id)] = reason
    return CancelResult(canceled=tuple(OrderId(c) for c in canceled), not_canceled=reasons)


def _base_units(value: object, path: str) -> Decimal:
    """An integer string is base units (6 decimals); a decimal string is already whole units."""
    amount = _to_decimal(value, path)
    if isinstance(value, str) and "." in value:
        return amount
    return amount.scaleb(-COLLATERAL_DECIMALS)


def parse_balance_allowance(raw: object, path: str = "$") -> BalanceAllowance:
    """GET /balance-allowance: `allowances` per spender (V2) or one `allowance` (V1, keyed "")."""
    obj = _object(raw, path)
    allowances: dict[str, Decimal] = {}
    if "allowances" in obj:
        for spender, amount in _object(obj["allowances"], f"{path}.allowances").items():
            allowances[spender] = _base_units(amount, f"{path}.allowances.{spender}")
    elif obj.get("allowance") is not None:
        allowances[""] = _base_units(obj["allowance"], f"{path}.allowance")
    return BalanceAllowance(
        balance=_base_units(_field(obj, "balance", path), f"{path}.balance"),
        allowances=allowances,
    )


def parse_clob_market(raw: object, path: str = "$") -> ClobMarket:
    obj = _object(raw, path)
    tokens = []
    for index, raw_token in enumerate(_list(obj, "tokens", path)):
        token_path = f"{path}.tokens[{index}]"
        token = _object(raw_token, token_path)
        tokens.append(
            ClobToken(
                token_id=TokenId(_text(token, "token_id", token_path)),
                outcome=_text(token, "outcome", token_path),
                winner=_flag(token, "winner", token_path, default=False),
            )
        )
    return ClobMarket(
        condition_id=_condition(obj, path, "condition_id"),
        question=_optional_text(obj, "question", path) or "",
        slug=_optional_text(obj, "market_slug", path) or "",
        tokens=tuple(tokens),
        tick_size=_decimal(obj, "minimum_tick_size", path),
        min_order_size=_decimal(obj, "minimum_order_size", path),
        accepting_orders=_flag(obj, "accepting_orders", path, default=False),
        active=_flag(obj, "active", path, default=False),
        closed=_flag(obj, "closed", path, default=False),
        neg_risk=_flag(obj, "neg_risk", path, default=False),
        end=_timestamp_or_none(obj, "end_date_iso", path),
    )


def parse_gamma_market(raw: object, path: str = "$") -> GammaMarket:
    """A Gamma market. The token ids come from `positionIds` when `version` is "v2", else from
    `clobTokenIds`; choose by version even if both are present (a v1 market may carry
    position ids the CLOB has no book for). Empty or blank ids mean "not hydrated yet"."""
    obj = _object(raw, path)
    version = (_optional_text(obj, "version", path) or "v1").lower()
    ids_key = "positionIds" if version == "v2" else "clobTokenIds"
    raw_ids = _strings(_json_in_string(obj, ids_key, path), f"{path}.{ids_key}")
    outcomes = _strings(_json_in_string(obj, "outcomes", path), f"{path}.outcomes")
    token_ids = tuple(TokenId(t) for t in raw_ids) if all(raw_ids) else ()
    if token_ids and outcomes and len(token_ids) != len(outcomes):
        msg = f"{len(token_ids)} token ids for {len(outcomes)} outcomes"
        raise WireError(path=f"{path}.{ids_key}", problem=msg)
    prices = _json_in_string(obj, "outcomePrices", path)
    return GammaMarket(
        gamma_id=str(obj.get("id") or ""),  # Gamma's own id; discovery keys on the condition
        condition_id=_condition(obj, path, "conditionId"),
        slug=_text(obj, "slug", path),
        question=_optional_text(obj, "question", path) or "",
        version=version,
        outcomes=outcomes,
        token_ids=token_ids,
        outcome_prices=tuple(
            _to_decimal(price, f"{path}.outcomePrices[{i}]") for i, price in enumerate(prices)
        ),
        window_start=_timestamp_or_none(obj, "eventStartTime", path),
        end=_timestamp_or_none(obj, "endDate", path),
        tick_size=_decimal_or_none(obj, "orderPriceMinTickSize", path),
        min_order_size=_decimal_or_none(obj, "orderMinSize", path),
        active=_flag(obj, "active", path, default=False),
        closed=_flag(obj, "closed", path, default=False),
        accepting_orders=_flag(obj, "acceptingOrders", path, default=False),
        neg_risk=_flag(obj, "negRisk", path, default=False),
    )


_UP_DOWN_SLUG = re.compile(r"^(?P<asset>[a-z0-9]+)-updown-(?P<timeframe>\d+[mhd])-(?P<start>\d+)$")
_TIMEFRAME_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def up_down_window(market: GammaMarket) -> MarketWindow | None:
    """The Up-or-Down window a Gamma market is, or None when it is not one (another kind of
    market, outcomes other than Up/Down) or is not hydrated yet (ask again later).

    Slugs are `{asset}-updown-{timeframe}-{window start, epoch s}`, e.g.
    `btc-updown-15m-1773307200`; the start in the slug is authoritative (Gamma's `startDate`
    is the listing time, not the window start)."""
    matched = _UP_DOWN_SLUG.match(market.slug)
    if matched is None or not market.is_hydrated:
        return None
    outcomes = [outcome.lower() for outcome in market.outcomes]
    if sorted(outcomes) != ["down", "up"]:
        return None
    timeframe = matched["timeframe"]
    timeframe_s = int(timeframe[:-1]) * _TIMEFRAME_UNIT_S[timeframe[-1]]
    start = float(matched["start"])
    return MarketWindow(
        asset=matched["asset"].upper(),
        timeframe_s=timeframe_s,
        start=start,
        end=start + timeframe_s,
        condition_id=market.condition_id,
        up_token=market.token_ids[outcomes.index("up")],
        down_token=market.token_ids[outcomes.index("down")],
        slug=market.slug,
        tick_size=market.tick_size if market.tick_size is not None else DEFAULT_TICK_SIZE,
        min_order_size=market.min_order_size if market.min_order_size is not None else Decimal(5),
    )


def parse_positions(raw: object, path: str = "$") -> tuple[DataPosition, ...]:
    """GET /positions of the Data API (a bare array; numbers are JSON numbers)."""
    if not isinstance(raw, list):
        raise WireError(path=path, problem=f"expected a JSON array, got {type(raw).__name__}")
    positions = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        obj = _object(item, item_path)
        outcome_index = _field(obj, "outcomeIndex", item_path)
        if not isinstance(outcome_index, int) or isinstance(outcome_index, bool):
            raise WireError(
                path=f"{item_path}.outcomeIndex",
                problem=f"expected an integer, got {outcome_index!r}",
            )
        positions.append(
            DataPosition(
                wallet=_text(obj, "proxyWallet", item_path),
                token_id=TokenId(_text(obj, "asset", item_path)),
                condition_id=_condition(obj, item_path, "conditionId"),
                size=_decimal(obj, "size", item_path),
                avg_price=_decimal(obj, "avgPrice", item_path),
                current_price=_decimal(obj, "curPrice", item_path),
                redeemable=_flag(obj, "redeemable", item_path, default=False),
                outcome=_text(obj, "outcome", item_path),
                outcome_index=outcome_index,
                slug=_optional_text(obj, "slug", item_path) or "",
                end_date=_optional_text(obj, "endDate", item_path) or "",
                opposite_token=_opposite_asset(obj, item_path),
            )
        )
    return tuple(positions)


def _opposite_asset(obj: Mapping[str, object], path: str) -> TokenId | None:
    text = _optional_text(obj, "oppositeAsset", path)
    return TokenId(text) if text else None


def venue_position(position: DataPosition) -> VenuePosition:
    """The port's view of one Data API position."""
    return VenuePosition(
        condition_id=position.condition_id,
        token_id=position.token_id,
        size=position.size,
        avg_price=position.avg_price,
        redeemable=position.redeemable,
        current_price=position.current_price,
        outcome=position.outcome,
        outcome_index=position.outcome_index,
        opposite_token=position.opposite_token,
        slug=position.slug,
        end_date=_epoch_of(position.end_date),
    )


def parse_closed_positions(raw: object, path: str = "$") -> tuple[ClosedPosition, ...]:
    """GET /closed-positions of the Data API (a bare array; numbers are JSON numbers;
    `timestamp` in epoch seconds)."""
    if not isinstance(raw, list):
        raise WireError(path=path, problem=f"expected a JSON array, got {type(raw).__name__}")
    closed = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        obj = _object(item, item_path)
        timestamp = _decimal_or_none(obj, "timestamp", item_path)
        closed.append(
            ClosedPosition(
                condition_id=_condition(obj, item_path, "conditionId"),
                token_id=TokenId(_text(obj, "asset", item_path)),
                size=_decimal(obj, "totalBought", item_path),
                avg_price=_decimal(obj, "avgPrice", item_path),
                realized_pnl=_decimal(obj, "realizedPnl", item_path),
                current_price=_decimal_or_none(obj, "curPrice", item_path) or Decimal(0),
                outcome=_optional_text(obj, "outcome", item_path) or "",
                slug=_optional_text(obj, "slug", item_path) or "",
                timestamp=float(timestamp) if timestamp is not None else 0.0,
            )
        )
    return tuple(closed)


def _epoch_of(iso: str) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


# --- encoders (for the wire-compatible local exchange) ---------------------------------------


def _ms(timestamp: float) -> str:
    return str(round(timestamp * 1000))


def _num(value: Decimal) -> str:
    return format(value, "f")


def _wire_levels(levels: Iterable[BookLevel]) -> list[dict[str, str]]:
    return [{"price": _num(level.price), "size": _num(level.size)} for level in levels]


def encode_book(
    book: BookSnapshot, *, book_hash: str = "", event: bool = True
) -> dict[str, object]:
    """A `book` event (`event=True`) or a GET /book answer, in the venue's order: bids
    ascending and asks descending, best last."""
    body: dict[str, object] = {
        "market": book.condition_id,
        "asset_id": book.token_id,
        "timestamp": _ms(book.timestamp),
        "hash": book_hash,
        "bids": _wire_levels(reversed(book.bids)),
        "asks": _wire_levels(reversed(book.asks)),
        "tick_size": _num(book.tick_size),
    }
    return {"event_type": "book", **body} if event else body


def _optional_num(value: Decimal | None) -> str:
    return "" if value is None else _num(value)


def encode_price_change(change: PriceChange) -> dict[str, object]:
    """The current `price_changes[]` format (the local exchange never emits the legacy one)."""
    return {
        "event_type": "price_change",
        "market": change.condition_id,
        "timestamp": _ms(change.timestamp),
        "price_changes": [
            {
                "asset_id": level.token_id,
                "price": _num(level.price),
                "size": _num(level.size),
                "side": level.side.value,
                "hash": "",
                "best_bid": _optional_num(level.best_bid),
                "best_ask": _optional_num(level.best_ask),
            }
            for level in change.changes
        ],
    }


def encode_last_trade(trade: LastTrade) -> dict[str, object]:
    return {
        "event_type": "last_trade_price",
        "market": trade.condition_id,
        "asset_id": trade.token_id,
        "price": _num(trade.price),
        "size": _num(trade.size),
        "side": trade.side.value,
        "fee_rate_bps": "0",
        "timestamp": _ms(trade.timestamp),
    }


def encode_tick_size_change(change: TickSizeChange) -> dict[str, object]:
    return {
        "event_type": "tick_size_change",
        "market": change.condition_id,
        "asset_id": change.token_id,
        "old_tick_size": _num(change.old_tick_size),
        "new_tick_size": _num(change.new_tick_size),
        "timestamp": _ms(change.timestamp),
    }


def encode_best_bid_ask(top: BestBidAsk) -> dict[str, object]:
    spread = (
        _num(top.best_ask - top.best_bid)
        if top.best_bid is not None and top.best_ask is not None
        else ""
    )
    return {
        "event_type": "best_bid_ask",
        "market": top.condition_id,
        "asset_id": top.token_id,
        "best_bid": _optional_num(top.best_bid),
        "best_ask": _optional_num(top.best_ask),
        "spread": spread,
        "timestamp": _ms(top.timestamp),
    }


def encode_market_resolved(
    resolved: MarketResolved, token_ids: Sequence[TokenId]
) -> dict[str, object]:
    return {
        "event_type": "market_resolved",
        "market": resolved.condition_id,
        "assets_ids": list(token_ids),
        "winning_asset_id": resolved.winning_token,
        "winning_outcome": resolved.winning_outcome,
        "timestamp": _ms(resolved.timestamp),
    }


def encode_order_event(
    update: OrderUpdate, *, owner: str, maker_address: str, order_type: OrderType = OrderType.GTC
) -> dict[str, object]:
    """A user-channel `order` event for one of the owner's orders."""
    return {
        "event_type": "order",
        "type": update.kind.value,
        "id": update.order_id,
        "owner": owner,
        "order_owner": owner,
        "maker_address": maker_address,
        "market": update.condition_id,
        "asset_id": update.token_id,
        "side": update.side.value,
        "order_type": order_type.value,
        "price": _num(update.price),
        "original_size": _num(update.original_size),
        "size_matched": _num(update.size_matched),
        "status": update.status,
        "associate_trades": None,
        "expiration": "0",
        "timestamp": _ms(update.timestamp),
    }


def encode_open_order(order: OrderSnapshot, *, owner: str, maker_address: str) -> dict[str, object]:
    """An item of GET /data/orders (and GET /data/order/{id}); `created_at` is integer seconds."""
    return {
        "id": order.order_id,
        "status": order.status,
        "owner": owner,
        "maker_address": maker_address,
        "market": order.condition_id,
        "asset_id": order.token_id,
        "side": order.side.value,
        "original_size": _num(order.original_size),
        "size_matched": _num(order.size_matched),
        "price": _num(order.price),
        "outcome": "",
        "expiration": "0",
        "order_type": order.order_type.value,
        "associate_trades": [],
        "created_at": int(order.created_at),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class _Counterparty:
    owner: str
    maker_address: str
    order_id: str


def encode_trade(
    fill: TradeUpdate,
    *,
    owner: str,
    maker_address: str,
    counterparty_owner: str,
    counterparty_address: str,
    counterparty_order_id: str,
    event: bool = True,
) -> dict[str, object]:
    """A user-channel `trade` event (`event=True`) or a /data/trades item for one of our fills,
    matched against one counterparty order. As maker, the top level describes the taker and our
    fill is the `maker_orders` entry carrying our owner and address."""
    us = _Counterparty(owner=owner, maker_address=maker_address, order_id=fill.order_id)
    them = _Counterparty(
        owner=counterparty_owner,
        maker_address=counterparty_address,
        order_id=counterparty_order_id,
    )
    taker, maker = (them, us) if fill.is_maker else (us, them)
    taker_side = _opposite(fill.side) if fill.is_maker else fill.side
    body: dict[str, object] = {
        "id": fill.trade_id,
        "taker_order_id": taker.order_id,
        "market": fill.condition_id,
        "asset_id": fill.token_id,
        "side": taker_side.value,
        "size": _num(fill.size),
        "fee_rate_bps": "0",
        "price": _num(fill.price),
        "status": fill.status.value,
        "match_time": str(int(fill.timestamp)),
        "last_update": str(int(fill.timestamp)),
        "outcome": "",
        "bucket_index": 0,
        "owner": owner,
        "maker_address": maker_address,
        "transaction_hash": "",
        "trader_side": "MAKER" if fill.is_maker else "TAKER",
        "maker_orders": [
            {
                "order_id": maker.order_id,
                "owner": maker.owner,
                "maker_address": maker.maker_address,
                "matched_amount": _num(fill.size),
                "price": _num(fill.price),
                "fee_rate_bps": "0",
                "asset_id": fill.token_id,
                "outcome": "",
                "side": _opposite(taker_side).value,
            }
        ],
    }
    if not event:
        return body
    return {
        "event_type": "trade",
        "type": "TRADE",
        "trade_owner": taker.owner,
        "timestamp": _ms(fill.timestamp),
        **body,
    }


def encode_order_response(result: OrderResult) -> dict[str, object]:
    """POST /order's answer (and one leg of POST /orders)."""
    if result.order_id is None:
        return {"success": False, "errorMsg": result.error or "", "orderID": "", "status": ""}
    matched = result.making_amount > 0 or result.taking_amount > 0
    return {
        "success": True,
        "errorMsg": result.error or "",
        "orderID": result.order_id,
        "status": result.status.value if result.status is not None else "",
        "makingAmount": _num(result.making_amount) if matched else "",
        "takingAmount": _num(result.taking_amount) if matched else "",
        "transactionsHashes": [],
        "tradeIDs": [],
    }


def encode_cancel_response(result: CancelResult) -> dict[str, object]:
    return {"canceled": list(result.canceled), "not_canceled": dict(result.not_canceled)}


def encode_balance_allowance(balance: BalanceAllowance) -> dict[str, object]:
    """In base units (integer strings), as the V2 venue answers."""

    def units(amount: Decimal) -> str:
        return str(int(amount.scaleb(COLLATERAL_DECIMALS)))

    return {
        "balance": units(balance.balance),
        "allowances": {spender: units(amount) for spender, amount in balance.allowances.items()},
    }


def encode_page(
    items: Sequence[Mapping[str, object]], next_cursor: str = LAST_CURSOR
) -> dict[str, object]:
    return {"data": list(items), "next_cursor": next_cursor, "limit": 100, "count": len(items)}
