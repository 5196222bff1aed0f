import time

import pytest
from freezegun import freeze_time

from runtime.clock import ManualClock, RealClock, SimulatedClock


def test_the_real_clock_follows_freezegun():
    with freeze_time("2026-11-21 15:45:00"):
        assert RealClock().now() == 1_795_275_900.0


def test_a_simulated_clock_runs_speed_times_faster_than_real_time():
    clock = SimulatedClock(start=1000.0, speed=100.0)
    t0 = clock.now()
    time.sleep(0.05)
    elapsed = clock.now() - t0
    assert 4.0 <= elapsed <= 15.0  # 0.05 s real at 100x, with scheduling slack
    assert clock.real_delay(50.0) == pytest.approx(0.5)


def test_a_simulated_clock_refuses_a_non_positive_speed():
    with pytest.raises(ValueError, match="speed must be > 0, got 0"):
        SimulatedClock(start=0.0, speed=0)


def test_a_simulated_clock_changes_speed_from_the_present_without_a_jump():
    with freeze_time("2026-11-21 15:45:00") as frozen:
        clock = SimulatedClock(start=1000.0, speed=100.0)
        frozen.tick(1.0)
        assert clock.now() == pytest.approx(1100.0)
        clock.set_speed(2.0)
        assert clock.now() == pytest.approx(1100.0)
        frozen.tick(1.0)
        assert clock.now() == pytest.approx(1102.0)
        assert clock.speed == 2.0
        assert clock.real_delay(5.0) == pytest.approx(2.5)
        with pytest.raises(ValueError, match="got -1"):
            clock.set_speed(-1)


def test_a_manual_clock_moves_only_when_told_and_notifies_listeners():
    clock = ManualClock(start=100.0)
    calls: list[float] = []
    clock.subscribe(lambda: calls.append(clock.now()))
    assert clock.real_delay(5.0) is None
    clock.advance(2.5)
    clock.set(200.0)
    assert clock.now() == clock.monotonic() == 200.0
    assert calls == [102.5, 200.0]


def test_a_manual_clock_never_goes_backwards():
    clock = ManualClock(start=100.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(99.0)
