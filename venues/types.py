"""Domain values every venue speaks: orders, books, market and user events.

These are what the actors see, whichever exchange is behind the port (paper or live). Money and
sizes are `Decimal`; prices sit on the market's tick grid. Timestamps are epoch seconds (float)
from the runtime clock. All values are frozen; collections are tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NewType

__all__ = [
    "ZERO",
    "BestBidAsk",
    "BookLevel",
    "BookSnapshot",
    "ClosedPosition",
    "ConditionId",
    "LastTrade",
    "MarketEvent",
    "MarketResolved",
    "MarketWindow",
    "NewMarket",
    "OrderId",
    "OrderRequest",
    "OrderResult",
    "OrderSnapshot",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "OrderUpdateKind",
    "PriceChange",
    "PriceLevelChange",
    "Side",
    "SpotPrice",
    "TickSizeChange",
    "TokenId",
    "TradeStatus",
    "TradeUpdate",
    "UserEvent",
    "VenuePosition",
    "WindowListed",
    "timeframe_label",
]

ZERO = Decimal(0)

TokenId = NewType("TokenId", str)
ConditionId = NewType("ConditionId", str)
OrderId = NewType("OrderId", str)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


class OrderStatus(StrEnum):
    """What POST /order answers, plus the terminal states an order can reach later."""

    LIVE = "live"
    MATCHED = "matched"
    DELAYED = "delayed"
    UNMATCHED = "unmatched"
    CANCELED = "canceled"


class TradeStatus(StrEnum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class OrderUpdateKind(StrEnum):
    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


def timeframe_label(timeframe_s: int) -> str:
    """The slug's duration label: 300 -> '5m', 900 -> '15m', 3600 -> '1h', 14400 -> '4h'."""
    if timeframe_s % 3600 == 0:
        return f"{timeframe_s // 3600}h"
    return f"{timeframe_s // 60}m"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketWindow:
    """One Up-or-Down market: an asset over [start, end), with its two outcome tokens."""

    asset: str  # "BTC"
    timeframe_s: int  # 900 for 15 minutes
    start: float  # epoch seconds, aligned to a multiple of timeframe_s
    end: float
    condition_id: ConditionId
    up_token: TokenId
    down_token: TokenId
    slug: str  # "btc-updown-15m-1795268700"
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal(5)

    @property
    def tokens(self) -> tuple[TokenId, TokenId]:
        return (self.up_token, self.down_token)


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An order we want on the book. `client_id` is ours, journaled before submission, and is
    how a restarted actor finds out whether an intent reached the exchange.

    For FOK/FAK BUY orders `amount` is collateral to spend (market order by amount) and `size`
    is ignored; for every other order `size` is shares.
    """

    client_id: str
    token_id: TokenId
    side: Side
    price: Decimal
    size: Decimal
    order_type: OrderType = OrderType.GTC
    amount: Decimal | None = None
    expiration: float | None = None  # GTD only, epoch seconds
    post_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderResult:
    """The venue's answer to one placement (one leg of a batch). Rejections are exceptions
    for single orders and `error` values for batch legs."""

    client_id: str
    order_id: OrderId | None
    status: OrderStatus | None
    making_amount: Decimal = ZERO
    taking_amount: Decimal = ZERO
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSnapshot:
    """An order as the venue sees it now (GET /data/order, /data/orders)."""

    order_id: OrderId
    client_id: str | None
    condition_id: ConditionId
    token_id: TokenId
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    order_type: OrderType
    status: str  # LIVE, MATCHED, CANCELED, CANCELED_MARKET_RESOLVED, ...
    created_at: float


# --- books and market events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """Full book of one token. Unlike the wire format, bids are best-first (descending) and
    asks best-first (ascending); parsers of the wire format reverse them."""

    condition_id: ConditionId
    token_id: TokenId
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    tick_size: Decimal
    timestamp: float

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def midpoint(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceLevelChange:
    token_id: TokenId
    price: Decimal
    size: Decimal  # new total at that level; 0 removes it
    side: Side  # BUY = bid level, SELL = ask level
    best_bid: Decimal | None
    best_ask: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChange:
    condition_id: ConditionId
    changes: tuple[PriceLevelChange, ...]
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LastTrade:
    condition_id: ConditionId
    token_id: TokenId
    price: Decimal
    size: Decimal
    side: Side  # taker side
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TickSizeChange:
    condition_id: ConditionId
    token_id: TokenId
    old_tick_size: Decimal
    new_tick_size: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketResolved:
    condition_id: ConditionId
    winning_token: TokenId
    winning_outcome: str  # "Up" / "Down"
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowListed:
    """A window became discoverable (Gamma lists it); the simulated market emits this too."""

    window: MarketWindow
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotPrice:
    """The reference (spot) price of an asset, e.g. Chainlink BTC/USD, that windows resolve on."""

    asset: str
    price: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BestBidAsk:
    """The top of one token's book as the venue reports it (Polymarket's `best_bid_ask`)."""

    condition_id: ConditionId
    token_id: TokenId
    best_bid: Decimal | None
    best_ask: Decimal | None
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMarket:
    """The venue announced a market (Polymarket's `new_market`). It is not yet a `MarketWindow`:
    discovery decides whether it is an Up-or-Down window we trade."""

    condition_id: ConditionId
    slug: str
    question: str
    token_ids: tuple[TokenId, ...]  # same order as `outcomes`
    outcomes: tuple[str, ...]
    tick_size: Decimal | None
    active: bool
    timestamp: float


MarketEvent = (
    BookSnapshot | PriceChange | LastTrade | TickSizeChange | MarketResolved | WindowListed
)


# --- user events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    kind: OrderUpdateKind
    order_id: OrderId
    condition_id: ConditionId
    token_id: TokenId
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeUpdate:
    """Our own fill, whether we were taker or maker, at one lifecycle status.

    Dedupe on (trade_id, status); only CONFIRMED is final, FAILED means the fill did not happen.
    `size` is shares received/given before fees; `fee` is in shares for buys, collateral for sells.
    """

    trade_id: str
    order_id: OrderId
    condition_id: ConditionId
    token_id: TokenId
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    status: TradeStatus
    is_maker: bool
    timestamp: float


UserEvent = OrderUpdate | TradeUpdate


# --- account positions (the Data API's /positions and /closed-positions) ------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VenuePosition:
    """One outcome token the wallet holds, as the Data API reports it (`GET /positions`).

    The market fields (`slug`, `outcome_index`, `opposite_token`, `end_date`) are there because
    reconciliation must be able to protect a position it finds without any record of its own.
    """

    condition_id: ConditionId
    token_id: TokenId
    size: Decimal
    avg_price: Decimal
    redeemable: bool
    current_price: Decimal = ZERO
    outcome: str = ""  # "Up" / "Down"
    outcome_index: int = 0  # 0 is the first token of the market (Up)
    opposite_token: TokenId | None = None
    slug: str = ""
    end_date: float | None = None  # epoch seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedPosition:
    """A position the wallet no longer holds (sold or redeemed), with the venue's realised P&L
    (`GET /closed-positions`); the settlement audit compares it with ours."""

    condition_id: ConditionId
    token_id: TokenId
    size: Decimal  # shares bought over the position's life (the Data API's totalBought)
    avg_price: Decimal
    realized_pnl: Decimal
    current_price: Decimal = ZERO  # 1 or 0 once resolved
    outcome: str = ""
    slug: str = ""
    timestamp: float = 0.0  # when it closed, epoch seconds
