"""What must be running again after a supervisor of windows or positions restarts, read from
the journal: windows discovered and not closed, positions opened and not settled.

OTP forgets dynamic children when their supervisor restarts; we rebuild them, because a
forgotten position would leave its orders unowned (invariant 5). Each rebuilt actor then folds
its own stream and verifies against the venue before acting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["OpenPosition", "OpenWindow", "open_positions", "open_windows"]

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
