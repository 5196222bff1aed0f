"""A position actor and a window actor crash mid-life; their supervisors restart them; they
rebuild from the journal and check the venue; the run ends with no duplicate order, every
fill accounted for and every open position covered by its exit plan."""

from __future__ import annotations

import pytest

from state.position import PositionSettings, exit_plan_target
from supervisors.supervisor import tree_stats
from supervisors.tree import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def exit_plans_cover_positions(world) -> int:
    settings = PositionSettings()
    open_orders = world.exchange.open_orders()
    covered = 0
    for name, state in world.live_positions().items():
        target = exit_plan_target(state, world.clock.now(), settings)
        if not target:
            continue
        exits = [
            o for o in open_orders if (o.client_id or "").startswith(f"{state.position_id}/exit/")
        ]
        assert len(exits) == 1, f"{name}: {len(exits)} exit plans"
        assert exits[0].original_size - exits[0].size_matched == target, name
        covered += 1
    return covered


def test_crashed_position_and_window_actors_rebuild_without_duplicates(paper_world):
    world = paper_world()
    crashed: dict[str, str] = {}

    def crash_mid_life(world, minute):
        if "position" not in crashed:
            holding = [
                (n, s)
                for n, s in world.live_positions().items()
                if s.size > 0 and any(o.purpose.value == "exit" for o in s.orders)
            ]
            if holding:
                name = holding[0][0]
                world.rt.lookup(name).tell("an unexpected message")  # crashes it
                crashed["position"] = name
        if "window" not in crashed and minute >= 20:
            windows = [n for n in world.rt.names() if n.startswith("window/")]
            if windows:
                world.rt.lookup(windows[-1]).tell("an unexpected message")
                crashed["window"] = windows[-1]
        if crashed:
            exit_plans_cover_positions(world)

    # The position crashes in minute 1 and a window in minute 20; a window is listed at most 5
    # minutes before its 15 minutes, so by minute 45 both are rebuilt and their windows settled.
    world.run(45, crash_mid_life)
    assert set(crashed) == {"position", "window"}
    stats = tree_stats(world.rt, ROOT)
    assert stats.crashes >= 2
    assert stats.restarts >= 2

    # No duplicate order: each client id reached the venue under one order id.
    accepted = world.query(
        "SELECT payload->>'client_id', count(DISTINCT payload->>'order_id') "
        "FROM events WHERE type = 'OrderAccepted' GROUP BY 1"
    )
    assert accepted
    assert all(n == 1 for _, n in accepted)
    # Every fill the venue made for us is in the journal.
    journaled = {
        t
        for (t,) in world.query(
            "SELECT DISTINCT payload->>'trade_id' FROM events WHERE type = 'OrderFilled'"
        )
    }
    venue_trades = {t.trade_id for t in world.exchange.trades()}
    assert venue_trades
    assert venue_trades <= journaled
    # The crashed position came back as a new incarnation of the same actor.
    restarted = [c for c in stats.children if c.id == crashed["position"]]
    assert not restarted or restarted[0].incarnation >= 2
    assert world.exchange.audit() == ()
    assert world.violations() == []
