"""The venue gateway: the only caller of the exchange (paper or live).

It places and cancels orders for their owners, answers account queries, retries what is worth
retrying, paces placements, and routes the venue's user events (fills, order updates) to the
actor that owns each order. It journals nothing: the position actors journal their own orders
(two-phase intents), and the gateway keeps counters for the summary.

How retries work, and why this way. An ask's reply is the handler's return value; the runtime
seam cannot answer an ask later. A placement retried after its ask was answered would create an
order its owner never heard of (invariant 5) and could duplicate one the owner retries itself
(invariant 2). So a placement is retried only inside its own ask, a bounded number of times,
and never after an unknown outcome without first looking the order up by client id. When the
attempts are used up, or the venue says "stop" (HTTP 425 maintenance, 429 rate limit), the
gateway answers `PlaceFailed(is_retryable=True)` and holds further placements off for a capped
exponential, jittered delay on the runtime clock; the owner decides when to try again. Cancels
and reads are idempotent, so they are simply retried a bounded number of times.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar, runtime_checkable

from actors.messages import (
    CancelFailed,
    Cancelled,
    CancelOrder,
    ClaimOrders,
    FindOrder,
    GetBalance,
    GetClosedPositions,
    GetOpenOrders,
    GetPositions,
    GetUnownedOrders,
    OrderEvent,
    OrderFound,
    Placed,
    PlaceFailed,
    PlaceOrder,
    QueryFailed,
    Redeem,
    Redeemed,
    owner_of_client_order,
)
from actors.sim_market import Feed, Subscribe
from runtime.api import Actor, ActorDead, Timer, UnhandledMessage
from runtime.logs import actor_logger
from state.backoff import backoff_delay_s, full_bucket, retry_after_s, take_token
from state.order_match import Ambiguous, Found, match_order
from venues.errors import (
    Maintenance,
    OrderNotFound,
    RateLimited,
    RejectedError,
    RetryableError,
    VenueError,
    VenueTimeout,
)
from venues.port import CancelResult, Unsubscribe, Venue
from venues.settings import VenueSettings
from venues.types import (
    ZERO,
    BookSnapshot,
    LastTrade,
    MarketEvent,
    MarketResolved,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderSnapshot,
    OrderStatus,
    PriceChange,
    Side,
    TickSizeChange,
    TradeStatus,
    TradeUpdate,
    UserEvent,
    WindowListed,
)

if TYPE_CHECKING:
    from runtime.clock import Clock
    from venues.paper import PaperExchange, PaperSettings

__all__ = [
    "FindsOrdersByClientId",
    "GetVenueStats",
    "MarketDrivenVenue",
    "VenueFactory",
    "VenueGatewayActor",
    "VenueStats",
    "paper_venue",
]

T = TypeVar("T")


# --- what the gateway needs from a venue beyond the port --------------------------------------


@runtime_checkable
class MarketDrivenVenue(Protocol):
    """A venue that lives in this process and follows the simulated market (the paper
    exchange): the gateway feeds it the market's events and runs its due work on a timer."""

    def on_market_event(self, event: MarketEvent) -> None: ...

    def poll(self) -> None: ...

    def next_due(self) -> float | None: ...


@runtime_checkable
class EchoesClientIds(Protocol):
    """A venue that can say whether its order snapshots carry our client ids (the paper
    exchange does, unless told to answer like the live venue). A venue without this attribute
    is taken not to: the live venue knows only its own order ids."""

    @property
    def echoes_client_ids(self) -> bool: ...


@runtime_checkable
class FindsOrdersByClientId(Protocol):
    """A venue that can say what became of an order by our client id, terminal orders
    included (a live client can: the order id is the hash of the order it signed)."""

    def order_by_client_id(self, client_id: str) -> OrderSnapshot | None: ...


VenueFactory = Callable[["Clock"], Venue]


