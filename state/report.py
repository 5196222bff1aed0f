"""A run's trading totals, derived from the journal by SQL: the single source of the summary
JSON and of `python run.py report`, so the two can never disagree.

Pure in the sense that matters: it builds SQL and shapes rows; the caller supplies `query`
(the journal actor's `Query` while the bot runs, a read-only `JournalStore` when it does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["TOTAL_KEYS", "last_run_start", "trading_totals"]

Query = Callable[[str, tuple[Any, ...]], Sequence[tuple[Any, ...]]]

# Counts of one event type each.
_COUNTED = {
    "windows_seen": "WindowDiscovered",
    "orders_placed": "OrderAccepted",
    "orders_rejected": "OrderRejected",
    "positions_opened": "PositionOpened",
    "positions_settled": "PositionSettled",
    "reversals": "ReversalTriggered",
    "stop_losses": "StopLossTriggered",
    "scale_ins": "ScaleInTriggered",
    "risk_refusals": "CapitalRefused",
    "invariant_violations": "InvariantViolated",
}

TOTAL_KEYS = (
    "windows_seen",
    "windows_traded",
    "orders_placed",
    "orders_rejected",
    "fills",
    "positions_opened",
    "positions_settled",
    "reversals",
    "stop_losses",
    "scale_ins",
    "realized_pnl",
    "fees_paid",
    "risk_refusals",
    "invariant_violations",
)


def last_run_start(query: Query) -> int:
    """The seq of the newest RunStarted (0 when there is none): a run's events come after it."""
    rows = query("SELECT coalesce(max(seq), 0) FROM events WHERE type = 'RunStarted'", ())
    return int(rows[0][0])


def trading_totals(query: Query, since_seq: int = 0) -> dict[str, int | Decimal]:
    """Every summary figure for the events after `since_seq`."""
    totals: dict[str, int | Decimal] = dict.fromkeys(TOTAL_KEYS, 0)
    counts = query(
        "SELECT type, count(*) FROM events WHERE seq > ? GROUP BY type",
        (since_seq,),
    )
    by_type = {event_type: int(count) for event_type, count in counts}
    for key, event_type in _COUNTED.items():
        totals[key] = by_type.get(event_type, 0)
    totals["windows_traded"] = _scalar(
        query,
        "SELECT count(DISTINCT payload->>'window_id') FROM events "
        "WHERE seq > ? AND type = 'EntryDecided'",
        since_seq,
    )
    # A fill is a trade of ours that did not end FAILED (the same trade is journaled once per
    # status it reaches: MATCHED, MINED, CONFIRMED).
    totals["fills"] = _scalar(
        query,
        "SELECT count(DISTINCT payload->>'trade_id') FROM events "
        "WHERE seq > ? AND type = 'OrderFilled' AND payload->>'trade_id' NOT IN ("
        "  SELECT payload->>'trade_id' FROM events"
        "  WHERE seq > ? AND type = 'OrderFilled' AND payload->>'status' = 'FAILED')",
        since_seq,
        since_seq,
    )
    pnl, fees = query(
        "SELECT coalesce(sum(CAST(payload->>'realized_pnl' AS DECIMAL(24, 8))), 0), "
        "coalesce(sum(CAST(payload->>'fees' AS DECIMAL(24, 8))), 0) "
        "FROM events WHERE seq > ? AND type = 'PositionSettled'",
        (since_seq,),
    )[0]
    totals["realized_pnl"] = Decimal(str(pnl)).normalize() + 0
    totals["fees_paid"] = Decimal(str(fees)).normalize() + 0
    return totals


def _scalar(query: Query, sql: str, *params: int) -> int:
    return int(query(sql, params)[0][0])
