"""Messages between the trading actors: the contract between window, position, risk, venue
gateway, market feed and discovery.

Who sends what (actor names in brackets; `window/<wid>`, `position/<pid>` are per instance):

    [feed]      --WindowOpened/BookUpdate/SpotUpdate/WindowResolved--> [window/<wid>]
    [window]    --Reserve--> [risk]                    (ask; reply Granted | Refused)
    [window]    --StartChild(position spec)--> [positions]
    [window]    --MarketUpdate--> [position/<pid>]     (its token's book, the window's clock)
    [position]  --PlaceOrder / CancelOrder--> [venue]  (ask; reply Placed | PlaceFailed, Cancelled)
    [venue]     --OrderEvent(OrderUpdate | TradeUpdate)--> [position/<pid>] (owner of the order)
    [position]  --ResizeReservation / ReleaseReservation--> [risk]
    [position]  --ReversalRequest--> [window/<wid>]
    [risk]      --CancelEntries--> [position/<pid>]    (kill switch: entries only, never exits)
    [venue/any] --UpdateBalance--> [risk]              (the venue's collateral; risk also polls it)
    [monitor/operator] --Halt / Resume--> [risk]       (ask or tell; reply RiskState)
    [position]  --ClaimOrders--> [venue]               (after a (re)start: the orders it owns)
    [reconciler] --GetPositions / GetClosedPositions / GetUnownedOrders / CancelOrder--> [venue]
    [reconciler] --AdoptExposure--> [risk]             (ask; reply Granted: the shares are held)
    [reconciler] --OpenTrading--> [risk]               (the first reconciliation succeeded)
    [risk]      --GetReconcileStatus--> [reconciler]   (a restarted risk asks whether it may trade)

Ids are deterministic so that a restarted actor rebuilds the same names from its journal:
`window_id = "BTC-15m-2026-11-21T15:45Z"`, `position_id = f"{window_id}/UP"`, and client order
ids `f"{position_id}/{purpose}/{n}"` (purpose: entry, exit, scalein, stop, retry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from venues.types import (
    BookSnapshot,
    ConditionId,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderSnapshot,
    OrderUpdate,
    TokenId,
    TradeUpdate,
    timeframe_label,
)

__all__ = [
    "AdoptExposure",
    "BookUpdate",
    "CancelEntries",
    "CancelFailed",
    "CancelOrder",
    "Cancelled",
    "ClaimOrders",
    "FindOrder",
    "GetBalance",
    "GetClosedPositions",
    "GetOpenOrders",
    "GetPositions",
    "GetReconcileStatus",
    "GetRiskSnapshot",
    "GetUnownedOrders",
    "Granted",
    "Halt",
    "MarketUpdate",
    "OpenTrading",
    "OrderEvent",
    "OrderFound",
    "Outcome",
    "PlaceFailed",
    "PlaceOrder",
    "Placed",
    "QueryFailed",
    "ReconcileStatus",
    "Redeem",
    "Redeemed",
    "Refused",
    "RegisterWindow",
    "ReleaseReservation",
    "Reserve",
    "ResizeReservation",
    "Resume",
    "ReversalRequest",
    "RiskSnapshot",
    "RiskState",
    "SpotUpdate",
    "UpdateBalance",
    "WindowOpened",
    "WindowResolved",
    "client_order_id",
    "owner_of_client_order",
    "position_actor",
    "position_id",
    "window_actor",
    "window_id",
]


class Outcome(StrEnum):
    UP = "UP"
    DOWN = "DOWN"

    @property
    def other(self) -> Outcome:
        return Outcome.DOWN if self is Outcome.UP else Outcome.UP


def window_id(window: MarketWindow) -> str:
    frame = timeframe_label(window.timeframe_s)
    start = datetime.fromtimestamp(window.start, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{window.asset}-{frame}-{start}"


def position_id(wid: str, outcome: Outcome) -> str:
    return f"{wid}/{outcome.value}"


def window_actor(wid: str) -> str:
    return f"window/{wid}"


def position_actor(pid: str) -> str:
    return f"position/{pid}"


def client_order_id(pid: str, purpose: str, n: int) -> str:
    return f"{pid}/{purpose}/{n}"


def owner_of_client_order(client_id: str) -> str | None:
    """The position actor that owns an order, read back from its client id (None: not one of
    ours). Lets the venue gateway route a restarted venue's orders without a lookup table."""
    parts = client_id.split("/")
    # "<wid>/<UP|DOWN>/<purpose>/<n>"; the window id itself has no "/".
    if len(parts) != 4 or parts[1] not in Outcome.__members__ or not parts[3].isdigit():
        return None
    return position_actor(position_id(parts[0], Outcome(parts[1])))


