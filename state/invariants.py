"""Invariant checks over the journal (DESIGN.md invariants 2, 3, 7, 11): SQL that finds a
violation in the facts the actors journaled, whoever caused it.

Each check returns `(subject, detail)` rows; the monitor actor journals each new one once as
`InvariantViolated` and halts trading through risk. The checks read only the current run (events
after `since_seq`), so an old run's history cannot trip a new run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CHECKS", "Check", "Violation", "find_violations"]

Query = Callable[[str, tuple[Any, ...]], Sequence[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    invariant: str
    sql: str  # with $1 and $2 placeholders (see CHECKS)
    # The event types a violation must have a new row of: with none of them new since the
    # last pass the check cannot find anything new, so it is not run (saves a query a pass).
    triggers: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    invariant: str
    subject: str
    detail: str


# Each check takes two parameters: $1 `since` (the run's first seq: the history a check may
# look at) and $2 `new` (the last seq already checked: a violation must involve a row after
# it). So a pass costs what arrived since the previous one, not the whole run.
CHECKS = (
    Check(
        invariant="2: no duplicate orders (one client id reached the venue twice)",
        sql="SELECT payload->>'client_id', 'order ids: ' || string_agg(DISTINCT "
        "payload->>'order_id', ',') FROM events WHERE seq > $1 AND type = 'OrderAccepted' "
        "AND payload->>'client_id' IN (SELECT payload->>'client_id' FROM events "
        "WHERE seq > $2 AND type = 'OrderAccepted') "
        "GROUP BY 1 HAVING count(DISTINCT payload->>'order_id') > 1",
        triggers=frozenset({"OrderAccepted"}),
    ),
    Check(
        invariant="2: at most one entry per (window, side)",
        sql="SELECT payload->>'position_id', count(*) || ' entries decided' FROM events "
        "WHERE seq > $1 AND type = 'EntryDecided' AND payload->>'position_id' IN ("
        "SELECT payload->>'position_id' FROM events WHERE seq > $2 AND type = 'EntryDecided') "
        "GROUP BY 1 HAVING count(*) > 1",
        triggers=frozenset({"EntryDecided"}),
    ),
    Check(
        invariant="3: capital is reserved before it is spent",
        sql="SELECT o.payload->>'position_id', 'opened with reservation ' || "
        "(o.payload->>'reservation_id') || ' that risk never granted' FROM events o "
        "WHERE o.seq > greatest($1, $2) AND o.type = 'PositionOpened' AND NOT EXISTS ("
        "  SELECT 1 FROM events r WHERE r.type = 'CapitalReserved' AND r.seq < o.seq"
        "  AND r.payload->>'reservation_id' = o.payload->>'reservation_id')",
        triggers=frozenset({"PositionOpened"}),
    ),
    Check(
        invariant="7: the kill switch keeps protection (no exit or stop cancelled by it)",
        sql="SELECT payload->>'client_id', payload->>'reason' FROM events "
        "WHERE seq > greatest($1, $2) AND type = 'OrderCancelled' AND ("
        "payload->>'client_id' LIKE '%/exit/%' OR payload->>'client_id' LIKE '%/stop/%') "
        "AND lower(payload->>'reason') LIKE '%kill%'",
        triggers=frozenset({"OrderCancelled"}),
    ),
    Check(
        invariant="11: sizes never round up (2 decimals at most, never above the intent's cap)",
        sql="SELECT payload->>'client_id', 'size ' || (payload->>'size') FROM events "
        "WHERE seq > greatest($1, $2) AND type = 'OrderIntent' AND ("
        "CAST(payload->>'size' AS DECIMAL(24, 8)) <> "
        "floor(CAST(payload->>'size' AS DECIMAL(24, 8)) * 100) / 100)",
        triggers=frozenset({"OrderIntent"}),
    ),
)


def find_violations(
    query: Query, since_seq: int, new_since: int = 0, new_types: frozenset[str] | None = None
) -> list[Violation]:
    """Every violation in the events after `since_seq` that involves an event after
    `new_since` (0: all of them), in check order. `new_types`, when known, are the types of
    the events after `new_since`: checks that none of them can trigger are skipped."""
    found: list[Violation] = []
    for check in CHECKS:
        if new_types is not None and not check.triggers & new_types:
            continue
        for subject, detail in query(check.sql, (since_seq, new_since)):
            found.append(
                Violation(invariant=check.invariant, subject=str(subject), detail=str(detail))
            )
    return found
