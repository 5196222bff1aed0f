"""The paper exchange: the venue port implemented with Polymarket's rules against a simulated
market, with fault knobs.

The simulated market feeds it `MarketEvent`s through `on_market_event`; it keeps its own copy
of each token's book and window, matches our orders, keeps double-entry books of collateral
and tokens (ours, the simulated counterparty's, fees, escrow), and publishes both streams:
the market stream (the market's events with the book as the venue shows it to us: minus what
we consumed, plus our resting orders) and the user stream (our order and trade events).

Matching, as the paper venue does it:

- Our taker orders trade with the market's book, best level first, at each level's price,
  and consume it (remembered until the token's next snapshot). Taker fees: see `fees`.
- Our resting orders fill at their own price, fee-free, when a market trade crosses them
  (taker SELL at or below our bid, taker BUY at or above our ask; up to the trade's size) or
  when the market's book moves onto or through them (consuming that liquidity). Filling at
  the touch is optimistic: it ignores queue position at our price.
- Our orders never trade with each other, and UP/DOWN cross-matching is left to the
  simulated market, which keeps the two books mirrored.
- A trade goes MATCHED -> MINED -> CONFIRMED. What each side gives leaves its account at
  MATCHED; what it receives is held in escrow and paid at CONFIRMED, or given back at FAILED.
  So a trade that fails can be rolled back without any balance going negative.

Statuses on placement: `live` (resting), `matched` (traded on arrival, any remainder of a
GTC/GTD rests), `delayed` (marketable, under the latency fault). `unmatched` is the final
status of a delayed FOK/FAK that found nothing to trade when its delay ended.

The exchange runs on its clock but has no thread: due work (latency, GTD expiry, trade
confirmation) runs at the start and end of every call, each piece as of the time it was due,
so outcomes do not depend on how often it is polled. The actor shell calls `poll()` at
`next_due()`. Calls must come from one thread at a time (the venue gateway's). Callbacks are
invoked after the call's state change is complete, so a callback may call the exchange back.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal, TypeVar, assert_never

from runtime.clock import Clock
from venues.errors import (
    BatchTooLarge,
    InsufficientAllowance,
    InsufficientBalance,
    MarketClosed,
    MarketNotResolved,
    OrderNotFilled,
    OrderNotFound,
    PostOnlyWouldCross,
    RejectedError,
    RetryableError,
    VenueTimeout,
)
from venues.paper import rules
from venues.paper.book import (
    Fill,
    HouseBook,
    crosses,
    opposite,
    value_within,
    walk_for_amount,
    walk_for_shares,
)
from venues.paper.faults import FaultInjector, StreamMangler
from venues.paper.fees import taker_fee
from venues.paper.ledger import COLLATERAL, Account, Ledger
from venues.paper.settings import PaperSettings
from venues.port import (
    ALREADY_GONE,
    MAX_BATCH_ORDERS,
    MAX_CANCEL_IDS,
    CancelResult,
    MarketCallback,
    Unsubscribe,
    UserCallback,
)
from venues.types import (
    ZERO,
    BookLevel,
    BookSnapshot,
    ClosedPosition,
    ConditionId,
    LastTrade,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    OrderId,
    OrderRequest,
    OrderResult,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    OrderUpdate,
    OrderUpdateKind,
    PriceChange,
    PriceLevelChange,
    Side,
    TickSizeChange,
    TokenId,
    TradeStatus,
    TradeUpdate,
    UserEvent,
    VenuePosition,
    WindowListed,
)

__all__ = ["MAX_ALLOWANCE", "PaperExchange"]

MAX_ALLOWANCE = Decimal(2**256 - 1).scaleb(-6)
"""What the venue reports for an approval "for the maximum" (uint256 max, in 6-decimal units)."""

# Order statuses as the venue spells them in snapshots and user events (polymarket_api.md 4.3).
LIVE = "LIVE"
DELAYED = "DELAYED"
MATCHED = "MATCHED"
UNMATCHED = "UNMATCHED"
CANCELED = "CANCELED"
CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
CANCELED_EXPIRED = "CANCELED_EXPIRED_ORDER"
FOK_KILLED = "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_KILLED = (
    "CANCELED_no orders found to match with FAK order. "
    "FAK orders are partially filled or killed if no match is found."
)
FOK_TEXT = FOK_KILLED.removeprefix("CANCELED_")
FAK_TEXT = FAK_KILLED.removeprefix("CANCELED_")


@dataclass(slots=True)
class _Window:
    window: MarketWindow
    winner: TokenId | None = None


@dataclass(slots=True, kw_only=True)
class _Order:
    order_id: OrderId
    client_id: str
    condition_id: ConditionId
    token_id: TokenId
    side: Side
    price: Decimal
    original_size: Decimal
    order_type: OrderType
    amount: Decimal | None
    expiration: float | None
    post_only: bool
    created_at: float
    sequence: int
    size_matched: Decimal = ZERO
    spent: Decimal = ZERO  # collateral paid so far (BUY)
    traded_value: Decimal = ZERO  # collateral value of all fills, either side
    status: str = LIVE
    is_active: bool = True
    is_resting: bool = False  # on the book (GTC/GTD, past any latency)

    @property
    def remaining(self) -> Decimal:
        return self.original_size - self.size_matched

    @property
    def reserved_collateral(self) -> Decimal:
        if self.side is not Side.BUY:
            return ZERO
        if self.amount is not None:
            return self.amount - self.spent
        return self.remaining * self.price

    @property
    def reserved_tokens(self) -> Decimal:
        return self.remaining if self.side is Side.SELL else ZERO

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            order_id=self.order_id,
            client_id=self.client_id,
            condition_id=self.condition_id,
            token_id=self.token_id,
            side=self.side,
            price=self.price,
            original_size=self.original_size,
            size_matched=self.size_matched,
            order_type=self.order_type,
            status=self.status,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class _Leg:
    asset: str
    account: str
    amount: Decimal


@dataclass(slots=True, kw_only=True)
class _Trade:
    trade_id: str
    order: _Order
    price: Decimal
    size: Decimal
    fee: Decimal
    is_maker: bool
    matched_at: float
    given: tuple[_Leg, ...]  # into escrow at MATCHED; back to these accounts on FAILED
    paid: tuple[_Leg, ...]  # out of escrow at CONFIRMED
    status: TradeStatus = TradeStatus.MATCHED
    updated_at: float = 0.0

    def update(self) -> TradeUpdate:
        return TradeUpdate(
            trade_id=self.trade_id,
            order_id=self.order.order_id,
            condition_id=self.order.condition_id,
            token_id=self.order.token_id,
            side=self.order.side,
            price=self.price,
            size=self.size,
            fee=self.fee,
            status=self.status,
            is_maker=self.is_maker,
            timestamp=self.updated_at,
        )


@dataclass(order=True, slots=True)
class _Due:
    at: float
    sequence: int
    action: Callable[[], None] = field(compare=False)


_LevelKey = tuple[TokenId, Side, Decimal]
_T = TypeVar("_T")


class PaperExchange:
    """A Polymarket-rules exchange on a simulated market; implements `venues.port.Venue`."""

    def __init__(self, settings: PaperSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._faults = FaultInjector(settings.faults)
        self._ledger = Ledger(
            {Account.US: settings.starting_collateral, Account.HOUSE: settings.house_collateral}
        )
        # Test hook: answer like the live venue after a restart, which never echoes our client
        # ids (an order's snapshot then has client_id None).
        self.hide_client_ids = False
        self._seeded: dict[TokenId, tuple[Decimal, Decimal]] = {}  # token -> (shares, cost)
        self._redeemed: dict[ConditionId, Decimal] = {}
        self._windows: dict[ConditionId, _Window] = {}
        self._window_of_token: dict[TokenId, ConditionId] = {}
        self._books: dict[TokenId, HouseBook] = {}
        self._ticks: dict[TokenId, Decimal] = {}
        self._orders: dict[OrderId, _Order] = {}
        self._active: dict[OrderId, _Order] = {}
        # The same orders by token: every book change asks what we show at its token, and a
        # scan of every active order made that cost grow with the number of markets traded.
        self._active_by_token: dict[TokenId, dict[OrderId, _Order]] = {}
        self._trades: dict[str, _Trade] = {}
        self._allowance_used = ZERO
        self._balance_changes: deque[tuple[float, str, Decimal]] = deque()
        self._due: list[_Due] = []
        self._running_due_at: float | None = None
        self._sequence = itertools.count(1)
        self._touched: dict[ConditionId, dict[_LevelKey, None]] = {}
        self._market_callbacks: dict[int, MarketCallback] = {}
        self._user_callbacks: dict[int, UserCallback] = {}
        self._subscription_ids = itertools.count(1)
        self._outbox: deque[MarketEvent | UserEvent] = deque()
        self._depth = 0
        self._is_delivering = False
        self._market_stream: StreamMangler[MarketEvent] = StreamMangler(
            "market_stream",
            settings.faults.market_stream,
            self._faults,
            self._outbox.append,
        )
        self._user_stream: StreamMangler[UserEvent] = StreamMangler(
            "user_stream",
            settings.faults.user_stream,
            self._faults,
            self._outbox.append,
        )

    # === the market feeds us =================================================================

    def on_market_event(self, event: MarketEvent) -> None:
        """Follow the simulated market: books, trades, ticks, listings and resolutions."""
        with self._operation():
            match event:
                case WindowListed():
                    self._on_window_listed(event)
                case BookSnapshot():
                    self._on_book_snapshot(event)
                case PriceChange():
                    self._on_price_change(event)
                case LastTrade():
                    self._on_last_trade(event)
                case TickSizeChange():
                    self._on_tick_size_change(event)
                case MarketResolved():
                    self._on_market_resolved(event)
                case _:
                    assert_never(event)

    def poll(self) -> None:
        """Run the work that is due by now, and release any message a stream held back."""
        with self._operation():
            self._market_stream.flush()
            self._user_stream.flush()

    def next_due(self) -> float | None:
        """Clock time of the next scheduled piece of work (for the shell's timer), if any."""
        return self._due[0].at if self._due else None

    def audit(self) -> tuple[str, ...]:
        """Every broken invariant of the books and reservations; empty when all hold."""
        problems = list(self._ledger.audit())
        reserved = sum((order.reserved_collateral for order in self._active.values()), ZERO)
        held = self._ledger.balance(Account.US, COLLATERAL)
        if reserved > held:
            problems.append(f"open BUYs reserve {reserved} collateral, we hold {held}")
        by_token = {
            oid: o for orders in self._active_by_token.values() for oid, o in orders.items()
        }
        if by_token != self._active:
            problems.append("the index of active orders by token disagrees with the active orders")
        for token in {order.token_id for order in self._active.values()}:
            reserved = self._reserved_tokens(token)
            held = self._ledger.balance(Account.US, token)
            if reserved > held:
                problems.append(f"open SELLs reserve {reserved} of {token}, we hold {held}")
        return tuple(problems)

    def orders_by_client_id(self) -> dict[str, set[OrderId]]:
        """Every order the venue ever took, by the client id it was sent with (tests: the
        venue's own record of duplicates, whatever its snapshots show)."""
        seen: dict[str, set[OrderId]] = {}
        for order in self._orders.values():
            seen.setdefault(order.client_id, set()).add(order.order_id)
        return seen

    @property
    def echoes_client_ids(self) -> bool:
        """Whether order snapshots carry our client ids (see `hide_client_ids`)."""
        return not self.hide_client_ids

    def holding(self, account: Account, asset: str = COLLATERAL) -> Decimal:
        """The true (never lagging) balance of any account; for tests and reports."""
        return self._ledger.balance(account, asset)

    # === orders ===============================================================================

    def place_order(self, request: OrderRequest) -> OrderResult:
        with self._operation():
            self._raise_if_down(is_post_only_placement=request.post_only)
            return self._through_injected_faults("any", lambda: self._submit(request))

    def place_orders(self, requests: tuple[OrderRequest, ...]) -> tuple[OrderResult, ...]:
        with self._operation():
            if len(requests) > MAX_BATCH_ORDERS:
                msg = f"too many orders in one batch: {len(requests)} > {MAX_BATCH_ORDERS}"
                raise BatchTooLarge(rule="batch_limit", value=len(requests), detail=msg)
            # Only a 425 window fails the whole batch; post-only mode refuses legs one by one.
            self._raise_if_down(is_post_only_placement=True)
            return self._through_injected_faults(
                "retryable", lambda: tuple(self._submit_leg(request) for request in requests)
            )

    def cancel(self, order_id: OrderId) -> CancelResult:
        def the_one_order() -> tuple[OrderId, ...]:
            if order_id not in self._active and self._settings.faults.cancel_not_found:
                raise OrderNotFound(rule="order_gone", value=order_id, detail=ALREADY_GONE)
            return (order_id,)

        with self._operation():
            return self._gated_cancel(the_one_order)

    def cancel_orders(self, order_ids: tuple[OrderId, ...]) -> CancelResult:
        with self._operation():
            if len(order_ids) > MAX_CANCEL_IDS:
                msg = f"too many orders in one batch: {len(order_ids)} > {MAX_CANCEL_IDS}"
                raise BatchTooLarge(rule="cancel_batch_limit", value=len(order_ids), detail=msg)
            return self._gated_cancel(lambda: order_ids)

    def cancel_all(self) -> CancelResult:
        with self._operation():
            return self._gated_cancel(lambda: tuple(self._active))

    def cancel_market(self, condition_id: ConditionId) -> CancelResult:
        with self._operation():
            return self._gated_cancel(
                lambda: tuple(
                    order.order_id
                    for order in self._active.values()
                    if order.condition_id == condition_id
                )
            )

    # === account state ========================================================================

    def get_order(self, order_id: OrderId) -> OrderSnapshot | None:
        with self._operation():
            order = self._active.get(order_id)
            return None if order is None else self._snapshot(order)

    def open_orders(self, condition_id: ConditionId | None = None) -> tuple[OrderSnapshot, ...]:
        with self._operation():
            return tuple(
                self._snapshot(order)
                for order in self._active.values()
                if condition_id is None or order.condition_id == condition_id
            )

    def trades(
        self, condition_id: ConditionId | None = None, after: float | None = None
    ) -> tuple[TradeUpdate, ...]:
        with self._operation():
            return tuple(
                trade.update()
                for trade in self._trades.values()
                if (condition_id is None or trade.order.condition_id == condition_id)
                and (after is None or trade.matched_at > after)
            )

    def balance(self, token_id: TokenId | None = None) -> Decimal:
        with self._operation():
            return self._visible_balance(COLLATERAL if token_id is None else token_id)

    def refresh_balance(self, token_id: TokenId | None = None) -> Decimal:
        # Our books are always current; under the balance-lag fault a refresh cannot see a
        # fill younger than the lag either, as on the live venue right after a fill.
        return self.balance(token_id)

    def allowance(self, token_id: TokenId | None = None) -> Decimal:
        with self._operation():
            limit = self._settings.collateral_allowance
            if token_id is not None or limit is None:
                return MAX_ALLOWANCE
            return limit - self._allowance_used

    def redeem(self, condition_id: ConditionId) -> Decimal:
        with self._operation():
            known = self._windows.get(condition_id)
            if known is None:
                msg = f"market not found: {condition_id}"
                raise MarketClosed(rule="market_not_found", value=condition_id, detail=msg)
            if known.winner is None:
                msg = f"market is not resolved: {known.window.slug} cannot be redeemed yet"
                raise MarketNotResolved(rule="market_not_resolved", value=condition_id, detail=msg)
            # Redeemed tokens are burned: a fill of them that the lagging balance has not
            # shown yet must not be taken off a balance that is now zero.
            burned = set(known.window.tokens)
            self._balance_changes = deque(
                change for change in self._balance_changes if change[1] not in burned
            )
            paid = self._ledger.redeem(Account.US, condition_id)
            self._redeemed[condition_id] = self._redeemed.get(condition_id, ZERO) + paid
            return paid

    def positions(self) -> tuple[VenuePosition, ...]:
        """Every token we hold, with its average buy price (the Data API's /positions)."""
        with self._operation():
            rows = []
            for known in self._windows.values():
                window = known.window
                for index, token in enumerate(window.tokens):
                    size = self._ledger.balance(Account.US, token)
                    if size <= 0:
                        continue
                    shares, cost = self._bought(token)
                    rows.append(
                        VenuePosition(
                            condition_id=window.condition_id,
                            token_id=token,
                            size=size,
                            avg_price=cost / shares if shares else ZERO,
                            redeemable=known.winner == token,
                            current_price=self._mark(known, token),
                            outcome="Up" if index == 0 else "Down",
                            outcome_index=index,
                            opposite_token=window.tokens[1 - index],
                            slug=window.slug,
                            end_date=window.end,
                        )
                    )
            return tuple(rows)

    def closed_positions(self) -> tuple[ClosedPosition, ...]:
        """Tokens we bought and no longer hold (sold, or redeemed after resolution), with the
        realised P&L: sells net of fees plus redemption, less what the buys cost."""
        with self._operation():
            rows = []
            for known in self._windows.values():
                window = known.window
                is_redeemed = window.condition_id in self._redeemed
                for token in window.tokens:
                    shares, cost = self._bought(token)
                    held = self._ledger.balance(Account.US, token)
                    if shares <= 0 or held > 0:
                        continue
                    if known.winner is None and not self._sold(token)[0]:
                        continue  # still in flight (escrow) rather than closed
                    sold_shares, proceeds = self._sold(token)
                    redemption = ZERO
                    if is_redeemed and known.winner == token:
                        redemption = shares - sold_shares - self._bought_fees(token)
                    rows.append(
                        ClosedPosition(
                            condition_id=window.condition_id,
                            token_id=token,
                            size=shares,
                            avg_price=cost / shares,
                            realized_pnl=proceeds + max(redemption, ZERO) - cost,
                            current_price=self._mark(known, token),
                            outcome="Up" if token == window.up_token else "Down",
                            slug=window.slug,
                            timestamp=self._now(),
                        )
                    )
            return tuple(rows)

    def seed_position(
        self, window: MarketWindow, token: TokenId, size: Decimal, avg_price: Decimal
    ) -> None:
        """Test hook: hand us `size` shares of `token` bought at `avg_price` outside this
        process (as a position left by another run would be). The market is listed if new."""
        with self._operation():
            if window.condition_id not in self._windows:
                self._on_window_listed(WindowListed(window=window, timestamp=self._now()))
            self._house_must_hold(window.condition_id, token, size)
            self._ledger.transfer(token, Account.HOUSE, Account.US, size)
            self._ledger.transfer(COLLATERAL, Account.US, Account.HOUSE, size * avg_price)
            shares, cost = self._seeded.get(token, (ZERO, ZERO))
            self._seeded[token] = (shares + size, cost + size * avg_price)

    def _bought(self, token: TokenId) -> tuple[Decimal, Decimal]:
        shares, cost = self._seeded.get(token, (ZERO, ZERO))
        for trade in self._trades.values():
            if (
                trade.order.token_id == token
                and trade.order.side is Side.BUY
                and trade.status is not TradeStatus.FAILED
            ):
                shares += trade.size
                cost += trade.size * trade.price
        return shares, cost

    def _bought_fees(self, token: TokenId) -> Decimal:
        return sum(
            (
                trade.fee
                for trade in self._trades.values()
                if trade.order.token_id == token
                and trade.order.side is Side.BUY
                and trade.status is not TradeStatus.FAILED
            ),
            ZERO,
        )

    def _sold(self, token: TokenId) -> tuple[Decimal, Decimal]:
        shares = proceeds = ZERO
        for trade in self._trades.values():
            if (
                trade.order.token_id == token
                and trade.order.side is Side.SELL
                and trade.status is not TradeStatus.FAILED
            ):
                shares += trade.size
                proceeds += trade.size * trade.price - trade.fee
        return shares, proceeds

    def _mark(self, known: _Window, token: TokenId) -> Decimal:
        if known.winner is not None:
            return Decimal(1) if known.winner == token else ZERO
        book = self._books.get(token)
        mid = None if book is None else self._view(token).midpoint
        return mid if mid is not None else ZERO

    def _snapshot(self, order: _Order) -> OrderSnapshot:
        snapshot = order.snapshot()
        if self.hide_client_ids:
            return replace(snapshot, client_id=None)
        return snapshot

    # === market data ==========================================================================

    def book(self, token_id: TokenId) -> BookSnapshot:
        with self._operation():
            self._condition_of(token_id)
            return self._view(token_id)

    def midpoint(self, token_id: TokenId) -> Decimal | None:
        return self.book(token_id).midpoint

    def tick_size(self, token_id: TokenId) -> Decimal:
        with self._operation():
            self._condition_of(token_id)
            return self._ticks[token_id]

    def server_time(self) -> float:
        return self._clock.now()

    # === streams ==============================================================================

    def subscribe_market(self, callback: MarketCallback) -> Unsubscribe:
        key = next(self._subscription_ids)
        self._market_callbacks[key] = callback

        def unsubscribe() -> None:
            self._market_callbacks.pop(key, None)

        return unsubscribe

    def subscribe_user(self, callback: UserCallback) -> Unsubscribe:
        key = next(self._subscription_ids)
        self._user_callbacks[key] = callback

        def unsubscribe() -> None:
            self._user_callbacks.pop(key, None)

        return unsubscribe

    # === placement ============================================================================

    def _submit_leg(self, request: OrderRequest) -> OrderResult:
        try:
            maintenance = self._faults.maintenance_error(
                self._now(), is_post_only_placement=request.post_only
            )
            if maintenance is not None:
                raise maintenance
            injected = self._faults.injected_error(which="rejected")
            if injected is not None:
                raise injected
            return self._submit(request)
        except (RejectedError, RetryableError) as e:
            return OrderResult(
                client_id=request.client_id, order_id=None, status=None, error=str(e)
            )

    def _submit(self, request: OrderRequest) -> OrderResult:
        now = self._now()
        known = self._open_window(request.token_id, now)
        rules.check_order(
            request,
            tick_size=self._ticks[request.token_id],
            min_order_size=known.window.min_order_size,
            now=now,
            gtd_min_lead_s=self._settings.gtd_min_lead_s,
        )
        is_marketable = self._is_marketable(request.token_id, request.side, request.price)
        if is_marketable and request.post_only:
            msg = f"invalid post-only order: order crosses book at {request.price}"
            raise PostOnlyWouldCross(rule="post_only", value=request.price, detail=msg)
        if is_marketable and request.side is Side.BUY:
            notional = (
                request.amount if request.amount is not None else request.size * request.price
            )
            rules.check_marketable_notional(
                notional=notional, min_notional=self._settings.min_notional
            )
        order = self._new_order(request, known.window.condition_id, now)
        self._check_funds(order)
        latency_s = self._settings.faults.latency_s
        if latency_s > 0:
            order.status = DELAYED if is_marketable else LIVE
            self._register(order)
            self._schedule(now + latency_s, lambda: self._execute_delayed(order))
            status = OrderStatus.DELAYED if is_marketable else OrderStatus.LIVE
            return OrderResult(client_id=order.client_id, order_id=order.order_id, status=status)
        return self._execute(order)

    def _new_order(self, request: OrderRequest, condition_id: ConditionId, now: float) -> _Order:
        sequence = next(self._sequence)
        digest = hashlib.sha256(f"paper-order:{request.client_id}:{sequence}".encode()).hexdigest()
        if request.amount is not None:
            # Shares are known only once it trades; until then the most the amount can buy.
            size = (request.amount / request.price).quantize(rules.CENT, rounding=ROUND_DOWN)
        else:
            size = request.size
        return _Order(
            order_id=OrderId(f"0x{digest}"),
            client_id=request.client_id,
            condition_id=condition_id,
            token_id=request.token_id,
            side=request.side,
            price=request.price,
            original_size=size,
            order_type=request.order_type,
            amount=request.amount,
            expiration=request.expiration,
            post_only=request.post_only,
            created_at=now,
            sequence=sequence,
        )

    def _check_funds(self, order: _Order) -> None:
        match order.side:
            case Side.BUY:
                cost = order.reserved_collateral
                available = self._available(COLLATERAL)
                if cost > available:
                    msg = (
                        "not enough balance / allowance: the balance is not enough -> "
                        f"balance: {available}, order amount: {cost}"
                    )
                    raise InsufficientBalance(rule="collateral_balance", value=cost, detail=msg)
                limit = self._settings.collateral_allowance
                committed = self._reserved_collateral() + cost
                if limit is not None and committed > limit - self._allowance_used:
                    msg = (
                        f"not enough allowance: {limit - self._allowance_used} left, "
                        f"open orders and this one need {committed}"
                    )
                    raise InsufficientAllowance(rule="collateral_allowance", value=cost, detail=msg)
            case Side.SELL:
                available = self._available(order.token_id)
                if order.remaining > available:
                    msg = (
                        "not enough balance / allowance: the balance is not enough -> "
                        f"balance: {available}, order amount: {order.remaining}"
                    )
                    raise InsufficientBalance(
                        rule="token_balance", value=order.remaining, detail=msg
                    )
            case _:
                assert_never(order.side)

    def _execute(self, order: _Order) -> OrderResult:
        """Trade `order` against the book now; rest, kill or finish it. Raises on a kill."""
        fills = self._plan_fills(order)
        kill_status = self._kill_status(order, fills)
        if kill_status is not None:
            self._register(order)
            self._close(order, kill_status)
            text = FOK_TEXT if order.order_type is OrderType.FOK else FAK_TEXT
            rule = "fok_fill_or_kill" if order.order_type is OrderType.FOK else "fak_no_match"
            raise OrderNotFilled(rule=rule, value=order.original_size, detail=text)
        self._register(order)
        self._trade_fills(order, fills)
        return self._result(order)

    def _execute_delayed(self, order: _Order) -> None:
        """The latency fault's deferred placement: the same as `_execute`, answered by events."""
        if not order.is_active:
            return  # cancelled, or its market resolved, while it was in flight
        now = self._now()
        known = self._windows[order.condition_id]
        if known.winner is not None or now >= known.window.end:
            self._close(order, UNMATCHED)
            return
        fills = self._plan_fills(order)
        if order.post_only and fills:
            self._close(order, "INVALID")
            return
        if self._kill_status(order, fills) is not None:
            self._close(order, UNMATCHED)
            return
        order.status = LIVE
        self._trade_fills(order, fills)

    def _plan_fills(self, order: _Order) -> tuple[Fill, ...]:
        book = self._books.get(order.token_id)
        if book is None:
            return ()
        levels = book.levels(opposite(order.side))
        if order.amount is not None:
            return walk_for_amount(levels, limit=order.price, amount=order.amount - order.spent)
        return walk_for_shares(
            levels, taker_side=order.side, limit=order.price, shares=order.remaining
        )

    def _kill_status(self, order: _Order, fills: tuple[Fill, ...]) -> str | None:
        match order.order_type:
            case OrderType.FOK:
                if self._fully_fillable(order, fills):
                    return None
                return FOK_KILLED
            case OrderType.FAK:
                return None if fills else FAK_KILLED
            case OrderType.GTC | OrderType.GTD:
                return None
            case _:
                assert_never(order.order_type)

    def _fully_fillable(self, order: _Order, fills: tuple[Fill, ...]) -> bool:
        if order.amount is None:
            return sum((fill.shares for fill in fills), ZERO) == order.remaining
        book = self._books.get(order.token_id)
        if book is None:
            return False
        reachable = value_within(book.levels(Side.SELL), taker_side=Side.BUY, limit=order.price)
        return reachable >= order.amount

    def _trade_fills(self, order: _Order, fills: tuple[Fill, ...]) -> None:
        for fill in fills:
            self._fill_as_taker(order, fill)
        if rules.is_market_type(order.order_type):
            # A market order never rests: what it bought is its size, the rest is void.
            order.original_size = order.size_matched
            self._close(order, MATCHED, announce=False)
        elif order.remaining > 0:
            order.is_resting = True
            order.status = LIVE
            self._touch(order.token_id, order.side, order.price)
            self._emit_order(order, OrderUpdateKind.PLACEMENT)
            if order.order_type is OrderType.GTD and order.expiration is not None:
                expires_at = order.expiration - self._settings.gtd_expiry_early_s
                self._schedule(expires_at, lambda: self._expire(order))
        else:
            self._close(order, MATCHED, announce=False)

    def _result(self, order: _Order) -> OrderResult:
        if order.size_matched == 0:
            return OrderResult(
                client_id=order.client_id, order_id=order.order_id, status=OrderStatus.LIVE
            )
        shares, collateral = order.size_matched, order.traded_value
        making, taking = (collateral, shares) if order.side is Side.BUY else (shares, collateral)
        return OrderResult(
            client_id=order.client_id,
            order_id=order.order_id,
            status=OrderStatus.MATCHED,
            making_amount=making,
            taking_amount=taking,
        )

    # === fills and settlement =================================================================

    def _fill_as_taker(self, order: _Order, fill: Fill) -> None:
        book = self._books[order.token_id]
        book.consume(opposite(order.side), fill.price, fill.shares)
        self._touch(order.token_id, opposite(order.side), fill.price)
        fee = taker_fee(
            side=order.side,
            shares=fill.shares,
            price=fill.price,
            rate=self._settings.fee_rate,
            exponent=self._settings.fee_exponent,
        )
        self._settle(order, price=fill.price, shares=fill.shares, fee=fee, is_maker=False)
        self._publish_market(
            LastTrade(
                condition_id=order.condition_id,
                token_id=order.token_id,
                price=fill.price,
                size=fill.shares,
                side=order.side,
                timestamp=self._now(),
            )
        )

    def _fill_as_maker(self, order: _Order, shares: Decimal) -> None:
        self._settle(order, price=order.price, shares=shares, fee=ZERO, is_maker=True)
        self._touch(order.token_id, order.side, order.price)
        if order.remaining > 0:
            self._emit_order(order, OrderUpdateKind.UPDATE)
        else:
            self._close(order, MATCHED, kind=OrderUpdateKind.UPDATE)

    def _settle(
        self, order: _Order, *, price: Decimal, shares: Decimal, fee: Decimal, is_maker: bool
    ) -> None:
        """Match one fill: both sides give into escrow now; payouts wait for confirmation."""
        now = self._now()
        collateral = shares * price
        token = order.token_id
        match order.side:
            case Side.BUY:
                self._house_must_hold(order.condition_id, token, shares)
                given = (
                    _Leg(COLLATERAL, Account.US, collateral),
                    _Leg(token, Account.HOUSE, shares),
                )
                paid = (
                    _Leg(COLLATERAL, Account.HOUSE, collateral),
                    _Leg(token, Account.US, shares - fee),
                    _Leg(token, Account.FEES, fee),
                )
                order.spent += collateral
                self._allowance_used += collateral
            case Side.SELL:
                given = (
                    _Leg(token, Account.US, shares),
                    _Leg(COLLATERAL, Account.HOUSE, collateral),
                )
                paid = (
                    _Leg(token, Account.HOUSE, shares),
                    _Leg(COLLATERAL, Account.US, collateral - fee),
                    _Leg(COLLATERAL, Account.FEES, fee),
                )
            case _:
                assert_never(order.side)
        order.size_matched += shares
        order.traded_value += collateral
        self._move(given, into_escrow=True)
        sequence = next(self._sequence)
        trade = _Trade(
            trade_id=str(
                uuid.UUID(bytes=hashlib.sha256(f"paper-trade:{sequence}".encode()).digest()[:16])
            ),
            order=order,
            price=price,
            size=shares,
            fee=fee,
            is_maker=is_maker,
            matched_at=now,
            given=given,
            paid=paid,
            updated_at=now,
        )
        self._trades[trade.trade_id] = trade
        self._emit_user(trade.update())
        will_fail = self._faults.chance("trade_failure", self._settings.faults.trade_failure_rate)
        delay_s = self._settings.faults.confirmation_delay_s
        middle = TradeStatus.RETRYING if will_fail else TradeStatus.MINED
        self._schedule(now + delay_s / 2, lambda: self._advance_trade(trade, middle))
        self._schedule(now + delay_s, lambda: self._finish_trade(trade, failed=will_fail))

    def _house_must_hold(self, condition_id: ConditionId, token: TokenId, shares: Decimal) -> None:
        # The counterparty mints complete sets for what it lacks, so shares stay conserved.
        shortfall = shares - self._ledger.balance(Account.HOUSE, token)
        if shortfall > 0:
            self._ledger.split(Account.HOUSE, condition_id, shortfall)

    def _advance_trade(self, trade: _Trade, status: TradeStatus) -> None:
        trade.status = status
        trade.updated_at = self._now()
        self._emit_user(trade.update())

    def _finish_trade(self, trade: _Trade, *, failed: bool) -> None:
        if failed:
            # What each side gave comes back; the order keeps its matched size (the venue does
            # not put a failed fill back on the book).
            self._move(trade.given, into_escrow=False)
            if trade.order.side is Side.BUY:
                self._allowance_used -= trade.size * trade.price  # the transfer never happened
            self._advance_trade(trade, TradeStatus.FAILED)
        else:
            self._move(trade.paid, into_escrow=False)
            self._advance_trade(trade, TradeStatus.CONFIRMED)

    def _move(self, legs: tuple[_Leg, ...], *, into_escrow: bool) -> None:
        now = self._now()
        for leg in legs:
            if leg.amount == 0:
                continue
            if into_escrow:
                self._ledger.transfer(leg.asset, leg.account, Account.ESCROW, leg.amount)
            else:
                self._ledger.transfer(leg.asset, Account.ESCROW, leg.account, leg.amount)
            if leg.account == Account.US and self._settings.faults.balance_lag_s > 0:
                change = -leg.amount if into_escrow else leg.amount
                self._balance_changes.append((now, leg.asset, change))

    # === resting orders and the market ========================================================

    def _on_window_listed(self, event: WindowListed) -> None:
        window = event.window
        self._windows.setdefault(window.condition_id, _Window(window))
        for token in window.tokens:
            self._window_of_token[token] = window.condition_id
            self._ticks.setdefault(token, window.tick_size)
        self._ledger.register_market(window.condition_id, window.up_token, window.down_token)
        self._publish_market(event)

    def _on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        if self._is_resolved(snapshot.condition_id):
            return
        book = self._book_of(snapshot.condition_id, snapshot.token_id, snapshot.tick_size)
        book.apply_snapshot(snapshot)
        self._ticks[snapshot.token_id] = snapshot.tick_size
        if snapshot.token_id not in self._window_of_token:
            self._publish_market(snapshot)  # not listed (yet): nothing of ours can be in it
            return
        self._fill_resting_from_book(snapshot.token_id)
        # The snapshot republished is the book as we see it: its levels need no patching.
        touched = self._touched.get(snapshot.condition_id, {})
        for key in [key for key in touched if key[0] == snapshot.token_id]:
            del touched[key]
        self._publish_market(self._view(snapshot.token_id))

    def _on_price_change(self, event: PriceChange) -> None:
        if self._is_resolved(event.condition_id):
            return
        if event.condition_id not in self._windows:
            self._publish_market(event)  # not listed (yet): nothing of ours can be in it
        tokens: dict[TokenId, None] = {}
        for change in event.changes:
            tick = self._ticks.get(change.token_id, Decimal("0.01"))
            self._book_of(event.condition_id, change.token_id, tick).apply_change(
                change, event.timestamp
            )
            tokens[change.token_id] = None
        for token in tokens:
            self._fill_resting_from_book(token)
        for change in event.changes:
            self._touch(change.token_id, change.side, change.price)

    def _on_last_trade(self, trade: LastTrade) -> None:
        if self._is_resolved(trade.condition_id):
            return
        self._publish_market(trade)
        # A market taker SELL hits bids, ours among them if priced at or above the trade.
        our_side = opposite(trade.side)
        left = trade.size
        for order in self._resting(trade.token_id, our_side):
            if left <= 0 or not crosses(our_side, order.price, trade.price):
                break
            shares = min(order.remaining, left)
            self._fill_as_maker(order, shares)
            left -= shares

    def _on_tick_size_change(self, event: TickSizeChange) -> None:
        self._ticks[event.token_id] = event.new_tick_size
        book = self._books.get(event.token_id)
        if book is not None:
            book.tick_size = event.new_tick_size
        self._publish_market(event)

    def _on_market_resolved(self, event: MarketResolved) -> None:
        known = self._windows.get(event.condition_id)
        if known is None or known.winner is not None:
            self._publish_market(event)
            return
        known.winner = event.winning_token
        self._ledger.resolve(event.condition_id, event.winning_token)
        for order in tuple(self._active.values()):
            if order.condition_id == event.condition_id:
                self._close(order, CANCELED_MARKET_RESOLVED)
        self._touched.pop(event.condition_id, None)
        self._publish_market(event)

    def _fill_resting_from_book(self, token: TokenId) -> None:
        """Our resting orders that the market's book now reaches trade at their own price."""
        book = self._books[token]
        for our_side in (Side.BUY, Side.SELL):
            book_side = opposite(our_side)
            for order in self._resting(token, our_side):
                for level in book.levels(book_side):
                    if order.remaining <= 0 or not crosses(our_side, order.price, level.price):
                        break
                    shares = min(order.remaining, level.size)
                    book.consume(book_side, level.price, shares)
                    self._touch(token, book_side, level.price)
                    self._fill_as_maker(order, shares)

    def _resting(self, token: TokenId, side: Side) -> tuple[_Order, ...]:
        """Our resting orders on one side of a token's book, best price first, then oldest."""
        orders = [
            order for order in self._active_of(token) if order.is_resting and order.side is side
        ]
        sign = -1 if side is Side.BUY else 1
        orders.sort(key=lambda order: (sign * order.price, order.sequence))
        return tuple(orders)

    def _expire(self, order: _Order) -> None:
        if order.is_active:
            self._close(order, CANCELED_EXPIRED)

    # === cancels ==============================================================================

    def _gated_cancel(self, order_ids: Callable[[], tuple[OrderId, ...]]) -> CancelResult:
        # Cancels pass in post-only mode; only a 425 window stops them.
        self._raise_if_down(is_post_only_placement=True)
        return self._through_injected_faults("retryable", lambda: self._cancel_each(order_ids()))

    def _through_injected_faults(
        self, which: Literal["any", "retryable", "rejected"], action: Callable[[], _T]
    ) -> _T:
        """Run `action` unless `reject_rates` refuses the request. An injected timeout lets it
        run and then loses the answer: the worst case of a real timeout."""
        injected = self._faults.injected_error(which=which)
        if injected is not None and not isinstance(injected, VenueTimeout):
            raise injected
        result = action()
        if injected is not None:
            raise injected
        return result

    def _cancel_each(self, order_ids: tuple[OrderId, ...]) -> CancelResult:
        canceled: list[OrderId] = []
        not_canceled: dict[OrderId, str] = {}
        for order_id in order_ids:
            order = self._active.get(order_id)
            if order is None:
                not_canceled[order_id] = ALREADY_GONE
            else:
                self._close(order, CANCELED)
                canceled.append(order_id)
        return CancelResult(canceled=tuple(canceled), not_canceled=not_canceled)

    # === state helpers ========================================================================

    def _register(self, order: _Order) -> None:
        self._orders[order.order_id] = order
        self._active[order.order_id] = order
        self._active_by_token.setdefault(order.token_id, {})[order.order_id] = order

    def _active_of(self, token: TokenId) -> Iterable[_Order]:
        return self._active_by_token.get(token, {}).values()

    def _close(
        self,
        order: _Order,
        status: str,
        *,
        announce: bool = True,
        kind: OrderUpdateKind = OrderUpdateKind.CANCELLATION,
    ) -> None:
        if order.is_resting:
            self._touch(order.token_id, order.side, order.price)
        order.status = status
        order.is_active = False
        order.is_resting = False
        self._active.pop(order.order_id, None)
        of_token = self._active_by_token.get(order.token_id)
        if of_token is not None:
            of_token.pop(order.order_id, None)
            if not of_token:
                del self._active_by_token[order.token_id]
        if announce:
            self._emit_order(order, kind)

    def _open_window(self, token: TokenId, now: float) -> _Window:
        known = self._windows[self._condition_of(token)]
        if known.winner is not None:
            msg = f"market is closed: {known.window.slug} has resolved"
            raise MarketClosed(rule="market_resolved", value=known.window.condition_id, detail=msg)
        if now >= known.window.end:
            msg = f"market is closed: {known.window.slug} ended at {known.window.end}"
            raise MarketClosed(rule="market_closed", value=known.window.condition_id, detail=msg)
        return known

    def _condition_of(self, token: TokenId) -> ConditionId:
        condition_id = self._window_of_token.get(token)
        if condition_id is None:
            msg = f"market not found for token {token}"
            raise MarketClosed(rule="market_not_found", value=token, detail=msg)
        return condition_id

    def _is_resolved(self, condition_id: ConditionId) -> bool:
        known = self._windows.get(condition_id)
        return known is not None and known.winner is not None

    def _book_of(self, condition_id: ConditionId, token: TokenId, tick: Decimal) -> HouseBook:
        book = self._books.get(token)
        if book is None:
            book = self._books[token] = HouseBook(
                condition_id=condition_id, token_id=token, tick_size=tick
            )
        return book

    def _is_marketable(self, token: TokenId, side: Side, price: Decimal) -> bool:
        book = self._books.get(token)
        if book is None:
            return False
        best = book.levels(opposite(side))
        return bool(best) and crosses(side, price, best[0].price)

    def _reserved_collateral(self) -> Decimal:
        return sum((order.reserved_collateral for order in self._active.values()), ZERO)

    def _reserved_tokens(self, token: TokenId) -> Decimal:
        return sum(
            (order.reserved_tokens for order in self._active_of(token)),
            ZERO,
        )

    def _available(self, asset: str) -> Decimal:
        # A lagging balance may only refuse more: never spend what the true books lack.
        held = min(self._ledger.balance(Account.US, asset), self._visible_balance(asset))
        reserved = (
            self._reserved_collateral()
            if asset == COLLATERAL
            else self._reserved_tokens(TokenId(asset))
        )
        return held - reserved

    def _visible_balance(self, asset: str) -> Decimal:
        true_balance = self._ledger.balance(Account.US, asset)
        lag_s = self._settings.faults.balance_lag_s
        if lag_s <= 0:
            return true_balance
        horizon = self._now() - lag_s
        while self._balance_changes and self._balance_changes[0][0] <= horizon:
            self._balance_changes.popleft()
        unseen = sum(
            (change for _, changed, change in self._balance_changes if changed == asset), ZERO
        )
        return true_balance - unseen

    def _view(self, token: TokenId) -> BookSnapshot:
        """The book as the venue shows it to us: the market's, less what we took, plus ours."""
        book = self._books.get(token)
        condition_id = self._condition_of(token)
        sides: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}
        if book is not None:
            for side in (Side.BUY, Side.SELL):
                sides[side] = {level.price: level.size for level in book.levels(side)}
        for order in self._active_of(token):
            if order.is_resting:
                levels = sides[order.side]
                levels[order.price] = levels.get(order.price, ZERO) + order.remaining
        return BookSnapshot(
            condition_id=condition_id,
            token_id=token,
            bids=tuple(BookLevel(p, s) for p, s in sorted(sides[Side.BUY].items(), reverse=True)),
            asks=tuple(BookLevel(p, s) for p, s in sorted(sides[Side.SELL].items())),
            tick_size=self._ticks[token],
            timestamp=self._now(),
        )

    # === scheduling and publishing ============================================================

    def _schedule(self, at: float, action: Callable[[], None]) -> None:
        # Never in the past: work runs at its due time, and time must not run backwards.
        heapq.heappush(self._due, _Due(max(at, self._now()), next(self._sequence), action))

    def _now(self) -> float:
        """The clock's time, or while due work runs, the time it was due: the outcome must not
        depend on how late the shell polled."""
        return self._clock.now() if self._running_due_at is None else self._running_due_at

    def _run_due(self) -> None:
        now = self._clock.now()
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            self._running_due_at = due.at
            try:
                due.action()
            finally:
                self._running_due_at = None

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """Every public call: catch up on due work, do the call, publish what it changed, and
        (outermost call only) deliver to subscribers once the state is consistent."""
        self._depth += 1
        try:
            self._run_due()
            yield
        finally:
            self._run_due()
            self._publish_touched_levels()
            self._depth -= 1
            if self._depth == 0:
                self._deliver()

    def _deliver(self) -> None:
        if self._is_delivering:
            return  # a callback called us back; the running loop delivers what it added
        self._is_delivering = True
        try:
            while self._outbox:
                event = self._outbox.popleft()
                if isinstance(event, OrderUpdate | TradeUpdate):
                    for user_callback in tuple(self._user_callbacks.values()):
                        user_callback(event)
                else:
                    for market_callback in tuple(self._market_callbacks.values()):
                        market_callback(event)
        finally:
            self._is_delivering = False

    def _touch(self, token: TokenId, side: Side, price: Decimal) -> None:
        condition_id = self._window_of_token.get(token)
        if condition_id is not None:
            self._touched.setdefault(condition_id, {})[(token, side, price)] = None

    def _publish_touched_levels(self) -> None:
        """One PriceChange per market for the levels this call changed, as we see them."""
        touched, self._touched = self._touched, {}
        for condition_id, levels in touched.items():
            if not levels:
                continue
            tokens = dict.fromkeys(token for token, _, _ in levels)
            best = {
                token: (self._best_shown(token, Side.BUY), self._best_shown(token, Side.SELL))
                for token in tokens
            }
            changes = tuple(
                PriceLevelChange(
                    token_id=token,
                    price=price,
                    size=self._size_shown(token, side, price),
                    side=side,
                    best_bid=best[token][0],
                    best_ask=best[token][1],
                )
                for token, side, price in levels
            )
            self._publish_market(
                PriceChange(condition_id=condition_id, changes=changes, timestamp=self._now())
            )

    def _size_shown(self, token: TokenId, book_side: Side, price: Decimal) -> Decimal:
        book = self._books.get(token)
        size = ZERO if book is None else book.size_at(book_side, price)
        for order in self._active_of(token):
            if order.is_resting and order.side is book_side and order.price == price:
                size += order.remaining
        return size

    def _best_shown(self, token: TokenId, book_side: Side) -> Decimal | None:
        book = self._books.get(token)
        prices = [
            order.price
            for order in self._active_of(token)
            if order.is_resting and order.side is book_side
        ]
        house_best = None if book is None else book.best(book_side)
        if house_best is not None:
            prices.append(house_best)
        if not prices:
            return None
        return max(prices) if book_side is Side.BUY else min(prices)

    def _publish_market(self, event: MarketEvent) -> None:
        self._market_stream.publish(event)

    def _emit_user(self, event: UserEvent) -> None:
        self._user_stream.publish(event)

    def _emit_order(self, order: _Order, kind: OrderUpdateKind) -> None:
        self._emit_user(
            OrderUpdate(
                kind=kind,
                order_id=order.order_id,
                condition_id=order.condition_id,
                token_id=order.token_id,
                side=order.side,
                price=order.price,
                original_size=order.original_size,
                size_matched=order.size_matched,
                status=order.status,
                timestamp=self._now(),
            )
        )

    def _raise_if_down(self, *, is_post_only_placement: bool) -> None:
        error = self._faults.maintenance_error(
            self._now(), is_post_only_placement=is_post_only_placement
        )
        if error is not None:
            raise error
