"""What must be running again after a supervisor of windows or positions restarts, read from
the journal: windows discovered and not closed, positions opened and not settled.

OTP forgets dynamic children when their supervisor restarts; we rebuild them, because a
forgotten position would leave its orders unowned (invariant 5). Each rebuilt actor then folds
its own stream and verifies against the venue before acting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "POSITIONS_VIEW_TYPES",
    "JournalPosition",
    "OpenPosition",
    "OpenWindow",
    "PositionsView",
    "adopted_positions",
    "journal_positions",
    "open_positions",
    "open_windows",
    "positions_view",
    "settled_pnl_by_market",
    "settled_pnl_by_token",
]

Query = Callable[[str, tuple[Any, ...]], Sequence[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenWindow:
    window_id: str
    asset: str
    timeframe_s: int
    start: float
    end: float
    condition_id: str
    up_token: str
    down_token: str
    slug: str
    tick_size: Decimal
    min_order_size: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPosition:
    position_id: str
    window: OpenWindow
    outcome: str
    reservation_id: str
    entry_price: Decimal
    entry_size: Decimal
    purpose: str


_WINDOW_COLUMNS = (
    "w.payload->>'window_id', w.payload->>'asset', CAST(w.payload->>'timeframe_s' AS INTEGER), "
    "CAST(w.payload->>'start' AS DOUBLE), CAST(w.payload->>'end' AS DOUBLE), "
    "w.payload->>'condition_id', w.payload->>'up_token', w.payload->>'down_token', "
    # v1 events (before tick and minimum size were journaled) had the values of every market
    "coalesce(w.payload->>'slug', ''), coalesce(w.payload->>'tick_size', '0.01'), "
    "coalesce(w.payload->>'min_order_size', '5')"
)


def collateral_base(query: Query) -> Decimal | None:
    """The collateral live mode's equity counts from, once recorded (see
    `CollateralBaseRecorded`); None on a journal that never ran live."""
    rows = query(
        "SELECT payload->>'collateral' FROM events WHERE type = 'CollateralBaseRecorded' "
        "ORDER BY seq LIMIT 1",
        (),
    )
    return Decimal(rows[0][0]) if rows else None


def open_windows(query: Query) -> list[OpenWindow]:
    """Windows discovered and never closed, oldest first."""
    rows = query(
        f"SELECT {_WINDOW_COLUMNS} FROM events w WHERE w.type = 'WindowDiscovered' "
        "AND NOT EXISTS (SELECT 1 FROM events c WHERE c.type = 'WindowClosed' "
        "AND c.payload->>'window_id' = w.payload->>'window_id') ORDER BY w.seq",
        (),
    )
    return list(_unique(OpenWindow(**_window_fields(row)) for row in rows))


def open_positions(query: Query) -> list[OpenPosition]:
    """Positions opened and never settled, with their window, oldest first."""
    rows = query(
        f"SELECT p.payload->>'position_id', p.payload->>'outcome', "
        "p.payload->>'reservation_id', p.payload->>'entry_price', p.payload->>'entry_size', "
        f"p.payload->>'purpose', {_WINDOW_COLUMNS} "
        "FROM events p JOIN events w ON w.type = 'WindowDiscovered' "
        "AND w.payload->>'window_id' = p.payload->>'window_id' "
        "WHERE p.type = 'PositionOpened' AND NOT EXISTS (SELECT 1 FROM events s "
        "WHERE s.type = 'PositionSettled' AND s.payload->>'position_id' = p.payload->>'position_id') "
        "ORDER BY p.seq",
        (),
    )
    found: dict[str, OpenPosition] = {}
    for row in rows:
        position_id, outcome, reservation_id, price, size, purpose = row[:6]
        found.setdefault(
            position_id,
            OpenPosition(
                position_id=position_id,
                window=OpenWindow(**_window_fields(row[6:])),
                outcome=outcome,
                reservation_id=reservation_id,
                entry_price=Decimal(price),
                entry_size=Decimal(size),
                purpose=purpose,
            ),
        )
    return list(found.values())


def adopted_positions(query: Query) -> list[OpenPosition]:
    """Positions reconciliation adopted and that never settled, oldest first: their market is
    in their PositionAdopted (no window of ours may have discovered it)."""
    rows = query(
        "SELECT a.payload->>'position_id', a.payload->>'outcome', a.payload->>'reservation_id', "
        "a.payload->>'avg_price', a.payload->>'size', "
        "a.payload->>'window_id', a.payload->>'asset', CAST(a.payload->>'timeframe_s' AS INTEGER), "
        "CAST(a.payload->>'start' AS DOUBLE), CAST(a.payload->>'end' AS DOUBLE), "
        "a.payload->>'condition_id', a.payload->>'up_token', a.payload->>'down_token', "
        "a.payload->>'slug', a.payload->>'tick_size', a.payload->>'min_order_size' "
        "FROM events a WHERE a.type = 'PositionAdopted' AND NOT EXISTS (SELECT 1 FROM events s "
        "WHERE s.type = 'PositionSettled' AND s.payload->>'position_id' = a.payload->>'position_id') "
        "ORDER BY a.seq",
        (),
    )
    found: dict[str, OpenPosition] = {}
    for row in rows:
        position_id, outcome, reservation_id, price, size = row[:5]
        found.setdefault(
            position_id,
            OpenPosition(
                position_id=position_id,
                window=OpenWindow(**_window_fields(row[5:])),
                outcome=outcome,
                reservation_id=reservation_id,
                entry_price=Decimal(price),
                entry_size=Decimal(size),
                purpose="adopted",
            ),
        )
    return list(found.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalPosition:
    """An open position as reconciliation needs it: what it holds by its final fills and
    corrections, and whether anything about it is still pending at the venue."""

    position_id: str
    token_id: str
    condition_id: str
    held: Decimal
    is_pending: bool


def journal_positions(query: Query) -> list[JournalPosition]:
    """Every position opened (or adopted) and not settled."""
    opened = query(
        "SELECT DISTINCT p.payload->>'position_id', p.payload->>'token_id', "
        "p.payload->>'condition_id' FROM events p WHERE p.type = 'PositionOpened' "
        "AND NOT EXISTS (SELECT 1 FROM events s WHERE s.type = 'PositionSettled' "
        "AND s.payload->>'position_id' = p.payload->>'position_id')",
        (),
    )
    positions = {str(pid): (str(token), str(condition)) for pid, token, condition in opened}
    for adopted in adopted_positions(query):
        window = adopted.window
        token = window.up_token if adopted.outcome == "UP" else window.down_token
        positions.setdefault(adopted.position_id, (token, window.condition_id))
    if not positions:
        return []
    # Only the open positions' streams: the settled ones' orders would make every pass read
    # the whole trading history, a cost that grows for as long as the bot runs.
    streams = tuple(f"position/{pid}" for pid in positions)
    facts = query(
        "SELECT type, stream_id, payload->>'client_id', payload->>'trade_id', "
        "payload->>'status', payload->>'side', payload->>'size', payload->>'fee', "
        "payload->>'old_size', payload->>'new_size' FROM events WHERE type IN "
        "('OrderIntent', 'OrderAccepted', 'OrderRejected', 'OrderFilled', 'SizeCorrected') "
        f"AND stream_id IN ({', '.join('?' * len(streams))}) ORDER BY seq",
        streams,
    )
    intents: dict[str, set[str]] = {}
    answered: dict[str, set[str]] = {}
    fills: dict[str, dict[str, dict[str, tuple[str, Decimal, Decimal]]]] = {}
    corrections: dict[str, Decimal] = {}
    for kind, stream, client_id, trade_id, status, side, size, fee, old, new in facts:
        pid = str(stream).removeprefix("position/")
        if pid not in positions:
            continue
        match kind:
            case "OrderIntent":
                intents.setdefault(pid, set()).add(client_id)
            case "OrderAccepted" | "OrderRejected":
                answered.setdefault(pid, set()).add(client_id)
            case "OrderFilled":
                by_status = fills.setdefault(pid, {}).setdefault(trade_id, {})
                by_status[status] = (side, Decimal(size), Decimal(fee))
            case "SizeCorrected":
                corrections[pid] = corrections.get(pid, Decimal(0)) + Decimal(new) - Decimal(old)
    found = []
    for pid, (token, condition) in positions.items():
        held = corrections.get(pid, Decimal(0))
        has_unfinished_fill = False
        for by_status in fills.get(pid, {}).values():
            if "FAILED" in by_status:
                continue
            confirmed = by_status.get("CONFIRMED")
            if confirmed is None:
                has_unfinished_fill = True
                continue
            side, size, fee = confirmed
            held += size - fee if side == "BUY" else -size
        unanswered = intents.get(pid, set()) - answered.get(pid, set())
        found.append(
            JournalPosition(
                position_id=pid,
                token_id=token,
                condition_id=condition,
                held=held,
                is_pending=bool(unanswered) or has_unfinished_fill,
            )
        )
    return found


# Every event type `positions_view` reads: while none has a newer event, its answer stands.
POSITIONS_VIEW_TYPES = frozenset(
    {
        "PositionOpened",
        "PositionAdopted",
        "PositionSettled",
        "OrderIntent",
        "OrderAccepted",
        "OrderRejected",
        "OrderFilled",
        "SizeCorrected",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionsView:
    """What reconciliation reads of the journal about our positions."""

    positions: tuple[JournalPosition, ...]
    settled_pnl_by_market: Mapping[str, Decimal]
    settled_pnl_by_token: Mapping[str, Decimal]
    adopted_ever: frozenset[str]  # position ids adopted at any time, settled since or not


def positions_view(query: Query) -> PositionsView:
    """Our positions as the journal knows them (reads only `POSITIONS_VIEW_TYPES`)."""
    return PositionsView(
        positions=tuple(journal_positions(query)),
        settled_pnl_by_market=settled_pnl_by_market(query),
        settled_pnl_by_token=settled_pnl_by_token(query),
        adopted_ever=frozenset(
            str(pid)
            for (pid,) in query(
                "SELECT DISTINCT payload->>'position_id' FROM events WHERE type = 'PositionAdopted'",
                (),
            )
        ),
    )


def settled_pnl_by_market(query: Query) -> dict[str, Decimal]:
    """Our realised P&L per market (condition id), over every settled position."""
    return _settled_pnl_by(query, "condition_id")


def settled_pnl_by_token(query: Query) -> dict[str, Decimal]:
    """Our realised P&L per outcome token, over every settled position: what the venue's
    closed positions (one per token) are compared with."""
    return _settled_pnl_by(query, "token_id")


def _settled_pnl_by(query: Query, key: Literal["condition_id", "token_id"]) -> dict[str, Decimal]:
    rows = query(
        f"SELECT o.payload->>'{key}', s.payload->>'realized_pnl' FROM events s "
        "JOIN events o ON o.type = 'PositionOpened' "
        "AND o.payload->>'position_id' = s.payload->>'position_id' "
        "WHERE s.type = 'PositionSettled'",
        (),
    )
    totals: dict[str, Decimal] = {}
    for value, pnl in rows:
        totals[str(value)] = totals.get(str(value), Decimal(0)) + Decimal(pnl)
    return totals


def _window_fields(row: Sequence[Any]) -> dict[str, Any]:
    (
        window_id,
        asset,
        timeframe_s,
        start,
        end,
        condition_id,
        up_token,
        down_token,
        slug,
        tick_size,
        min_order_size,
    ) = row
    return {
        "window_id": window_id,
        "asset": asset,
        "timeframe_s": int(timeframe_s),
        "start": float(start),
        "end": float(end),
        "condition_id": condition_id,
        "up_token": up_token,
        "down_token": down_token,
        "slug": slug,
        "tick_size": Decimal(tick_size),
        "min_order_size": Decimal(min_order_size),
    }


def _unique(windows: Any) -> list[OpenWindow]:
    # A window restarted after a crash journals WindowDiscovered once per first start only,
    # but be tolerant: keep the first of each id.
    seen: dict[str, OpenWindow] = {}
    for window in windows:
        seen.setdefault(window.window_id, window)
    return list(seen.values())
