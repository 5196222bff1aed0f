"""Entry gates: time band, minimum confidence, underdog rule, spread."""

from __future__ import annotations

from decimal import Decimal

import pytest

from strategy.gates import (
    confidence_gate,
    entry_gates,
    entry_time_gate,
    reversal_time_gate,
    spread_gate,
    underdog_gate,
)
from strategy.settings import StrategySettings

D = Decimal
SETTINGS = StrategySettings(entry_start_s=60, entry_stop_s=120, reversal_stop_s=30)
START, END = 1000.0, 1900.0


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (999.0, "before_entry_band"),
        (1059.9, "before_entry_band"),
        (1060.0, None),
        (1780.0, None),
        (1780.1, "after_entry_band"),
        (1899.0, "after_entry_band"),
    ],
)
def test_entries_only_inside_the_band(now, reason):
    blocked = entry_time_gate(now=now, start=START, end=END, settings=SETTINGS)
    assert (None if blocked is None else blocked.reason) == reason


@pytest.mark.parametrize(
    ("now", "reason"),
    [(999.0, "not_open"), (1000.0, None), (1870.0, None), (1870.5, "after_reversal_band")],
)
def test_reversals_are_allowed_from_the_open_until_shortly_before_the_end(now, reason):
    blocked = reversal_time_gate(now=now, start=START, end=END, settings=SETTINGS)
    assert (None if blocked is None else blocked.reason) == reason


@pytest.mark.parametrize(
    ("confidence", "passes"), [(D("0.59"), False), (D("0.6"), True), (D("0.95"), True)]
)
def test_minimum_confidence(confidence, passes):
    assert (confidence_gate(confidence=confidence, settings=SETTINGS) is None) is passes


@pytest.mark.parametrize(
    ("price", "confidence", "passes"),
    [
        (D("0.50"), D("0.6"), True),  # not an underdog
        (D("0.70"), D("0.6"), True),  # the favourite is not held to the rule
        (D("0.45"), D("0.84"), False),  # needs 0.45 + 0.40
        (D("0.45"), D("0.85"), True),
        (D("0.15"), D("0.55"), True),  # the rule alone; min_confidence is a separate gate
        (D("0.15"), D("0.54"), False),
    ],
)
def test_the_underdog_needs_confidence_forty_points_on_top_of_its_price(price, confidence, passes):
    assert (underdog_gate(confidence=confidence, price=price, settings=SETTINGS) is None) is passes


@pytest.mark.parametrize(
    ("bid", "ask", "reason"),
    [
        (D("0.50"), D("0.51"), None),
        (D("0.50"), D("0.55"), None),
        (D("0.50"), D("0.56"), "wide_spread"),
        (None, D("0.51"), "one_sided_book"),
        (D("0.50"), None, "one_sided_book"),
    ],
)
def test_spread_gate(bid, ask, reason):
    blocked = spread_gate(best_bid=bid, best_ask=ask, settings=SETTINGS)
    assert (None if blocked is None else blocked.reason) == reason


@pytest.mark.parametrize(
    ("confidence", "bid", "ask", "reason"),
    [
        (D("0.9"), D("0.60"), D("0.61"), None),
        (D("0.9"), D("0.50"), D("0.61"), "wide_spread"),
        (D("0.55"), D("0.60"), D("0.61"), "low_confidence"),
        (D("0.7"), D("0.40"), D("0.41"), "underdog"),
    ],
)
def test_entry_gates_report_the_first_that_blocks(confidence, bid, ask, reason):
    blocked = entry_gates(confidence=confidence, best_bid=bid, best_ask=ask, settings=SETTINGS)
    assert (None if blocked is None else blocked.reason) == reason
