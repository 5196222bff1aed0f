"""The venue port: the one interface every exchange implementation satisfies (paper and live).

The venue gateway actor is the only caller. Calls are synchronous and answer what the venue
answered; refusals raise the typed errors of `venues.errors` (the gateway retries
`RetryableError`s with backoff, gives up on `RejectedError`s, and treats `OrderNotFound` on a
cancel as success). The two streams deliver `MarketEvent`s and `UserEvent`s to callbacks; the
actor shell around the venue turns each callback into a message, so callbacks must be quick
and must not block.

Semantics both implementations keep, because the live venue has them:

- `place_order` raises on rejection; `place_orders` (at most `MAX_BATCH_ORDERS`) never raises
  for one bad leg: that leg's `OrderResult.error` holds the message (`classify(400, error)`
  gives it back its type) and the other legs proceed. A `RetryableError` fails the whole batch.
- Cancels answer `CancelResult`: an order that is already gone (matched, cancelled, expired,
  unknown) is reported in `not_canceled` with the venue's reason, it is not an exception. A
  venue may still answer a single `cancel` of a gone order with `OrderNotFound` (HTTP 404);
  callers must treat that exactly like `not_canceled` (invariant 4).
- `get_order` returns only *active* orders, as the live venue does: a matched or cancelled
  order comes back as None. Reconcile terminal orders through `trades`.
- `balance` may lag fills; `refresh_balance` asks the venue to re-read it (Polymarket needs
  this after fills) and returns the refreshed value.
- Prices are the order's limit; for FOK/FAK BUYs with `amount`, `price` is the worst price
  accepted and `amount` the collateral to spend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from venues.types import (
    BookSnapshot,
    ClosedPosition,
    ConditionId,
    MarketEvent,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderSnapshot,
    TokenId,
    TradeUpdate,
    UserEvent,
    VenuePosition,
)

__all__ = [
    "ALREADY_GONE",
    "MAX_BATCH_ORDERS",
    "MAX_CANCEL_IDS",
    "CancelResult",
    "MarketCallback",
    "Unsubscribe",
    "UserCallback",
    "Venue",
]

MAX_BATCH_ORDERS = 15
"""POST /orders accepts at most this many orders (polymarket_api.md 7.4)."""

MAX_CANCEL_IDS = 3000
"""DELETE /orders accepts at most this many ids (unified SDK limit)."""

ALREADY_GONE = "already canceled or matched"
"""The venue's `not_canceled` reason for an order that is no longer live."""

MarketCallback = Callable[[MarketEvent], None]
UserCallback = Callable[[UserEvent], None]
Unsubscribe = Callable[[], None]


def _frozen_reasons() -> Mapping[OrderId, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelResult:
    """The venue's answer to a cancel: which ids it cancelled and why the others were not."""

    canceled: tuple[OrderId, ...] = ()
    not_canceled: Mapping[OrderId, str] = field(default_factory=_frozen_reasons)

    def __post_init__(self) -> None:
        # A read-only copy, so the caller's dict cannot change a frozen answer later.
        object.__setattr__(self, "not_canceled", MappingProxyType(dict(self.not_canceled)))

    def is_done(self, order_id: OrderId) -> bool:
        """True when `order_id` is no longer live: cancelled now, or already gone before."""
        return order_id in self.canceled or self.not_canceled.get(order_id) == ALREADY_GONE


@runtime_checkable
class Venue(Protocol):
    """An exchange, as the venue gateway sees it. See the module docstring for semantics."""

    # --- orders ---------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> OrderResult:
        """Submit one order. Raises a `VenueError` subclass when refused."""
        ...

    def place_orders(self, requests: tuple[OrderRequest, ...]) -> tuple[OrderResult, ...]:
        """Submit up to 15 orders; a refused leg is an `OrderResult` with `error` set."""
        ...

    def cancel(self, order_id: OrderId) -> CancelResult: ...

    def cancel_orders(self, order_ids: tuple[OrderId, ...]) -> CancelResult: ...

    def cancel_all(self) -> CancelResult: ...

    def cancel_market(self, condition_id: ConditionId) -> CancelResult: ...

    # --- account state --------------------------------------------------------------------
    def get_order(self, order_id: OrderId) -> OrderSnapshot | None:
        """The order if it is still active, else None (as the live venue answers)."""
        ...

    def open_orders(self, condition_id: ConditionId | None = None) -> tuple[OrderSnapshot, ...]: ...

    def trades(
        self, condition_id: ConditionId | None = None, after: float | None = None
    ) -> tuple[TradeUpdate, ...]:
        """Our fills (latest status of each), optionally of one market, matched after `after`."""
        ...

    def balance(self, token_id: TokenId | None = None) -> Decimal:
        """Collateral (token_id None) or outcome-token balance, as the venue reports it."""
        ...

    def refresh_balance(self, token_id: TokenId | None = None) -> Decimal:
        """Ask the venue to re-read the balance (needed after fills), then return it."""
        ...

    def allowance(self, token_id: TokenId | None = None) -> Decimal:
        """How much the exchange contract may move for us (collateral, or the token)."""
        ...

    def redeem(self, condition_id: ConditionId) -> Decimal:
        """Turn winning tokens of a resolved market into collateral; returns the amount."""
        ...

    def positions(self) -> tuple[VenuePosition, ...]:
        """Every outcome token the wallet holds (the Data API's /positions; it lags fills)."""
        ...

    def closed_positions(self) -> tuple[ClosedPosition, ...]:
        """Positions the wallet no longer holds, with realised P&L (/closed-positions)."""
        ...

    # --- market data ----------------------------------------------------------------------
    def book(self, token_id: TokenId) -> BookSnapshot: ...

    def midpoint(self, token_id: TokenId) -> Decimal | None: ...

    def tick_size(self, token_id: TokenId) -> Decimal: ...

    def server_time(self) -> float:
        """Epoch seconds on the venue's clock."""
        ...

    # --- streams --------------------------------------------------------------------------
    def subscribe_market(self, callback: MarketCallback) -> Unsubscribe: ...

    def subscribe_user(self, callback: UserCallback) -> Unsubscribe: ...