def paper_venue(settings: PaperSettings) -> Callable[[Clock], PaperExchange]:
    """A factory of one paper exchange, created at the first call and returned by every later
    one: the exchange stands for the remote venue, which does not forget our orders and money
    when the gateway crashes and restarts."""
    from venues.paper import PaperExchange  # noqa: PLC0415 - only paper mode needs it

    created: list[PaperExchange] = []

    def factory(clock: Clock) -> PaperExchange:
        if not created:
            created.append(PaperExchange(settings, clock))
        return created[0]

    return factory


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetVenueStats:
    """Ask: reply with `VenueStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueStats:
    """Counters of this incarnation, for the status line and the summary."""

    orders_placed: int  # placements the venue accepted
    orders_rejected: int  # placements the venue refused for good (RejectedError)
    orders_cancelled: int  # cancels that took a live order off the book
    place_failures: int  # placements answered PlaceFailed(is_retryable=True)
    retries: int  # extra attempts of placements, cancels and reads
    timeouts: int  # placements whose answer was lost
    timeouts_resolved: int  # ... and that a lookup by client id found on the venue
    rate_limited: int  # placements refused by the client-side rate limit
    held_off: int  # placements refused while backing off
    events_routed: int  # user events told to their owner
    unknown_owner_events: int  # user events of an order whose owner is not known
    undeliverable: int  # user events whose owner was not alive
    parked: int  # unknown-owner events kept now, waiting for their owner
    market_events: int  # market events fed to an in-process venue


@dataclass(frozen=True, slots=True, kw_only=True)
class _Poll:
    """Timer: run the in-process venue's due work (latency, confirmations, expiries)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Drain:
    """Self-tell from a venue callback on another thread: route the user events it queued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Unresolved:
    """A placement whose outcome the gateway could not establish."""

    reason: str


_STATUS_OF_SNAPSHOT = {
    "LIVE": OrderStatus.LIVE,
    "DELAYED": OrderStatus.DELAYED,
    "MATCHED": OrderStatus.MATCHED,
    "UNMATCHED": OrderStatus.UNMATCHED,
}

VenueCommand: TypeAlias = (
    PlaceOrder
    | CancelOrder
    | GetBalance
    | FindOrder
    | GetOpenOrders
    | GetPositions
    | GetClosedPositions
    | GetUnownedOrders
    | ClaimOrders
    | Redeem
    | GetVenueStats
    | MarketEvent
    | _Poll
    | _Drain
)


# --- the actor -------------------------------------------------------------------------------


class VenueGatewayActor(Actor):
    """The single caller of the exchange.

    Accepts:
        PlaceOrder(request, owner): ask -> Placed | PlaceFailed. The owner receives the order's
            user events as `OrderEvent` tells, after the reply. `PlaceFailed(is_retryable=True)`
            means the venue does not have the order (refused before it took effect, or looked
            up by client id and not found), so sending it again cannot duplicate it. An outcome
            the gateway could not establish is `PlaceFailed(error_kind="VenueTimeout",
            is_retryable=False)`: ask `FindOrder`, never resend.
        CancelOrder(order_id, owner): ask -> Cancelled | CancelFailed. "Not found" / already
            gone is `Cancelled(was_live=False)`. Only the recorded owner may cancel an order.
        GetBalance(token_id, refresh): ask -> Decimal | QueryFailed.
        FindOrder(client_id, condition_id, request, intended_at): ask -> OrderFound |
            QueryFailed. On a venue that does not echo client ids, an order it cannot find by
            client id is matched on the request's fields among unowned orders and trades
            (`state.order_match`); several candidates answer QueryFailed("Ambiguous").
        ClaimOrders(owner, order_ids): tell, from a (re)started position: record the owner and
            deliver the events parked for those orders.
        GetPositions() / GetClosedPositions(): ask -> tuple of VenuePosition / ClosedPosition,
            or QueryFailed.
        GetUnownedOrders(): ask -> the open orders nobody owns or claimed, or QueryFailed.
        GetOpenOrders(condition_id): ask -> tuple[OrderSnapshot, ...] | QueryFailed.
        Redeem(condition_id): ask -> Redeemed | QueryFailed.
        GetVenueStats(): ask -> VenueStats.
        Market events: tells from the "market" actor, fed to an in-process (paper) venue.

    A crash loses the owner table, the parked events and the counters. The new incarnation
    gets the venue from the factory again (the same paper exchange: see `paper_venue`),
    adopts the venue's open orders (their owners are read back from their client ids),
    subscribes to the market again, and looks up unknown orders as their events arrive.
    """

    def __init__(
        self,
        venue_factory: VenueFactory,
        settings: VenueSettings,
        *,
        market: str | None = "market",
    ) -> None:
        self._venue_factory = venue_factory
        self._settings = settings
        self._market_name = market
        self._owner_of: dict[OrderId, str] = {}
        self._order_of_client: dict[str, OrderId] = {}
        self._owner_of_client: dict[str, str] = {}
        self._absent: set[str] = set()  # client ids this incarnation knows never landed
        self._unresolved: set[str] = set()  # client ids whose outcome is unknown
        self._unowned: set[OrderId] = set()  # order ids a lookup found no owner for
        self._arrived: deque[UserEvent] = deque()
        self._parked: dict[OrderId, list[UserEvent]] = {}
        self._parked_count = 0
        self._hold_until = 0.0
        self._hold_kind = ""
        self._consecutive_failures = 0
        self._poll_timer: Timer | None = None
        self._poll_at: float | None = None
        self._unsubscribe_user: Unsubscribe | None = None
        self._counts = dict.fromkeys(
            (
                "orders_placed",
                "orders_rejected",
                "orders_cancelled",
                "place_failures",
                "retries",
                "timeouts",
                "timeouts_resolved",
                "rate_limited",
                "held_off",
                "events_routed",
                "unknown_owner_events",
                "undeliverable",
                "market_events",
            ),
            0,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def on_start(self) -> None:
        self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        now = self.ctx.clock.now()
        self._rng = random.Random(f"{self._settings.seed}:venue-backoff:{self.ctx.incarnation}")
        self._bucket = full_bucket(
            capacity=float(self._settings.order_burst),
            rate_per_s=self._settings.orders_per_second,
            now=now,
        )
        self._venue = self._venue_factory(self.ctx.clock)
        self._in_process = self._venue if isinstance(self._venue, MarketDrivenVenue) else None
        self._thread_id = threading.get_ident()
        self._unsubscribe_user = self._venue.subscribe_user(self._on_user_event)
        self._adopt_open_orders()
        if self._in_process is not None and self._market_name is not None:
            self.ctx.runtime.lookup(self._market_name).tell(
                Subscribe(name=self.ctx.name, feeds=frozenset({Feed.MARKET}))
            )
        self._after_venue_calls()

    def on_stop(self) -> None:
        self._release()

    def on_crash(self) -> None:
        # The venue outlives us: our callback must not keep feeding a dead incarnation.
        self._release()

    def _release(self) -> None:
        if self._unsubscribe_user is not None:
            self._unsubscribe_user()
            self._unsubscribe_user = None
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None

    def receive(self, message: object) -> object:
        reply = self._dispatch(message)
        self._after_venue_calls()
        return reply

    def _dispatch(self, message: object) -> object:
        match message:
            case PlaceOrder():
                return self._on_place_order(message)
            case CancelOrder():
                return self._on_cancel_order(message)
            case GetBalance(token_id=token_id, refresh=refresh):
                read = self._venue.refresh_balance if refresh else self._venue.balance
                balance = self._with_retries(lambda: read(token_id))
                return (
                    self._query_failed("GetBalance", balance)
                    if isinstance(balance, VenueError)
                    else balance
                )
            case FindOrder():
                return self._on_find_order(message)
            case GetOpenOrders(condition_id=condition_id):
                orders = self._with_retries(lambda: self._venue.open_orders(condition_id))
                return (
                    self._query_failed("GetOpenOrders", orders)
                    if isinstance(orders, VenueError)
                    else orders
                )
            case Redeem(condition_id=condition_id):
                # A redeem whose answer was lost is not sent again: a second one pays nothing
                # and its answer (0) would hide what the first paid.
                amount = self._with_retries(
                    lambda: self._venue.redeem(condition_id), resend_after_timeout=False
                )
                if isinstance(amount, VenueError):
                    return self._query_failed("Redeem", amount)
                return Redeemed(condition_id=condition_id, amount=amount)
            case GetPositions():
                held = self._with_retries(self._venue.positions)
                return (
                    self._query_failed("GetPositions", held)
                    if isinstance(held, VenueError)
                    else held
                )
            case GetClosedPositions():
                closed = self._with_retries(self._venue.closed_positions)
                if isinstance(closed, VenueError):
                    return self._query_failed("GetClosedPositions", closed)
                return closed
            case GetUnownedOrders():
                return self._unowned_open_orders()
            case ClaimOrders(owner=owner, order_ids=order_ids):
                for order_id in order_ids:
                    self._claim(order_id, owner)
                return None
            case GetVenueStats():
                return VenueStats(parked=self._parked_count, **self._counts)
            case _Poll():
                self._poll_at = None
                self._poll_timer = None
                if self._in_process is not None:
                    self._in_process.poll()
                return None
            case _Drain():
                return None  # the events are routed after every message
            case (
                WindowListed()
                | BookSnapshot()
                | PriceChange()
                | LastTrade()
                | TickSizeChange()
                | MarketResolved()
            ):
                if self._in_process is not None:
                    self._counts["market_events"] += 1
                    self._in_process.on_market_event(message)
                return None
            case _:
                msg = f"venue gateway {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    # --- placements ---------------------------------------------------------------------------

    def _on_place_order(self, message: PlaceOrder) -> Placed | PlaceFailed:
        request = message.request
        client_id = request.client_id
        self._owner_of_client[client_id] = message.owner
        now = self.ctx.clock.now()
        if now < self._hold_until:
            self._counts["held_off"] += 1
            return PlaceFailed(
                client_id=client_id,
                error_kind=self._hold_kind,
                message=(
                    f"venue gateway holds placements off for {self._hold_until - now:.3f}s more "
                    f"after {self._consecutive_failures} failed placement(s) in a row"
                ),
                is_retryable=True,
            )
        self._bucket, has_token = take_token(self._bucket, now)
        if not has_token:
            self._counts["rate_limited"] += 1
            return PlaceFailed(
                client_id=client_id,
                error_kind=RateLimited.__name__,
                message=(
                    f"client-side rate limit of {self._settings.orders_per_second} orders/s: "
                    f"next slot in {retry_after_s(self._bucket, now):.3f}s"
                ),
                is_retryable=True,
            )
        return self._place_with_retries(request, message.owner)

    def _place_with_retries(self, request: OrderRequest, owner: str) -> Placed | PlaceFailed:
        client_id = request.client_id
        last_error: VenueError | None = None
        attempts = 0
        while attempts < self._settings.place_attempts:
            attempts += 1
            if attempts > 1:
                self._counts["retries"] += 1
            try:
                result = self._venue.place_order(request)
            except VenueTimeout as e:
                self._counts["timeouts"] += 1
                found = self._resolve_lost_answer(request)
                match found:
                    case OrderResult():
                        self._counts["timeouts_resolved"] += 1
                        self._log.warning("place_timeout_resolved", client_id=client_id)
                        return self._placed(found, owner)
                    case _Unresolved(reason=reason):
                        return self._outcome_unknown(client_id, e, reason)
                    case None:
                        # Looked up and not there: sending the same order again cannot
                        # duplicate it.
                        self._absent.add(client_id)
                        last_error = e
            except (Maintenance, RateLimited) as e:
                last_error = e
                break  # the venue asked us to stop for a while; retrying now makes it worse
            except RetryableError as e:
                self._absent.add(client_id)  # refused before it took effect
                last_error = e
            except VenueError as e:
                self._counts["orders_rejected"] += 1
                self._absent.add(client_id)
                self._log.info("order_rejected", client_id=client_id, error=str(e))
                return PlaceFailed(
                    client_id=client_id,
                    error_kind=type(e).__name__,
                    message=str(e),
                    is_retryable=False,
                )
            else:
                return self._placed(result, owner)
        assert last_error is not None, "the loop runs at least once and only fails with an error"
        return self._give_up_placement(client_id, last_error, attempts)

    def _placed(self, result: OrderResult, owner: str) -> Placed | PlaceFailed:
        if result.order_id is None:
            self._counts["orders_rejected"] += 1
            return PlaceFailed(
                client_id=result.client_id,
                error_kind=RejectedError.__name__,
                message=result.error or "the venue answered without an order id",
                is_retryable=False,
            )
        self._counts["orders_placed"] += 1
        self._consecutive_failures = 0
        self._absent.discard(result.client_id)
        self._unresolved.discard(result.client_id)
        self._remember(result.order_id, result.client_id, owner)
        return Placed(result=result)

    def _give_up_placement(self, client_id: str, error: VenueError, attempts: int) -> PlaceFailed:
        self._counts["place_failures"] += 1
        hold_s = 0.0
        # In the venue's post-only mode post-only orders still pass: do not hold those off.
        if not (isinstance(error, Maintenance) and error.rule == "post_only_mode"):
            self._consecutive_failures += 1
            hold_s = backoff_delay_s(
                self._consecutive_failures,
                base_s=self._settings.backoff_base_s,
                cap_s=self._settings.backoff_cap_s,
                jitter=self._settings.backoff_jitter,
                draw=self._rng.random(),
            )
            self._hold_until = self.ctx.clock.now() + hold_s
            self._hold_kind = type(error).__name__
        self._log.warning(
            "place_failed_retryable",
            client_id=client_id,
            error=str(error),
            attempts=attempts,
            hold_s=round(hold_s, 3),
        )
        return PlaceFailed(
            client_id=client_id,
            error_kind=type(error).__name__,
            message=f"{error} (after {attempts} attempt(s); placements held off {hold_s:.3f}s)",
            is_retryable=True,
        )

    def _outcome_unknown(self, client_id: str, error: VenueError, reason: str) -> PlaceFailed:
        self._unresolved.add(client_id)
        self._log.error("place_outcome_unknown", client_id=client_id, reason=reason)
        return PlaceFailed(
            client_id=client_id,
            error_kind=type(error).__name__,
            message=(
                f"{error}; the order may be on the venue ({reason}). Do not send it again: "
                "ask FindOrder"
            ),
            is_retryable=False,
        )

    def _resolve_lost_answer(self, request: OrderRequest) -> OrderResult | _Unresolved | None:
        """A placement timed out: find the order by its client id before anything is resent.

        Returns the venue's order as a placement result, None when the venue certainly does not
        have it, or `_Unresolved` when that cannot be established (invariant 2).
        """
        client_id = request.client_id
        if isinstance(self._venue, FindsOrdersByClientId):
            venue = self._venue
            snapshot = self._with_retries(lambda: venue.order_by_client_id(client_id))
            if isinstance(snapshot, VenueError):
                return _Unresolved(reason=f"the lookup by client id failed: {snapshot}")
            return None if snapshot is None else _result_of(snapshot, client_id)
        open_orders = self._with_retries(self._venue.open_orders)
        if isinstance(open_orders, VenueError):
            return _Unresolved(reason=f"the open orders could not be read: {open_orders}")
        for snapshot in open_orders:
            if snapshot.client_id == client_id:
                return _result_of(snapshot, client_id)
        if not self._echoes_client_ids():
            # Absence of our client id proves nothing here: the owner asks FindOrder with the
            # request, which matches the venue's unowned orders and trades on its fields.
            return _Unresolved(reason="the venue does not echo client ids")
        if self._in_process is None:
            # A remote venue's fills may still be on their way: absence proves nothing.
            return _Unresolved(reason="not among the open orders; it may have traded already")
        # An in-process venue delivers the fills of an order that traded at once in full
        # before it answers: they are queued here, under an order id we have never seen.
        fills = [
            event
            for event in self._arrived
            if isinstance(event, TradeUpdate)
            and event.order_id not in self._owner_of
            and not event.is_maker
            and event.status is TradeStatus.MATCHED
            and event.token_id == request.token_id
            and event.side is request.side
        ]
        order_ids = {fill.order_id for fill in fills}
        if len(order_ids) > 1:
            return _Unresolved(reason=f"several unknown orders traded: {sorted(order_ids)}")
        if not order_ids:
            return None
        shares = sum((fill.size for fill in fills), ZERO)
        collateral = sum((fill.size * fill.price for fill in fills), ZERO)
        making, taking = (collateral, shares) if request.side is Side.BUY else (shares, collateral)
        return OrderResult(
            client_id=client_id,
            order_id=order_ids.pop(),
            status=OrderStatus.MATCHED,
            making_amount=making,
            taking_amount=taking,
        )

    # --- cancels and queries ------------------------------------------------------------------

    def _on_cancel_order(self, message: CancelOrder) -> Cancelled | CancelFailed:
        order_id = message.order_id
        recorded = self._owner_of.get(order_id)
        if recorded is not None and recorded != message.owner:
            self._log.error(
                "cancel_by_non_owner", order_id=order_id, owner=recorded, by=message.owner
            )
            return CancelFailed(
                order_id=order_id,
                error_kind="NotOwner",
                message=f"order {order_id} belongs to {recorded}, not {message.owner} (invariant 5)",
                is_retryable=False,
            )
        answer = self._with_retries(lambda: self._venue.cancel(order_id))
        match answer:
            case OrderNotFound():
                return Cancelled(order_id=order_id, was_live=False, reason=answer.detail)
            case VenueError():
                self._log.warning("cancel_failed", order_id=order_id, error=str(answer))
                return CancelFailed(
                    order_id=order_id,
                    error_kind=type(answer).__name__,
                    message=str(answer),
                    is_retryable=isinstance(answer, RetryableError),
                )
            case CancelResult():
                return self._cancel_outcome(order_id, answer)
            case _:
                msg = f"venue cancel({order_id}) answered {answer!r}, not a CancelResult"
                raise TypeError(msg)

    def _cancel_outcome(self, order_id: OrderId, answer: CancelResult) -> Cancelled | CancelFailed:
        if order_id in answer.canceled:
            self._counts["orders_cancelled"] += 1
            return Cancelled(order_id=order_id, was_live=True, reason="canceled")
        reason = answer.not_canceled.get(order_id)
        if reason is not None:
            return Cancelled(order_id=order_id, was_live=False, reason=reason)
        return CancelFailed(
            order_id=order_id,
            error_kind="UnexpectedAnswer",
            message=f"the venue's answer to cancelling {order_id} does not mention it: {answer}",
            is_retryable=True,
        )

    def _on_find_order(self, message: FindOrder) -> OrderFound | QueryFailed:
        client_id = message.client_id
        order_id = message.order_id or self._order_of_client.get(client_id)
        if order_id is None:
            found = self._resolve_lost_answer_for_lookup(message)
            if isinstance(found, QueryFailed):
                return found
            order_id = found
        if order_id is None:
            return OrderFound(client_id=client_id, order_id=None, order=None, trades=())
        order = self._with_retries(lambda: self._venue.get_order(order_id))
        if isinstance(order, VenueError):
            return self._query_failed("FindOrder", order)
        trades = self._with_retries(lambda: self._venue.trades(message.condition_id))
        if isinstance(trades, VenueError):
            return self._query_failed("FindOrder", trades)
        return OrderFound(
            client_id=client_id,
            order_id=order_id,
            order=order,
            trades=tuple(trade for trade in trades if trade.order_id == order_id),
        )

    def _resolve_lost_answer_for_lookup(self, message: FindOrder) -> OrderId | QueryFailed | None:
        if message.request is not None and not self._echoes_client_ids():
            return self._match_by_request(message)
        client_id = message.client_id
        if isinstance(self._venue, FindsOrdersByClientId):
            venue = self._venue
            snapshot = self._with_retries(lambda: venue.order_by_client_id(client_id))
        else:
            open_orders = self._with_retries(lambda: self._venue.open_orders(message.condition_id))
            if isinstance(open_orders, VenueError):
                return self._query_failed("FindOrder", open_orders)
            snapshot = next((o for o in open_orders if o.client_id == client_id), None)
            if snapshot is None and not self._is_certainly_absent(client_id):
                return QueryFailed(
                    query="FindOrder",
                    error_kind="OutcomeUnknown",
                    message=(
                        f"no open order has client id {client_id}, and this gateway cannot "
                        "rule out that it traded already; do not send it again"
                    ),
                    is_retryable=False,
                )
        if isinstance(snapshot, VenueError):
            return self._query_failed("FindOrder", snapshot)
        if snapshot is None:
            return None
        owner = self._owner_of_client.get(client_id) or owner_of_client_order(client_id)
        if owner is not None:
            self._remember(snapshot.order_id, client_id, owner)
        return snapshot.order_id

    def _echoes_client_ids(self) -> bool:
        venue = self._venue
        return isinstance(venue, EchoesClientIds) and venue.echoes_client_ids

    def _match_by_request(self, message: FindOrder) -> OrderId | QueryFailed | None:
        """The venue does not echo client ids: find the order by what was asked for."""
        client_id = message.client_id
        request = message.request
        assert request is not None, "only called with a request"
        if isinstance(self._venue, FindsOrdersByClientId):
            venue = self._venue
            snapshot = self._with_retries(lambda: venue.order_by_client_id(client_id))
            if isinstance(snapshot, VenueError):
                return self._query_failed("FindOrder", snapshot)
            if snapshot is not None:  # placed by this process: the client knows it
                self._remember_found(snapshot.order_id, client_id)
                return snapshot.order_id
        open_orders = self._with_retries(lambda: self._venue.open_orders(message.condition_id))
        if isinstance(open_orders, VenueError):
            return self._query_failed("FindOrder", open_orders)
        trades = self._with_retries(lambda: self._venue.trades(message.condition_id))
        if isinstance(trades, VenueError):
            return self._query_failed("FindOrder", trades)
        match match_order(
            request,
            intended_at=message.intended_at if message.intended_at is not None else 0.0,
            open_orders=open_orders,
            trades=trades,
            taken=self._owner_of.keys(),
        ):
            case Found(order_id=order_id):
                self._log.info("order_found_by_request", client_id=client_id, order_id=order_id)
                self._remember_found(order_id, client_id)
                return order_id
            case Ambiguous(candidates=candidates):
                self._log.warning(
                    "order_lookup_ambiguous", client_id=client_id, candidates=list(candidates)
                )
                return QueryFailed(
                    query="FindOrder",
                    error_kind="Ambiguous",
                    message=(
                        f"{len(candidates)} unowned orders match {client_id}: "
                        f"{', '.join(candidates)}; do not send it again, reconciliation decides"
                    ),
                    is_retryable=True,
                )
            case _:
                return None

    def _remember_found(self, order_id: OrderId, client_id: str) -> None:
        owner = self._owner_of_client.get(client_id) or owner_of_client_order(client_id)
        if owner is not None:
            self._remember(order_id, client_id, owner)

    def _claim(self, order_id: OrderId, owner: str) -> None:
        recorded = self._owner_of.get(order_id)
        if recorded is not None and recorded != owner:
            self._log.error("claim_of_owned_order", order_id=order_id, owner=recorded, by=owner)
            return
        self._owner_of[order_id] = owner
        self._unowned.discard(order_id)
        parked = self._parked.pop(order_id, None)
        if parked:
            self._parked_count -= len(parked)
            for event in parked:
                self._deliver(owner, event)

    def _unowned_open_orders(self) -> tuple[OrderSnapshot, ...] | QueryFailed:
        open_orders = self._with_retries(self._venue.open_orders)
        if isinstance(open_orders, VenueError):
            return self._query_failed("GetUnownedOrders", open_orders)
        unowned = []
        for snapshot in open_orders:
            if snapshot.order_id in self._owner_of:
                continue
            owner = (
                None if snapshot.client_id is None else owner_of_client_order(snapshot.client_id)
            )
            if owner is not None and snapshot.client_id is not None:
                self._remember(snapshot.order_id, snapshot.client_id, owner)
                continue
            unowned.append(snapshot)
        return tuple(unowned)

    def _is_certainly_absent(self, client_id: str) -> bool:
        """Whether this incarnation can vouch that the venue never took `client_id`."""
        if client_id in self._unresolved:
            return False
        if client_id in self._absent:
            return True
        # Never seen here: certain only for an in-process venue that no earlier incarnation
        # of the gateway used (it would have forgotten an order that traded in full).
        return self._in_process is not None and self.ctx.incarnation == 1

    def _with_retries(
        self, call: Callable[[], T], *, resend_after_timeout: bool = True
    ) -> T | VenueError:
        """Call an idempotent venue request, retrying retryable errors a bounded number of
        times; returns the answer or the last error (a value: the caller answers with it)."""
        last_error: VenueError | None = None
        for attempt in range(1, self._settings.query_attempts + 1):
            if attempt > 1:
                self._counts["retries"] += 1
            try:
                return call()
            except VenueTimeout as e:
                last_error = e
                if not resend_after_timeout:
                    break
            except RetryableError as e:
                last_error = e
            except VenueError as e:
                return e
        assert last_error is not None, "the loop runs at least once and only fails with an error"
        return last_error

    def _query_failed(self, query: str, error: VenueError) -> QueryFailed:
        self._log.warning("venue_query_failed", query=query, error=str(error))
        return QueryFailed(
            query=query,
            error_kind=type(error).__name__,
            message=str(error),
            is_retryable=isinstance(error, RetryableError),
        )

    # --- user events --------------------------------------------------------------------------

    def _on_user_event(self, event: UserEvent) -> None:
        """The venue's callback: queue only (it may run on the venue's thread)."""
        self._arrived.append(event)
        if threading.get_ident() != self._thread_id:
            self.ctx.self_ref.tell(_Drain())

    def _after_venue_calls(self) -> None:
        arrived = self._arrived
        while arrived:
            self._route(arrived.popleft())
        self._schedule_poll()

    def _route(self, event: UserEvent) -> None:
        order_id = event.order_id
        owner = self._owner_of.get(order_id)
        if owner is None and order_id not in self._unowned:
            owner = self._look_up_owner(order_id)
        if owner is None:
            self._counts["unknown_owner_events"] += 1
            self._log.warning(
                "user_event_without_owner",
                order_id=order_id,
                event=type(event).__name__,
                parked=self._settings.max_parked_events > 0,
            )
            self._park(event)
            return
        self._deliver(owner, event)

    def _look_up_owner(self, order_id: OrderId) -> str | None:
        snapshot = self._with_retries(lambda: self._venue.get_order(order_id))
        if isinstance(snapshot, VenueError) or snapshot is None or snapshot.client_id is None:
            self._unowned.add(order_id)
            return None
        client_id = snapshot.client_id
        owner = self._owner_of_client.get(client_id) or owner_of_client_order(client_id)
        if owner is None:
            self._unowned.add(order_id)
            return None
        self._remember(order_id, client_id, owner)
        return owner

    def _remember(self, order_id: OrderId, client_id: str, owner: str) -> None:
        self._owner_of[order_id] = owner
        self._order_of_client[client_id] = order_id
        self._owner_of_client[client_id] = owner
        self._unowned.discard(order_id)
        parked = self._parked.pop(order_id, None)
        if parked:
            self._parked_count -= len(parked)
            for event in parked:
                self._deliver(owner, event)

    def _park(self, event: UserEvent) -> None:
        limit = self._settings.max_parked_events
        if limit == 0:
            return  # counted and logged above; nothing is kept
        self._parked.setdefault(event.order_id, []).append(event)
        self._parked_count += 1
        while self._parked_count > limit:
            oldest = next(iter(self._parked))
            discarded = self._parked.pop(oldest)
            self._parked_count -= len(discarded)
            self._log.error(
                "parked_events_discarded", order_id=oldest, events=len(discarded), limit=limit
            )

    def _deliver(self, owner: str, event: UserEvent) -> None:
        try:
            self.ctx.runtime.lookup(owner).tell(OrderEvent(event=event))
        except ActorDead:
            # A position between incarnations: it rebuilds from its journal and asks the venue.
            self._counts["undeliverable"] += 1
            self._log.warning("user_event_undeliverable", owner=owner, order_id=event.order_id)
            return
        self._counts["events_routed"] += 1

    def _adopt_open_orders(self) -> None:
        """After a restart the venue still has our orders: read their owners back from their
        client ids, so their events keep reaching the right position."""
        open_orders = self._with_retries(self._venue.open_orders)
        if isinstance(open_orders, VenueError):
            self._log.error("open_orders_unreadable_at_start", error=str(open_orders))
            return
        for snapshot in open_orders:
            owner = (
                None if snapshot.client_id is None else owner_of_client_order(snapshot.client_id)
            )
            if owner is None or snapshot.client_id is None:
                self._log.warning("open_order_without_owner", order_id=snapshot.order_id)
                continue
            self._remember(snapshot.order_id, snapshot.client_id, owner)

    def _schedule_poll(self) -> None:
        if self._in_process is None:
            return
        due = self._in_process.next_due()
        if due is None or (self._poll_at is not None and self._poll_at <= due):
            return
        if self._poll_timer is not None:
            self._poll_timer.cancel()
        self._poll_at = due
        self._poll_timer = self.ctx.schedule(max(0.0, due - self.ctx.clock.now()), _Poll())


def _result_of(snapshot: OrderSnapshot, client_id: str) -> OrderResult:
    """A placement answer rebuilt from the order as the venue shows it now."""
    status = _STATUS_OF_SNAPSHOT.get(snapshot.status)
    if status is OrderStatus.LIVE and snapshot.size_matched > 0:
        status = OrderStatus.MATCHED
    if status is None and snapshot.status.startswith("CANCELED"):
        status = OrderStatus.CANCELED
    shares = snapshot.size_matched
    collateral = shares * snapshot.price  # at the limit: the best the lookup can tell
    making, taking = (collateral, shares) if snapshot.side is Side.BUY else (shares, collateral)
    return OrderResult(
        client_id=client_id,
        order_id=snapshot.order_id,
        status=status,
        making_amount=making if shares > 0 else Decimal(0),
        taking_amount=taking if shares > 0 else Decimal(0),
    )
