"""Recovery reads back exactly what must run again, on the market's own grid."""

import json
import re
from dataclasses import replace
from decimal import Decimal

from state.events import to_record
from state.journal_store import JournalStore
from state.recovery import (
    POSITIONS_VIEW_TYPES,
    JournalPosition,
    journal_positions,
    open_positions,
    open_windows,
    positions_view,
    settled_pnl_by_market,
    settled_pnl_by_token,
)
from state.trading_events import (
    OrderFilled,
    PositionOpened,
    PositionSettled,
    WindowClosed,
    WindowDiscovered,
)


def discovered(wid: str, tick: str = "0.001", min_size: str = "1") -> WindowDiscovered:
    return WindowDiscovered(
        stream_id=f"window/{wid}",
        ts=0.0,
        window_id=wid,
        asset="BTC",
        timeframe_s=900,
        start=0.0,
        end=900.0,
        condition_id=f"0x{wid}",
        up_token=f"{wid}u",
        down_token=f"{wid}d",
        slug=f"btc-{wid}",
        tick_size=Decimal(tick),
        min_order_size=Decimal(min_size),
    )


def opened(wid: str, side: str) -> PositionOpened:
    return PositionOpened(
        stream_id=f"position/{wid}/{side}",
        ts=1.0,
        position_id=f"{wid}/{side}",
        window_id=wid,
        outcome=side,
        token_id=f"{wid}{side[0].lower()}",
        condition_id=f"0x{wid}",
        reservation_id=f"r-{wid}-{side}",
        entry_price=Decimal("0.55"),
        entry_size=Decimal("12.5"),
        purpose="entry",
    )


def test_windows_not_closed_and_positions_not_settled_come_back_with_their_grid():
    store = JournalStore(":memory:")
    store.append_batch(
        [
            discovered("w1"),
            discovered("w2"),
            discovered("w3"),
            WindowClosed(stream_id="window/w2", ts=5.0, window_id="w2", winner="UP", traded=False),
            opened("w1", "UP"),
            opened("w1", "DOWN"),
            opened("w3", "UP"),
            PositionSettled(
                stream_id="position/w1/DOWN",
                ts=9.0,
                position_id="w1/DOWN",
                how="resolved",
                size=Decimal(0),
                cost=Decimal(1),
                proceeds=Decimal(0),
                fees=Decimal(0),
                realized_pnl=Decimal(-1),
            ),
        ]
    )
    windows = open_windows(store.query)
    assert [w.window_id for w in windows] == ["w1", "w3"]
    assert windows[0].tick_size == Decimal("0.001")
    assert windows[0].min_order_size == Decimal(1)
    positions = open_positions(store.query)
    assert [p.position_id for p in positions] == ["w1/UP", "w3/UP"]
    assert positions[0].entry_size == Decimal("12.5")
    assert positions[0].window.slug == "btc-w1"


def test_a_version_1_discovery_is_read_with_the_grid_every_market_had_then():
    store = JournalStore(":memory:")
    record = to_record(discovered("w1"))
    payload = json.loads(record.payload)
    for field in ("slug", "tick_size", "min_order_size"):
        del payload[field]
    store.append_records([replace(record, version=1, payload=json.dumps(payload))])
    [window] = open_windows(store.query)
    assert (window.tick_size, window.min_order_size) == (Decimal("0.01"), Decimal(5))
    [event] = store.read_stream("window/w1")
    assert event.tick_size == Decimal("0.01")


def settlement(wid: str, side: str, pnl: str) -> PositionSettled:
    return PositionSettled(
        stream_id=f"position/{wid}/{side}",
        ts=9.0,
        position_id=f"{wid}/{side}",
        how="resolved",
        size=Decimal(0),
        cost=Decimal(1),
        proceeds=Decimal(0),
        fees=Decimal(0),
        realized_pnl=Decimal(pnl),
    )


def test_settled_pnl_adds_up_per_market_and_per_outcome_token():
    store = JournalStore(":memory:")
    store.append_batch(
        [
            opened("w1", "UP"),
            opened("w1", "DOWN"),
            opened("w2", "UP"),
            settlement("w1", "UP", "8.59"),
            settlement("w1", "DOWN", "-17.31"),
        ]
    )
    assert settled_pnl_by_market(store.query) == {"0xw1": Decimal("-8.72")}
    assert settled_pnl_by_token(store.query) == {"w1u": Decimal("8.59"), "w1d": Decimal("-17.31")}


def bought(wid: str, side: str, trade: str, size: str, status: str = "CONFIRMED") -> OrderFilled:
    return OrderFilled(
        stream_id=f"position/{wid}/{side}",
        ts=2.0,
        position_id=f"{wid}/{side}",
        client_id=f"{wid}/{side}/entry/1",
        order_id=f"0x{trade}",
        trade_id=trade,
        side="BUY",
        price=Decimal("0.55"),
        size=Decimal(size),
        fee=Decimal("0.1"),
        status=status,
    )


def test_open_positions_hold_their_confirmed_fills_and_settled_ones_are_not_read_again():
    store = JournalStore(":memory:")
    store.append_batch(
        [
            opened("w1", "UP"),
            opened("w2", "UP"),
            bought("w1", "UP", "t1", "12.5"),
            bought("w1", "UP", "t2", "5", status="MATCHED"),
            *(bought("w2", "UP", f"old{i}", "1") for i in range(20)),
            settlement("w2", "UP", "-1"),
        ]
    )
    order_rows: list[tuple[object, ...]] = []

    def recording(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        rows = store.query(sql, params)
        if "OrderFilled" in sql:
            order_rows.extend(rows)
        return rows

    assert journal_positions(recording) == [
        JournalPosition(
            position_id="w1/UP",
            token_id="w1u",
            condition_id="0xw1",
            held=Decimal("12.4"),
            is_pending=True,  # t2 is matched, not yet confirmed
        )
    ]
    # The settled position's 20 fills stay in the journal, unread: a pass costs what is open.
    assert {row[1] for row in order_rows} == {"position/w1/UP"}


def test_the_positions_view_reads_no_event_type_outside_the_ones_it_names():
    # The reconciler reads the view again only when one of those types has a newer event: a
    # type read but not named would leave it stale.
    store = JournalStore(":memory:")
    store.append_batch([opened("w1", "UP"), bought("w1", "UP", "t1", "12.5")])
    sqls: list[str] = []

    def recording(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        sqls.append(sql)
        return store.query(sql, params)

    view = positions_view(recording)
    assert [p.position_id for p in view.positions] == ["w1/UP"]
    read = set()
    for sql in sqls:
        read |= set(re.findall(r"type = '(\w+)'", sql))
        for listed in re.findall(r"type IN \(([^)]*)\)", sql):
            read |= set(re.findall(r"'(\w+)'", listed))
    assert read, sqls
    assert read <= POSITIONS_VIEW_TYPES