# --- discovery -> feed -> window -> position ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterWindow:
    """Discovery -> feed: route this market's books, its asset's spot and its resolution to
    `actor_name`. Sent again on every listing the feed forwards, so a restarted feed (which
    resubscribes and gets a catch-up of the listings) is registered again."""

    condition_id: ConditionId
    tokens: tuple[TokenId, TokenId]  # (up, down)
    asset: str
    actor_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOpened:
    window: MarketWindow


@dataclass(frozen=True, slots=True, kw_only=True)
class BookUpdate:
    """The current book of one token (the feed keeps books; it sends whole snapshots)."""

    book: BookSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotUpdate:
    asset: str
    price: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowResolved:
    condition_id: str
    winner: Outcome
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketUpdate:
    """Window -> position: its token's book now, and the window's latest confidence in it."""

    book: BookSnapshot
    confidence: Decimal | None
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReversalRequest:
    """Position -> window: my side is losing past the stop; buy the other side if you agree."""

    position_id: str
    losing: Outcome
    size: Decimal
    timestamp: float


# --- risk --------------------------------------------------------------------------------------


class RiskState(StrEnum):
    NORMAL = "NORMAL"
    DEGRADED = "DEGRADED"  # no new entries; exits and stops continue
    HALTED = "HALTED"  # kill switch: entries cancelled, exit plans and stops kept


