"""Fair value of Up, tick-grid placement, the resolution rule and tick-size hysteresis."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venues.sim.pricing import (
    SECONDS_PER_YEAR,
    effective_sigma_per_sqrt_s,
    fair_up_probability,
    fine_tick_wanted,
    price_on_grid,
    up_wins,
)

SIGMA = 1e-4


def test_at_the_price_to_beat_with_time_left_up_is_a_coin_flip():
    p = fair_up_probability(
        spot=100.0, price_to_beat=100.0, time_left_s=600, sigma_per_sqrt_s=SIGMA
    )
    assert p == pytest.approx(0.5)


def test_one_sigma_above_the_price_to_beat_is_the_normal_cdf_of_one():
    time_left = 900.0
    spot = 100.0 * math.exp(SIGMA * math.sqrt(time_left))
    p = fair_up_probability(
        spot=spot, price_to_beat=100.0, time_left_s=time_left, sigma_per_sqrt_s=SIGMA
    )
    assert p == pytest.approx(0.841345, abs=1e-6)


def test_a_lead_becomes_more_certain_as_time_runs_out():
    leads = [
        fair_up_probability(spot=100.1, price_to_beat=100.0, time_left_s=t, sigma_per_sqrt_s=SIGMA)
        for t in (900, 300, 60, 5)
    ]
    assert leads == sorted(leads)
    assert leads[-1] > 0.99


@pytest.mark.parametrize(("spot", "expected"), [(100.0, 1.0), (100.01, 1.0), (99.99, 0.0)])
def test_at_the_end_the_fair_value_is_the_outcome_with_ties_to_up(spot, expected):
    p = fair_up_probability(spot=spot, price_to_beat=100.0, time_left_s=0, sigma_per_sqrt_s=SIGMA)
    assert p == expected


def test_without_volatility_the_outcome_is_already_known():
    p = fair_up_probability(spot=99.0, price_to_beat=100.0, time_left_s=600, sigma_per_sqrt_s=0.0)
    assert p == 0.0


@given(
    spot=st.floats(1.0, 1e6),
    ratio=st.floats(0.9, 1.1),
    time_left=st.floats(0.0, 7200.0),
)
def test_fair_value_is_a_probability_and_grows_with_the_spot(spot, ratio, time_left):
    args = {"price_to_beat": spot * ratio, "time_left_s": time_left, "sigma_per_sqrt_s": SIGMA}
    low = fair_up_probability(spot=spot, **args)
    high = fair_up_probability(spot=spot * 1.001, **args)
    assert 0.0 <= low <= high <= 1.0


def test_a_non_positive_price_is_refused_naming_it():
    with pytest.raises(ValueError, match="spot=0"):
        fair_up_probability(spot=0, price_to_beat=1.0, time_left_s=1, sigma_per_sqrt_s=SIGMA)


def test_effective_sigma_adds_jump_variance_to_diffusion_variance():
    diffusion_only = effective_sigma_per_sqrt_s(
        annual_volatility=0.5, jumps_per_hour=0, jump_size=0.01
    )
    assert diffusion_only == pytest.approx(0.5 / math.sqrt(SECONDS_PER_YEAR))
    with_jumps = effective_sigma_per_sqrt_s(
        annual_volatility=0.5, jumps_per_hour=3600, jump_size=0.01
    )
    assert with_jumps**2 == pytest.approx(diffusion_only**2 + 0.01**2)


@pytest.mark.parametrize(
    ("price_to_beat", "final", "is_up"),
    [("100.00", "100.00", True), ("100.00", "100.01", True), ("100.00", "99.99", False)],
)
def test_up_wins_at_or_above_the_price_to_beat(price_to_beat, final, is_up):
    assert up_wins(price_to_beat=Decimal(price_to_beat), final_price=Decimal(final)) is is_up


@given(probability=st.floats(-0.5, 1.5), tick=st.sampled_from(["0.1", "0.01", "0.001"]))
def test_prices_land_on_the_grid_within_one_tick_of_the_edges(probability, tick):
    tick = Decimal(tick)
    price = price_on_grid(probability, tick)
    assert tick <= price <= 1 - tick
    assert price % tick == 0
    assert price.as_tuple().exponent == tick.as_tuple().exponent


def test_the_fine_tick_starts_beyond_the_upper_threshold_and_ends_inside_the_lower():
    knobs = {"fine_tick_above": 0.96, "coarse_tick_within": 0.94}
    assert not fine_tick_wanted(0.95, is_fine=False, **knobs)
    assert fine_tick_wanted(0.961, is_fine=False, **knobs)
    assert fine_tick_wanted(0.039, is_fine=False, **knobs)
    # Hysteresis: between the thresholds the current tick is kept.
    assert fine_tick_wanted(0.95, is_fine=True, **knobs)
    assert fine_tick_wanted(0.05, is_fine=True, **knobs)
    assert not fine_tick_wanted(0.94, is_fine=True, **knobs)
    assert not fine_tick_wanted(0.5, is_fine=True, **knobs)
