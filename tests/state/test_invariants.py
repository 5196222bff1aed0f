from decimal import Decimal

import pytest

from state.invariants import CHECKS, find_violations
from state.journal_store import JournalStore
from state.trading_events import (
    CapitalReserved,
    EntryDecided,
    OrderAccepted,
    OrderCancelled,
    OrderIntent,
    PositionOpened,
)

P = "BTC-15m-2026-11-21T15:45Z/UP"


@pytest.fixture
def store():
    return JournalStore(":memory:")


def violations(store, since=0):
    return find_violations(store.query, since)


def intent(size: str, client_id: str = f"{P}/entry/1") -> OrderIntent:
    return OrderIntent(
        stream_id=f"position/{P}",
        ts=0.0,
        position_id=P,
        client_id=client_id,
        purpose="entry",
        token_id="t",
        side="BUY",
        price=Decimal("0.55"),
        size=Decimal(size),
        order_type="GTC",
        amount=None,
    )


def opened(reservation: str) -> PositionOpened:
    return PositionOpened(
        stream_id=f"position/{P}",
        ts=0.0,
        position_id=P,
        window_id="w",
        outcome="UP",
        token_id="t",
        condition_id="0x",
        reservation_id=reservation,
        entry_price=Decimal("0.5"),
        entry_size=Decimal(10),
        purpose="entry",
    )


def reserved(reservation: str) -> CapitalReserved:
    return CapitalReserved(
        stream_id="risk",
        ts=0.0,
        reservation_id=reservation,
        owner=P,
        window_id="w",
        asset="BTC",
        amount=Decimal(5),
        purpose="entry",
    )


def test_a_clean_journal_has_no_violation(store):
    store.append_batch(
        [
            reserved("r1"),
            opened("r1"),
            intent("10.25"),
            OrderAccepted(
                stream_id="p",
                ts=0.0,
                position_id=P,
                client_id=f"{P}/entry/1",
                order_id="0x1",
                status="live",
            ),
        ]
    )
    assert violations(store) == []


def test_one_client_id_accepted_under_two_order_ids_is_a_duplicate_order(store):
    store.append_batch(
        [
            OrderAccepted(
                stream_id="p", ts=0.0, position_id=P, client_id="c", order_id=o, status="live"
            )
            for o in ("0x1", "0x2")
        ]
    )
    [found] = violations(store)
    assert found.invariant.startswith("2: no duplicate orders")
    assert found.subject == "c"


def test_two_entries_for_one_window_side_are_flagged(store):
    store.append_batch(
        [
            EntryDecided(
                stream_id="w",
                ts=0.0,
                window_id="w",
                position_id=P,
                outcome="UP",
                price=Decimal("0.5"),
                size=Decimal(10),
                purpose="entry",
            )
            for _ in range(2)
        ]
    )
    [found] = violations(store)
    assert found.invariant.startswith("2: at most one entry")


def test_a_position_opened_without_a_reservation_breaks_invariant_3(store):
    store.append_batch([opened("r-missing")])
    [found] = violations(store)
    assert found.invariant.startswith("3:")
    assert "r-missing" in found.detail


def test_an_exit_plan_cancelled_by_the_kill_switch_breaks_invariant_7(store):
    store.append_batch(
        [
            OrderCancelled(
                stream_id="p",
                ts=0.0,
                position_id=P,
                client_id=f"{P}/exit/1",
                order_id="0x1",
                reason="kill switch",
            )
        ]
    )
    [found] = violations(store)
    assert found.invariant.startswith("7:")


def test_a_size_with_more_than_two_decimals_breaks_invariant_11(store):
    store.append_batch([intent("10.257")])
    [found] = violations(store)
    assert found.invariant.startswith("11:")


def test_only_events_after_the_run_start_count(store):
    store.append_batch([intent("10.257")])
    assert violations(store, since=store.last_seq) == []


def test_a_pass_after_a_watermark_finds_only_violations_involving_newer_events(store):
    store.append_batch([intent("10.257")])
    first = store.last_seq
    assert [v.invariant[:3] for v in find_violations(store.query, 0, first)] == []
    store.append_batch(
        [
            OrderAccepted(
                stream_id="p", ts=0.0, position_id=P, client_id="c", order_id="0x1", status="live"
            )
        ]
    )
    middle = store.last_seq
    store.append_batch(
        [
            OrderAccepted(
                stream_id="p", ts=0.0, position_id=P, client_id="c", order_id="0x2", status="live"
            )
        ]
    )
    # The duplicate involves a new row, so it is found even though its first copy is older.
    [found] = find_violations(store.query, 0, middle)
    assert found.subject == "c"
    assert find_violations(store.query, 0, store.last_seq) == []


def test_a_check_runs_only_when_an_event_type_that_can_trigger_it_is_new(store):
    store.append_batch([intent("10.257")])
    queries: list[str] = []

    def counted(sql, params):
        queries.append(sql)
        return store.query(sql, params)

    assert find_violations(counted, 0, 0, frozenset({"WindowDiscovered"})) == []
    assert queries == []
    [found] = find_violations(counted, 0, 0, frozenset({"OrderIntent"}))
    assert found.invariant.startswith("11")
    assert len(queries) == 1


def test_every_check_names_its_triggers_in_its_sql():
    # A trigger the SQL does not look at would skip a check that could find something.
    assert all(check.triggers for check in CHECKS)
    assert all(f"'{t}'" in check.sql for check in CHECKS for t in check.triggers)
