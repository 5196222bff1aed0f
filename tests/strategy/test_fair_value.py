"""Fair value of UP (normal CDF of the log-distance to the price to beat) and the online
volatility estimate."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy.fair_value import (
    VolatilityEstimate,
    fair_up,
    observe_price,
    sigma_from_annual,
    sigma_per_sqrt_s,
)

D = Decimal
SIGMA = sigma_from_annual(0.6)


def test_at_the_price_to_beat_with_time_left_up_is_even():
    assert fair_up(spot=D(100), price_to_beat=D(100), time_left_s=600, sigma_per_sqrt_s=SIGMA) == D(
        "0.5"
    )


def test_above_the_price_to_beat_up_is_favoured_and_more_so_as_time_runs_out():
    early = fair_up(spot=D("100.1"), price_to_beat=D(100), time_left_s=800, sigma_per_sqrt_s=SIGMA)
    late = fair_up(spot=D("100.1"), price_to_beat=D(100), time_left_s=20, sigma_per_sqrt_s=SIGMA)
    assert D("0.5") < early < late < D(1)


def test_the_value_matches_the_normal_cdf():
    sigma = 0.0001
    value = fair_up(spot=D(101), price_to_beat=D(100), time_left_s=100, sigma_per_sqrt_s=sigma)
    z = math.log(1.01) / (sigma * 10)
    assert value == D(str(round(0.5 * math.erfc(-z / math.sqrt(2)), 4)))


@pytest.mark.parametrize(
    ("spot", "expected"),
    [(D(100), D(1)), (D("100.01"), D(1)), (D("99.99"), D(0))],
)
def test_at_the_end_the_value_is_certain_and_ties_go_to_up(spot, expected):
    assert (
        fair_up(spot=spot, price_to_beat=D(100), time_left_s=0, sigma_per_sqrt_s=SIGMA) == expected
    )


def test_invalid_prices_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="price_to_beat=0"):
        fair_up(spot=D(1), price_to_beat=D(0), time_left_s=1, sigma_per_sqrt_s=SIGMA)
    with pytest.raises(ValueError, match="sigma_per_sqrt_s"):
        fair_up(spot=D(1), price_to_beat=D(1), time_left_s=1, sigma_per_sqrt_s=-1.0)


@given(
    spot=st.decimals(min_value=D(50), max_value=D(150), places=2),
    step=st.decimals(min_value=D("0.01"), max_value=D(10), places=2),
    time_left_s=st.floats(min_value=1, max_value=3600),
)
def test_fair_value_is_a_probability_monotone_in_the_spot(spot, step, time_left_s):
    low = fair_up(spot=spot, price_to_beat=D(100), time_left_s=time_left_s, sigma_per_sqrt_s=SIGMA)
    high = fair_up(
        spot=spot + step, price_to_beat=D(100), time_left_s=time_left_s, sigma_per_sqrt_s=SIGMA
    )
    assert D(0) <= low <= high <= D(1)


def test_volatility_falls_back_to_the_default_until_enough_samples():
    estimate = VolatilityEstimate()
    for second in range(5):
        estimate = observe_price(
            estimate, price=D(100 + second), timestamp=float(second), half_life_s=300
        )
    assert estimate.samples == 4
    fallback = sigma_per_sqrt_s(estimate, default_annual_volatility=0.6, min_samples=30)
    assert fallback == sigma_from_annual(0.6)
    assert sigma_per_sqrt_s(estimate, default_annual_volatility=0.6, min_samples=4) != fallback


def test_the_estimate_recovers_the_volatility_of_a_random_walk():
    rng = random.Random(3)
    true_sigma = 0.0002  # per sqrt second
    price, estimate = 100.0, VolatilityEstimate()
    for second in range(5000):
        price *= math.exp(rng.gauss(0.0, true_sigma))
        estimate = observe_price(
            estimate, price=D(str(round(price, 6))), timestamp=float(second), half_life_s=600
        )
    estimated = sigma_per_sqrt_s(estimate, default_annual_volatility=5.0, min_samples=30)
    assert estimated == pytest.approx(true_sigma, rel=0.15)


def test_a_repeated_or_out_of_order_price_adds_no_return():
    estimate = observe_price(VolatilityEstimate(), price=D(100), timestamp=10.0, half_life_s=60)
    estimate = observe_price(estimate, price=D(101), timestamp=11.0, half_life_s=60)
    assert observe_price(estimate, price=D(150), timestamp=11.0, half_life_s=60) == estimate
    assert observe_price(estimate, price=D(150), timestamp=5.0, half_life_s=60) == estimate


def test_a_non_positive_price_is_refused():
    with pytest.raises(ValueError, match="positive"):
        observe_price(VolatilityEstimate(), price=D(0), timestamp=1.0, half_life_s=60)
