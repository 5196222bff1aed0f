from decimal import Decimal

from state.events import RunStarted
from state.journal_store import JournalStore
from state.report import TOTAL_KEYS, last_run_start, trading_totals
from state.trading_events import (
    CapitalRefused,
    EntryDecided,
    InvariantViolated,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    PositionOpened,
    PositionSettled,
    WindowDiscovered,
)


def filled(trade_id: str, status: str) -> OrderFilled:
    return OrderFilled(
        stream_id="position/w1/UP",
        ts=1.0,
        position_id="w1/UP",
        client_id="c",
        order_id="o",
        trade_id=trade_id,
        side="BUY",
        price=Decimal("0.5"),
        size=Decimal(10),
        fee=Decimal("0.1"),
        status=status,
    )


def settled(pnl: str, fees: str) -> PositionSettled:
    return PositionSettled(
        stream_id="position/w1/UP",
        ts=2.0,
        position_id="w1/UP",
        how="resolved",
        size=Decimal(10),
        cost=Decimal(5),
        proceeds=Decimal(10),
        fees=Decimal(fees),
        realized_pnl=Decimal(pnl),
    )


def test_totals_count_a_run_from_its_journal_only():
    store = JournalStore(":memory:")
    old_run = [
        RunStarted(stream_id="run", ts=0.0, mode="paper", runtime="pykka", config_digest="a"),
        settled("100", "1"),
    ]
    store.append_batch(old_run)
    store.append_batch(
        [
            RunStarted(stream_id="run", ts=0.0, mode="paper", runtime="pykka", config_digest="b"),
            *(
                WindowDiscovered(
                    stream_id=f"window/w{i}",
                    ts=0.0,
                    window_id=f"w{i}",
                    asset="BTC",
                    timeframe_s=900,
                    start=0.0,
                    end=900.0,
                    condition_id="0x",
                    up_token="u",
                    down_token="d",
                    slug=f"btc-updown-15m-{i}",
                    tick_size=Decimal("0.01"),
                    min_order_size=Decimal(5),
                )
                for i in range(3)
            ),
            *(
                EntryDecided(
                    stream_id="window/w1",
                    ts=0.0,
                    window_id="w1",
                    position_id=p,
                    outcome="UP",
                    price=Decimal("0.5"),
                    size=Decimal(10),
                    purpose="entry",
                )
                for p in ("w1/UP", "w1/DOWN")
            ),
            PositionOpened(
                stream_id="position/w1/UP",
                ts=0.0,
                position_id="w1/UP",
                window_id="w1",
                outcome="UP",
                token_id="u",
                condition_id="0x",
                reservation_id="r",
                entry_price=Decimal("0.5"),
                entry_size=Decimal(10),
                purpose="entry",
            ),
            OrderAccepted(
                stream_id="position/w1/UP",
                ts=0.0,
                position_id="w1/UP",
                client_id="c",
                order_id="o",
                status="live",
            ),
            OrderRejected(
                stream_id="position/w1/UP",
                ts=0.0,
                position_id="w1/UP",
                client_id="c2",
                error_kind="InvalidPrice",
                message="x",
            ),
            filled("t1", "MATCHED"),
            filled("t1", "MINED"),
            filled("t1", "CONFIRMED"),
            filled("t2", "MATCHED"),
            filled("t2", "FAILED"),
            filled("t3", "MATCHED"),
            settled("2.50", "0.10"),
            settled("-1.25", "0.05"),
            CapitalRefused(
                stream_id="risk",
                ts=0.0,
                owner="w2/UP",
                window_id="w2",
                amount=Decimal(5),
                reason="max_position",
                detail="d",
            ),
            InvariantViolated(
                stream_id="monitor", ts=0.0, invariant="4", subject="w1/UP", detail="d"
            ),
        ]
    )

    def query(sql, params):
        return store.query(sql, params)

    totals = trading_totals(query, last_run_start(query))
    assert set(totals) == set(TOTAL_KEYS)
    assert totals == {
        "windows_seen": 3,
        "windows_traded": 1,
        "orders_placed": 1,
        "orders_rejected": 1,
        "fills": 2,
        "positions_opened": 1,
        "positions_settled": 2,
        "reversals": 0,
        "stop_losses": 0,
        "scale_ins": 0,
        "realized_pnl": Decimal("1.25"),
        "fees_paid": Decimal("0.15"),
        "risk_refusals": 1,
        "invariant_violations": 1,
    }
    assert trading_totals(query, 0)["realized_pnl"] == Decimal("101.25")


def test_an_empty_journal_has_zero_totals():
    store = JournalStore(":memory:")

    def query(sql, params):
        return store.query(sql, params)

    assert last_run_start(query) == 0
    assert all(value == 0 for value in trading_totals(query).values())
