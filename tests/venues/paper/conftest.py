"""A paper exchange on a manual clock with one listed window and a book per token, plus
recorders for both streams. Tests drive the market by hand with the helpers below."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pytest

from runtime.clock import ManualClock
from venues.paper import PaperExchange, PaperSettings
from venues.paper.faults import FaultSettings
from venues.types import (
    BookLevel,
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    OrderRequest,
    OrderResult,
    OrderType,
    OrderUpdate,
    PriceChange,
    PriceLevelChange,
    Side,
    TokenId,
    TradeStatus,
    TradeUpdate,
    UserEvent,
    WindowListed,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of 900
D = Decimal

Levels = Iterable[tuple[str, int | str]]


class Harness:
    """One exchange, one 15-minute window (UP/DOWN), recorded streams."""

    def __init__(self, settings: PaperSettings, *, with_books: bool = True) -> None:
        self.clock = ManualClock(T0)
        self.exchange = PaperExchange(settings, self.clock)
        self.window = MarketWindow(
            asset="BTC",
            timeframe_s=900,
            start=T0,
            end=T0 + 900,
            condition_id=ConditionId("0xcondition"),
            up_token=TokenId("token-up"),
            down_token=TokenId("token-down"),
            slug="btc-updown-15m-1767225600",
        )
        self.up = self.window.up_token
        self.down = self.window.down_token
        self.condition_id = self.window.condition_id
        self.user_events: list[UserEvent] = []
        self.market_events: list[MarketEvent] = []
        self.exchange.subscribe_user(self.user_events.append)
        self.exchange.subscribe_market(self.market_events.append)
        self._client_ids = itertools.count(1)
        self.feed(WindowListed(window=self.window, timestamp=T0))
        if with_books:
            self.set_book(self.up, bids=[("0.48", 100)], asks=[("0.52", 100)])
            self.set_book(self.down, bids=[("0.48", 100)], asks=[("0.52", 100)])

    # --- the market -------------------------------------------------------------------------
    def feed(self, event: MarketEvent) -> None:
        self.exchange.on_market_event(event)

    def set_book(self, token: TokenId, *, bids: Levels = (), asks: Levels = ()) -> None:
        self.feed(
            BookSnapshot(
                condition_id=self.condition_id,
                token_id=token,
                bids=tuple(BookLevel(D(p), D(s)) for p, s in bids),
                asks=tuple(BookLevel(D(p), D(s)) for p, s in asks),
                tick_size=self.exchange.tick_size(token),
                timestamp=self.clock.now(),
            )
        )

    def change_level(self, token: TokenId, book_side: Side, price: str, size: int | str) -> None:
        self.feed(
            PriceChange(
                condition_id=self.condition_id,
                changes=(
                    PriceLevelChange(
                        token_id=token,
                        price=D(price),
                        size=D(size),
                        side=book_side,
                        best_bid=None,
                        best_ask=None,
                    ),
                ),
                timestamp=self.clock.now(),
            )
        )

    def market_trade(self, token: TokenId, taker_side: Side, price: str, size: int | str) -> None:
        self.feed(
            LastTrade(
                condition_id=self.condition_id,
                token_id=token,
                price=D(price),
                size=D(size),
                side=taker_side,
                timestamp=self.clock.now(),
            )
        )

    def resolve(self, winner: TokenId) -> None:
        self.feed(
            MarketResolved(
                condition_id=self.condition_id,
                winning_token=winner,
                winning_outcome="Up" if winner == self.up else "Down",
                timestamp=self.clock.now(),
            )
        )

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.exchange.poll()

    # --- us ---------------------------------------------------------------------------------
    def request(self, **overrides: Any) -> OrderRequest:
        fields: dict[str, Any] = {
            "client_id": f"client-{next(self._client_ids)}",
            "token_id": self.up,
            "side": Side.BUY,
            "price": D("0.50"),
            "size": D(10),
            "order_type": OrderType.GTC,
        }
        for key, value in overrides.items():
            fields[key] = (
                D(value) if key in {"price", "size", "amount"} and value is not None else value
            )
        return OrderRequest(**fields)

    def place(self, **overrides: Any) -> OrderResult:
        return self.exchange.place_order(self.request(**overrides))

    def trade_updates(self, status: TradeStatus | None = None) -> list[TradeUpdate]:
        return [
            event
            for event in self.user_events
            if isinstance(event, TradeUpdate) and (status is None or event.status is status)
        ]

    def order_updates(self) -> list[OrderUpdate]:
        return [event for event in self.user_events if isinstance(event, OrderUpdate)]


@pytest.fixture
def make_harness() -> Callable[..., Harness]:
    def make(
        settings: PaperSettings | None = None, *, with_books: bool = True, **fault_knobs: Any
    ) -> Harness:
        if settings is None:
            settings = PaperSettings(faults=FaultSettings(**fault_knobs))
        return Harness(settings, with_books=with_books)

    return make


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
