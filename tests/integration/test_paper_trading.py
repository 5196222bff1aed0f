"""Two hours of paper trading on a fixed world: every default asset trades more than one window,
positions open and settle, and the journal's totals hold together."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def test_two_hours_trade_more_than_one_window_of_every_asset(default_world):
    world = default_world.world
    assert len(default_world.minutes) == 120
    traded = dict(
        world.query(
            "SELECT split_part(payload->>'window_id', '-', 1), "
            "count(DISTINCT payload->>'window_id') FROM events WHERE type = 'EntryDecided' "
            "GROUP BY 1"
        )
    )
    totals = world.totals()
    assert set(traded) == {"BTC", "ETH", "SOL", "XRP"}
    assert all(windows > 1 for windows in traded.values()), traded
    assert totals["windows_traded"] == sum(traded.values())
    assert 0 < totals["positions_settled"] <= totals["positions_opened"]
    assert totals["fills"] > 0
    assert totals["invariant_violations"] == 0
    assert world.exchange.audit() == ()
    assert world.violations() == []
