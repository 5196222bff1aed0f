"""Fractional Kelly on the edge: never negative, monotone in the edge, truncated sizes, prices
on the tick grid."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy.settings import StrategySettings
from strategy.sizing import (
    entry_size,
    kelly_fraction,
    kelly_stake,
    price_on_tick,
    shares_for,
    truncate_shares,
)

D = Decimal
SETTINGS = StrategySettings()

probabilities = st.decimals(min_value=D(0), max_value=D(1), places=4)
share_prices = st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2)
bankrolls = st.decimals(min_value=D(0), max_value=D(100_000), places=2)


def test_full_kelly_for_a_binary_share():
    # p = 0.7 at q = 0.6: (0.7 - 0.6) / (1 - 0.6) = 0.25
    assert kelly_fraction(win_probability=D("0.7"), price=D("0.6")) == D("0.25")


def test_no_edge_means_no_stake():
    assert kelly_fraction(win_probability=D("0.6"), price=D("0.6")) == 0
    assert kelly_fraction(win_probability=D("0.4"), price=D("0.6")) == 0


def test_the_stake_is_the_configured_fraction_of_kelly_in_whole_cents():
    # 1000 * 0.25 * 0.25 = 62.50
    stake = kelly_stake(
        win_probability=D("0.7"), price=D("0.6"), bankroll=D(1000), fraction=D("0.25")
    )
    assert stake == D("62.50")


@given(p=probabilities, q=share_prices, bankroll=bankrolls)
def test_kelly_stake_is_never_negative_nor_above_the_bankroll(p, q, bankroll):
    stake = kelly_stake(win_probability=p, price=q, bankroll=bankroll, fraction=D("0.25"))
    assert D(0) <= stake <= bankroll


@given(
    p=probabilities,
    more=st.decimals(min_value=D(0), max_value=D(1), places=4),
    q=share_prices,
    bankroll=bankrolls,
)
def test_kelly_stake_grows_with_the_edge(p, more, q, bankroll):
    higher = min(p + more, D(1))
    low = kelly_stake(win_probability=p, price=q, bankroll=bankroll, fraction=D("0.25"))
    high = kelly_stake(win_probability=higher, price=q, bankroll=bankroll, fraction=D("0.25"))
    assert high >= low


@given(p=probabilities, q=share_prices, bankroll=bankrolls)
def test_entry_size_is_zero_or_at_least_the_minimum_and_never_more_than_two_places(p, q, bankroll):
    size = entry_size(
        win_probability=p, price=q, bankroll=bankroll, min_size=D(5), settings=SETTINGS
    )
    assert size == 0 or size >= 5
    assert size == truncate_shares(size)
    assert size * q <= bankroll


def test_entry_size_below_the_minimum_is_zero():
    # stake 0.25 * 0.25 * 10 = 0.62 buys 1.04 shares at 0.6
    assert (
        entry_size(
            win_probability=D("0.7"),
            price=D("0.6"),
            bankroll=D(10),
            min_size=D(5),
            settings=SETTINGS,
        )
        == 0
    )


@pytest.mark.parametrize(
    ("amount", "price", "shares"),
    [(D(10), D("0.3"), D("33.33")), (D("62.5"), D("0.6"), D("104.16")), (D(0), D("0.5"), D(0))],
)
def test_shares_are_truncated_never_rounded_up(amount, price, shares):
    assert shares_for(amount=amount, price=price) == shares


@pytest.mark.parametrize(
    ("price", "tick", "on_grid"),
    [
        (D("0.537"), D("0.01"), D("0.53")),
        (D("0.53"), D("0.01"), D("0.53")),
        (D("0.9871"), D("0.001"), D("0.987")),
    ],
)
def test_prices_are_put_on_the_tick_grid_rounding_down(price, tick, on_grid):
    assert price_on_tick(price, tick) == on_grid


def test_invalid_inputs_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="share price"):
        kelly_fraction(win_probability=D("0.5"), price=D(1))
    with pytest.raises(ValueError, match="win_probability"):
        kelly_fraction(win_probability=D("1.5"), price=D("0.5"))
    with pytest.raises(ValueError, match="tick"):
        price_on_tick(D("0.5"), D(0))


def test_the_stake_is_capped_by_a_share_of_the_days_loss_limit():
    from decimal import Decimal as D

    from strategy.settings import StrategySettings
    from strategy.sizing import entry_size

    settings = StrategySettings()
    free = entry_size(
        win_probability=D("0.8"), price=D("0.5"), bankroll=D(1000), min_size=D(5), settings=settings
    )
    capped = entry_size(
        win_probability=D("0.8"),
        price=D("0.5"),
        bankroll=D(1000),
        min_size=D(5),
        settings=settings,
        max_stake=D("12.5"),
    )
    assert free * D("0.5") > D("12.5")
    assert capped == D(25)
    assert (
        entry_size(
            win_probability=D("0.8"),
            price=D("0.5"),
            bankroll=D(1000),
            min_size=D(5),
            settings=settings,
            max_stake=D(2),
        )
        == 0
    )