@dataclass(frozen=True, slots=True, kw_only=True)
class Reserve:
    """Ask: reserve collateral for an order before it exists (invariant 3)."""

    owner: str  # position id
    window_id: str
    asset: str
    amount: Decimal
    purpose: str  # entry, scalein, reversal, retry
    timestamp: float
    # Risk may grant less than `amount` (clipped to a cap); a grant below `minimum` (e.g. the
    # venue's minimum order size at the limit price) is refused instead of granted as a crumb.
    minimum: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Granted:
    reservation_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    reason: str  # "max_position", "daily_loss", "state_degraded", ...
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResizeReservation:
    """Tell: the order behind a reservation spent `spent` and the reservation is now `amount`."""

    reservation_id: str
    amount: Decimal
    timestamp: float
    # Risk reads a resize as "the order this reservation funded is over (filled, cancelled or
    # expired) and spent `amount`": the entry counts as closed, so the kill switch no longer
    # sends CancelEntries for it. Until then (or ReleaseReservation) the entry counts as open.


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseReservation:
    """Tell: the position behind it is settled (or never filled); `realized_pnl` counts today."""

    reservation_id: str
    realized_pnl: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRiskSnapshot:
    """Ask: reply RiskSnapshot."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSnapshot:
    state: RiskState
    equity: Decimal
    collateral: Decimal
    exposure: Decimal
    reservations: int
    realized_pnl_today: Decimal
    refusals: int
    open_positions: int = 0  # distinct owners holding a reservation
    drawdown_pct: Decimal = Decimal(0)  # from the equity peak (or the last Resume)
    daily_loss_limit: Decimal = Decimal(0)  # today's limit in collateral
    state_reason: str = ""  # why risk is in `state`


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateBalance:
    """Tell: the venue's collateral balance now. Risk uses it only as an upper bound on new
    reservations, never as equity: the balance endpoint lags fills (invariant 10)."""

    collateral: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt:
    """Ask or tell: the kill switch. Risk goes HALTED, refuses every reservation and tells each
    position with an open entry `CancelEntries`; exit plans and stops stay. Reply: RiskState."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    """Ask or tell (an operator's decision): leave HALTED or DEGRADED; the drawdown is measured
    from the equity now. The day's loss limit still holds (DEGRADED while it is breached).
    Reply: RiskState."""

    reason: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class AdoptExposure:
    """Ask, reconciler -> risk: the wallet holds shares nobody reserved for (found by
    reconciliation). Always granted: the money is spent already, refusing would not unspend it;
    the reservation makes the caps see it until the adopted position releases it."""

    owner: str  # the adopted position's id
    window_id: str
    asset: str
    amount: Decimal  # collateral the shares cost (size x the venue's average price)
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTrading:
    """Tell, reconciler -> risk: the first reconciliation of this run succeeded; reservations
    for entries may be granted from now on."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetReconcileStatus:
    """Ask, -> reconciler: reply ReconcileStatus."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileStatus:
    passes: int  # successful reconciliations of this run
    last_success_at: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelEntries:
    """Risk -> position: cancel your entry order (kill switch). Exit plans and stops stay."""

    reason: str


# --- venue gateway -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder:
    """Ask: submit one order. The caller journaled an OrderIntent with `request.client_id`
    first. Reply: Placed or PlaceFailed. An AskTimeout means the outcome is unknown: resolve it
    by asking the venue about `client_id`, never by sending again."""

    request: OrderRequest
    owner: str  # actor name that receives the order's OrderEvents


@dataclass(frozen=True, slots=True, kw_only=True)
class Placed:
    result: OrderResult


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceFailed:
    client_id: str
    error_kind: str  # the VenueError class name
    message: str
    is_retryable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    """Ask: cancel one order. "Not found"/"already gone" is a success with `was_live=False`."""

    order_id: OrderId
    owner: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancelled:
    order_id: OrderId
    was_live: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """Venue -> owner: what happened to one of its orders."""

    event: OrderUpdate | TradeUpdate


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBalance:
    """Ask: the venue's balance of `token_id` (None: collateral), refreshed first if asked.
    Reply: Decimal, or QueryFailed."""

    token_id: TokenId | None
    refresh: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelFailed:
    """The venue refused or kept failing a cancel; the order may still be live."""

    order_id: OrderId
    error_kind: str  # the VenueError class name
    message: str
    is_retryable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FindOrder:
    """Ask: what became of the order submitted with `client_id` in market `condition_id`?
    The answer to an unknown outcome (an AskTimeout on PlaceOrder): the gateway handles asks in
    order, so this answer comes after that placement was done. Reply: OrderFound, or QueryFailed.

    `request` and `intended_at` (the intent's time) let the gateway recognise the order on a
    venue that does not echo client ids (the live venue after a restart): it matches the
    unowned open orders and trades of the market on the request's fields. Several candidates
    answer QueryFailed(error_kind="Ambiguous"): never resend on that (invariant 2)."""

    client_id: str
    condition_id: ConditionId
    request: OrderRequest | None = None
    intended_at: float | None = None
    order_id: OrderId | None = None  # known already (journaled OrderAccepted): no search needed


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimOrders:
    """Tell, position -> venue: these order ids (from its journal's OrderAccepted) are mine.
    The gateway records the owner and delivers the events it parked for them (invariant 5)."""

    owner: str
    order_ids: tuple[OrderId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPositions:
    """Ask: every token the wallet holds. Reply: tuple[VenuePosition, ...], or QueryFailed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetClosedPositions:
    """Ask: the wallet's closed positions with realised P&L. Reply: tuple[ClosedPosition, ...],
    or QueryFailed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUnownedOrders:
    """Ask: the venue's open orders that no actor owns or has claimed. Reply:
    tuple[OrderSnapshot, ...], or QueryFailed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFound:
    """`order_id` None: the venue never took an order with this client id, so it is safe to
    submit it again. `order` is the snapshot while it is still active (None once matched or
    cancelled); `trades` are its fills at their latest status."""

    client_id: str
    order_id: OrderId | None
    order: OrderSnapshot | None
    trades: tuple[TradeUpdate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOpenOrders:
    """Ask: our active orders (of one market, or all). Reply: tuple[OrderSnapshot, ...], or
    QueryFailed."""

    condition_id: ConditionId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Redeem:
    """Ask: turn the winning tokens of a resolved market into collateral. Reply: Redeemed, or
    QueryFailed (e.g. error_kind "MarketNotResolved" while the venue has not resolved it)."""

    condition_id: ConditionId


@dataclass(frozen=True, slots=True, kw_only=True)
class Redeemed:
    condition_id: ConditionId
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFailed:
    """A venue query or redemption that the venue refused, or that kept failing after the
    gateway's bounded retries. A value, not an exception: the asker decides when to ask again."""

    query: str  # the message class name, e.g. "GetBalance"
    error_kind: str  # the VenueError class name
    message: str
    is_retryable: bool
