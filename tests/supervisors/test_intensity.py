from hypothesis import given
from hypothesis import strategies as st

from supervisors.intensity import add_restart


def test_restarts_within_the_period_accumulate_until_the_limit() -> None:
    times, exceeded = add_restart((), 100.0, intensity=2, period_s=10.0)
    assert not exceeded
    times, exceeded = add_restart(times, 105.0, intensity=2, period_s=10.0)
    assert not exceeded
    _, exceeded = add_restart(times, 109.0, intensity=2, period_s=10.0)
    assert exceeded


def test_restarts_older_than_the_period_are_forgotten() -> None:
    times, _ = add_restart((100.0, 101.0), 111.5, intensity=2, period_s=10.0)
    assert times == (111.5,)


def test_the_period_boundary_is_inclusive_as_in_otp() -> None:
    times, exceeded = add_restart((100.0,), 110.0, intensity=1, period_s=10.0)
    assert times == (100.0, 110.0)
    assert exceeded


def test_intensity_zero_gives_up_on_the_first_restart() -> None:
    _, exceeded = add_restart((), 0.0, intensity=0, period_s=5.0)
    assert exceeded


@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=20.0), max_size=30),
    intensity=st.integers(min_value=0, max_value=5),
    period=st.floats(min_value=0.1, max_value=30.0),
)
def test_never_gives_up_while_restarts_in_any_window_stay_within_the_limit(
    gaps: list[float], intensity: int, period: float
) -> None:
    now, times = 0.0, ()
    for gap in gaps:
        now += gap
        times, exceeded = add_restart(times, now, intensity=intensity, period_s=period)
        assert exceeded == (len(times) > intensity)
        assert all(now - period <= t <= now for t in times)
