"""Momentum signals and the two confidence scores (additive, Bayesian), and the reversal
confidence the position's hedged stop uses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Outcome
from strategy.settings import ConfidenceModel, StrategySettings
from strategy.signals import (
    Confidence,
    Signals,
    additive_confidence,
    bayesian_confidence,
    favours_reversal,
    market_momentum,
    probability,
    reference_momentum,
    reversal_confidence,
    score,
    signals,
)

SETTINGS = StrategySettings()
D = Decimal

prices = st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2)
spots = st.decimals(min_value=D(90), max_value=D(110), places=2)


def test_reference_momentum_is_the_relative_move_since_the_open():
    assert reference_momentum(spot=D(101), price_to_beat=D(100)) == D("0.01")
    assert reference_momentum(spot=D(99), price_to_beat=D(100)) == D("-0.01")


def test_reference_momentum_refuses_a_non_positive_price():
    with pytest.raises(ValueError, match="price_to_beat=0"):
        reference_momentum(spot=D(1), price_to_beat=D(0))


def test_market_momentum_is_the_up_mid_change_since_the_open():
    assert market_momentum(mid_up=D("0.62"), open_mid_up=D("0.50")) == D("0.12")


def test_no_move_gives_no_signal_and_an_even_additive_confidence():
    evidence = signals(
        spot=D(100), price_to_beat=D(100), mid_up=D("0.5"), open_mid_up=D("0.5"), settings=SETTINGS
    )
    assert evidence == Signals(reference=0.0, market=0.0)
    assert additive_confidence(evidence, SETTINGS) == D("0.5")


def test_without_a_current_mid_the_market_signal_is_zero():
    evidence = signals(
        spot=D(100), price_to_beat=D(100), mid_up=None, open_mid_up=D("0.3"), settings=SETTINGS
    )
    assert evidence.market == 0.0


def test_signals_saturate_within_minus_one_and_one():
    evidence = signals(
        spot=D(200),
        price_to_beat=D(100),
        mid_up=D("0.99"),
        open_mid_up=D("0.01"),
        settings=SETTINGS,
    )
    assert 0.99 < evidence.reference <= 1.0
    assert 0.99 < evidence.market <= 1.0


def test_additive_confidence_at_full_strength_is_half_plus_half_the_weights():
    full = Signals(reference=1.0, market=1.0)
    # 0.5 + (0.6 + 0.4) / 2
    assert additive_confidence(full, SETTINGS) == D(1)
    only_reference = Signals(reference=1.0, market=0.0)
    assert additive_confidence(only_reference, SETTINGS) == D("0.8")


def test_bayesian_confidence_without_evidence_is_the_market_prior():
    none = Signals(reference=0.0, market=0.0)
    assert bayesian_confidence(none, prior_up=D("0.73"), settings=SETTINGS) == D("0.73")


def test_bayesian_confidence_moves_the_prior_towards_the_evidence():
    up = Signals(reference=0.8, market=0.2)
    down = Signals(reference=-0.8, market=-0.2)
    assert bayesian_confidence(up, prior_up=D("0.5"), settings=SETTINGS) > D("0.5")
    assert bayesian_confidence(down, prior_up=D("0.5"), settings=SETTINGS) < D("0.5")


def test_a_certain_prior_still_gives_a_finite_posterior():
    assert bayesian_confidence(
        Signals(reference=-1.0, market=-1.0), prior_up=D(1), settings=SETTINGS
    ) < D(1)


@given(
    spot=spots,
    price_to_beat=spots,
    mid_up=prices,
    open_mid_up=prices,
)
def test_both_scores_are_probabilities_on_the_four_place_grid(
    spot, price_to_beat, mid_up, open_mid_up
):
    confidence = score(
        spot=spot,
        price_to_beat=price_to_beat,
        mid_up=mid_up,
        open_mid_up=open_mid_up,
        settings=SETTINGS,
    )
    assert D(0) <= confidence.additive <= D(1)
    assert D(0) <= confidence.bayesian <= D(1)
    assert confidence.additive.as_tuple().exponent >= -4


@given(spot=spots, higher=st.decimals(min_value=D("0.01"), max_value=D(5), places=2))
def test_a_higher_reference_price_never_lowers_either_confidence(spot, higher):
    common = {"price_to_beat": D(100), "mid_up": D("0.5"), "open_mid_up": D("0.5")}
    low = score(spot=spot, settings=SETTINGS, **common)
    high = score(spot=spot + higher, settings=SETTINGS, **common)
    assert high.additive >= low.additive
    assert high.bayesian >= low.bayesian


def test_the_bayesian_prior_is_the_up_mid():
    flat = {"spot": D(100), "price_to_beat": D(100), "open_mid_up": D("0.8")}
    assert score(mid_up=D("0.8"), settings=SETTINGS, **flat).bayesian == D("0.8")
    assert score(mid_up=None, settings=SETTINGS, **flat).bayesian == D("0.5")


@pytest.mark.parametrize(
    ("model", "outcome", "expected"),
    [
        (ConfidenceModel.ADDITIVE, Outcome.UP, D("0.7")),
        (ConfidenceModel.ADDITIVE, Outcome.DOWN, D("0.3")),
        (ConfidenceModel.BAYESIAN, Outcome.UP, D("0.4")),
        (ConfidenceModel.BAYESIAN, Outcome.DOWN, D("0.6")),
    ],
)
def test_the_configured_model_gives_each_sides_confidence(model, outcome, expected):
    confidence = Confidence(additive=D("0.7"), bayesian=D("0.4"))
    assert confidence.of(outcome, model) == expected


@pytest.mark.parametrize(
    ("confidence_losing", "strength", "favours"),
    [
        (D("0.5"), D(0), False),
        (D("0.35"), D("0.30"), False),  # exactly the threshold: "more than" 0.30 is needed
        (D("0.34"), D("0.32"), True),
        (D("0.9"), D("-0.8"), False),
        (D(0), D(1), True),
    ],
)
def test_reversal_confidence_is_how_much_the_reversal_side_is_favoured(
    confidence_losing, strength, favours
):
    assert reversal_confidence(confidence_losing=confidence_losing) == strength
    assert favours_reversal(confidence_losing=confidence_losing, settings=SETTINGS) is favours


def test_reversal_confidence_refuses_a_non_probability():
    with pytest.raises(ValueError, match="confidence_losing"):
        reversal_confidence(confidence_losing=D("1.2"))


def test_probabilities_are_clipped_and_rounded_to_four_places():
    assert probability(1.2) == D(1)
    assert probability(-0.1) == D(0)
    assert probability(0.123456) == D("0.1235")
