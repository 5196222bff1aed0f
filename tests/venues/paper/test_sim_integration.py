"""The paper exchange driven by the simulated market for an hour of simulated time: money and
shares are conserved, and the same seed gives the same market and the same fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import pytest

from runtime.clock import ManualClock
from venues.errors import VenueError
from venues.paper import PaperExchange, PaperSettings
from venues.paper.faults import FaultSettings
from venues.paper.ledger import COLLATERAL, Account
from venues.sim.market import SimMarket
from venues.sim.settings import SimSettings
from venues.types import (
    ConditionId,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    OrderRequest,
    OrderType,
    Side,
    SpotPrice,
    TradeStatus,
    TradeUpdate,
    UserEvent,
    WindowListed,
)

START = 1_767_225_600.0  # a multiple of every timeframe
HOUR_S = 3600
D = Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    market_events: tuple[MarketEvent, ...]
    user_events: tuple[UserEvent, ...]
    trades: tuple[TradeUpdate, ...]
    collateral: Decimal
    problems_seen: tuple[str, ...]


def _trade_one_hour(seed: int, faults: FaultSettings) -> Run:
    """A crude trader: every 2 minutes, per open window, rest a bid under the UP mid, take a
    little DOWN, and sell half of what it holds; redeem what resolves."""
    clock = ManualClock(START)
    market = SimMarket(SimSettings(seed=seed), START)
    exchange = PaperExchange(PaperSettings(faults=faults), clock)
    seen: list[MarketEvent] = []
    user_events: list[UserEvent] = []
    exchange.subscribe_user(user_events.append)
    windows: dict[ConditionId, MarketWindow] = {}
    resolved: list[ConditionId] = []
    problems: list[str] = []
    orders = 0
    for second in range(1, HOUR_S + 1):
        now = START + second
        clock.set(now)
        for event in market.advance(now):
            if isinstance(event, SpotPrice):
                continue  # the reference feed's business, not the exchange's
            seen.append(event)
            exchange.on_market_event(event)
            if isinstance(event, WindowListed):
                windows[event.window.condition_id] = event.window
            elif isinstance(event, MarketResolved):
                resolved.append(event.condition_id)
        exchange.poll()
        if second % 120 == 0:
            for window in windows.values():
                if window.start <= now < window.end - 30:
                    orders += _trade_window(exchange, window, f"{second}")
        for condition_id in resolved:
            exchange.redeem(condition_id)
        resolved.clear()
        if second % 60 == 0:
            problems.extend(exchange.audit())
    return Run(
        market_events=tuple(seen),
        user_events=tuple(user_events),
        trades=exchange.trades(),
        collateral=exchange.holding(Account.US, COLLATERAL),
        problems_seen=tuple(problems),
    )


def _trade_window(exchange: PaperExchange, window: MarketWindow, tag: str) -> int:
    placed = 0
    book = exchange.book(window.up_token)
    tick = exchange.tick_size(window.up_token)
    held = exchange.balance(window.down_token).quantize(D("0.01"), rounding=ROUND_DOWN)
    requests = []
    if book.best_bid is not None and book.best_bid - tick >= tick:
        requests.append(
            OrderRequest(
                client_id=f"bid-{window.slug}-{tag}",
                token_id=window.up_token,
                side=Side.BUY,
                price=book.best_bid,
                size=D(10),
            )
        )
    requests.append(
        OrderRequest(
            client_id=f"take-{window.slug}-{tag}",
            token_id=window.down_token,
            side=Side.BUY,
            price=1 - exchange.tick_size(window.down_token),
            size=D(0),
            amount=D(5),
            order_type=OrderType.FAK,
        )
    )
    if held >= 10:
        down_bid = exchange.book(window.down_token).best_bid
        if down_bid is not None:
            requests.append(
                OrderRequest(
                    client_id=f"sell-{window.slug}-{tag}",
                    token_id=window.down_token,
                    side=Side.SELL,
                    price=down_bid,
                    size=(held / 2).quantize(D("0.01"), rounding=ROUND_DOWN),
                    order_type=OrderType.FAK,
                )
            )
    for request in requests:
        try:
            exchange.place_order(request)
            placed += 1
        except VenueError:
            continue  # a refusal is an outcome like any other here
    return placed


@pytest.mark.slow
@pytest.mark.integration
def test_an_hour_against_the_simulated_market_conserves_money_and_repeats_exactly() -> None:
    faults = FaultSettings(seed=5, confirmation_delay_s=6.0, trade_failure_rate=0.05)
    first = _trade_one_hour(seed=11, faults=faults)
    assert first.problems_seen == ()
    fills = [t for t in first.trades if t.status is TradeStatus.CONFIRMED]
    assert any(t.is_maker for t in fills)
    assert any(not t.is_maker and t.side is Side.BUY for t in fills)
    assert any(t.side is Side.SELL for t in fills)
    assert any(isinstance(e, MarketResolved) for e in first.market_events)
    assert first.collateral >= 0

    second = _trade_one_hour(seed=11, faults=faults)
    assert second.market_events == first.market_events
    assert second.user_events == first.user_events
    assert second.trades == first.trades
    assert second.collateral == first.collateral
