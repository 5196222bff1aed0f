"""Reconciliation in the real tree on the paper exchange: what a previous run left on the
venue (a position nobody knows, an order nobody owns) is adopted or cancelled on purpose, and
trading opens only after the first reconciliation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from venues.errors import VenueTimeout
from venues.paper import PaperExchange
from venues.paper.ledger import Account
from venues.sim.windows import make_window
from venues.types import ConditionId, MarketWindow, OrderRequest, Side, TokenId

from .conftest import START

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

# A market no window of ours ever discovers: only the venue knows we hold some of it.
LEFTOVER = MarketWindow(
    asset="BTC",
    timeframe_s=900,
    start=START,
    end=START + 900,
    condition_id=ConditionId("0xleftover"),
    up_token=TokenId("leftover-up"),
    down_token=TokenId("leftover-down"),
    slug=f"btc-updown-15m-{int(START)}",
)
HELD = Decimal(12)


def leave_a_position(exchange: PaperExchange) -> None:
    exchange.seed_position(LEFTOVER, LEFTOVER.up_token, HELD, Decimal("0.40"))


def leave_an_order(exchange: PaperExchange) -> None:
    leave_a_position(exchange)
    exchange.place_order(
        OrderRequest(
            client_id="someone-else-1",  # not one of our position's client ids
            token_id=LEFTOVER.down_token,
            side=Side.BUY,
            price=Decimal("0.10"),
            size=Decimal(10),
        )
    )


def test_an_unknown_position_at_start_is_adopted_and_protected_not_sold(paper_world):
    world = paper_world(setup=leave_a_position)
    world.run(3)
    (adopted,) = world.query(
        "SELECT payload->>'position_id', payload->>'size', payload->>'reservation_id' "
        "FROM events WHERE type = 'PositionAdopted'"
    )
    position_id, size, reservation_id = adopted
    assert Decimal(size) == HELD
    (reserved,) = world.query(
        "SELECT payload->>'amount' FROM events WHERE type = 'CapitalReserved' "
        "AND payload->>'purpose' = 'adopted'"
    )
    assert Decimal(reserved[0]) == HELD * Decimal("0.40")  # risk sees the exposure
    intents = world.query(
        "SELECT payload->>'purpose', payload->>'side', payload->>'order_type', "
        "payload->>'size', payload->>'price' FROM events WHERE type = 'OrderIntent' "
        "AND payload->>'position_id' = ?",
        (position_id,),
    )
    assert intents, "the adopted position placed no exit plan"
    assert all(purpose == "exit" for purpose, *_ in intents)  # no entry, no stop, no sale
    assert all(order_type == "GTC" and side == "SELL" for _, side, order_type, *_ in intents)
    exits = [o for o in world.exchange.open_orders() if (o.client_id or "").startswith(position_id)]
    assert [(o.side, o.original_size, o.price) for o in exits] == [
        (Side.SELL, HELD, Decimal("0.99"))
    ]
    assert reservation_id
    assert world.exchange.holding(Account.US, LEFTOVER.up_token) == HELD
    assert world.exchange.audit() == ()


def test_an_adopted_position_in_a_market_we_stream_watches_its_price_for_its_stop(paper_world):
    # Shares of a market the simulator trades: the feed has its book, so the adopted position
    # arms its stop loss from the price it reads (and, like any position, would stop out on a
    # later fall through a level); adoption itself sells nothing.
    traded = make_window(
        asset="BTC",
        timeframe_s=900,
        start=int(START),
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
    )

    def leave_shares_of_a_traded_market(exchange: PaperExchange) -> None:
        exchange.seed_position(traded, traded.up_token, HELD, Decimal("0.40"))

    world = paper_world(setup=leave_shares_of_a_traded_market)
    world.run(3)
    ((position_id,),) = world.query(
        "SELECT payload->>'position_id' FROM events WHERE type = 'PositionAdopted'"
    )
    armed = world.query(
        "SELECT payload->>'midpoint' FROM events WHERE type = 'StopArmed' "
        "AND payload->>'position_id' = ?",
        (position_id,),
    )
    assert armed, "the adopted position never saw its price"
    assert Decimal(armed[0][0]) > Decimal("0.15")  # above the floor, or nothing would arm
    intents = world.query(
        "SELECT payload->>'purpose', payload->>'order_type' FROM events "
        "WHERE type = 'OrderIntent' AND payload->>'position_id' = ?",
        (position_id,),
    )
    assert ("exit", "GTC") in intents
    stops = world.query(
        "SELECT count(*) FROM events WHERE type = 'StopLossTriggered' "
        "AND payload->>'position_id' = ?",
        (position_id,),
    )
    # A sale at market only ever follows the stop rule's own trigger.
    if stops == [(0,)]:
        assert all(purpose == "exit" for purpose, _ in intents)
        assert world.exchange.holding(Account.US, traded.up_token) == HELD
    assert world.exchange.audit() == ()


def test_an_unowned_order_at_start_is_cancelled_on_purpose_while_claimed_ones_stay(paper_world):
    world = paper_world(setup=leave_an_order)
    (stray,) = [o for o in world.exchange.open_orders() if o.client_id == "someone-else-1"]
    world.run(4)
    (cancelled,) = world.query(
        "SELECT payload->>'order_id', payload->>'was_live' FROM events "
        "WHERE type = 'UnownedOrderCancelled'"
    )
    assert cancelled == (stray.order_id, "true")
    assert stray.order_id not in {o.order_id for o in world.exchange.open_orders()}
    # The adopted position's own exit plan is owned: it stays on the book.
    assert any(
        (o.client_id or "").startswith("BTC-15m-") and o.side is Side.SELL
        for o in world.exchange.open_orders()
    )
    ours = {
        r[0]
        for r in world.query("SELECT payload->>'order_id' FROM events WHERE type = 'OrderAccepted'")
    }
    assert not ours & {cancelled[0]}


def test_trading_waits_for_the_first_reconciliation(paper_world, monkeypatch):
    world = paper_world()
    real_positions = world.exchange.positions
    healthy_from = START + 240

    def positions_down_at_first() -> tuple:
        if world.clock.now() < healthy_from:
            raise VenueTimeout(rule="timeout", value=0, detail="positions unreachable")
        return real_positions()

    monkeypatch.setattr(world.exchange, "positions", positions_down_at_first)
    world.run(12)
    (opened_at,) = world.query("SELECT min(ts) FROM events WHERE type = 'TradingOpened'")
    assert opened_at[0] >= healthy_from
    early = world.query(
        "SELECT count(*) FROM events WHERE type = 'CapitalReserved' AND ts < ?", (opened_at[0],)
    )
    assert early == [(0,)]
    assert world.query(
        "SELECT count(*) FROM events WHERE type = 'OrderIntent' AND ts < ?", (opened_at[0],)
    ) == [(0,)]


def test_a_restart_on_a_venue_without_client_ids_finds_accepted_orders_by_request(paper_world):
    # The live venue never echoes our client ids: a placement whose answer was lost (the order
    # IS on the venue, OrderAccepted never journaled) must be found by its request, not resent.
    world = paper_world(paper={"faults": {"seed": 5, "reject_rates": {"timeout": 0.3}}})
    world.exchange.hide_client_ids = True
    crashed: list[str] = []

    def crash_the_gateway(world, minute):
        if minute in (6, 14):
            world.rt.lookup("venue").tell("an unexpected message")  # crashes it
            crashed.append(f"venue@{minute}")

    world.run(20, crash_the_gateway)
    assert len(crashed) == 2
    orders = world.exchange.orders_by_client_id()
    assert orders, "nothing was placed"
    duplicates = {c: ids for c, ids in orders.items() if len(ids) > 1}
    assert duplicates == {}
    accepted = world.query(
        "SELECT payload->>'client_id', payload->>'order_id' FROM events WHERE type = 'OrderAccepted'"
    )
    for client_id, order_id in accepted:
        assert orders[client_id] == {order_id}
    # No order of ours was cancelled as unowned: restarted positions claimed theirs.
    ours = {order_id for _, order_id in accepted}
    cancelled = world.query(
        "SELECT payload->>'order_id' FROM events WHERE type = 'UnownedOrderCancelled'"
    )
    assert not ours & {c for (c,) in cancelled}
    assert world.exchange.audit() == ()
