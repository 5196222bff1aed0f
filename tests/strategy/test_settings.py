"""StrategySettings: the issue's defaults, and values that cannot mean what the operator wants
are refused with a message naming the key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from strategy.settings import ConfidenceModel, StrategySettings


def test_defaults_are_the_issues():
    settings = StrategySettings()
    assert settings.min_confidence == Decimal("0.6")
    assert settings.underdog_price == Decimal("0.50")
    assert settings.underdog_margin == Decimal("0.40")
    assert settings.kelly_fraction == Decimal("0.25")
    assert settings.reversal_min_confidence == Decimal("0.30")
    assert settings.order_size_min == Decimal(5)
    assert settings.confidence_model is ConfidenceModel.ADDITIVE


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("min_confidence", Decimal("0.4")),  # would buy the side it believes loses
        ("kelly_fraction", Decimal(0)),
        ("kelly_fraction", Decimal("1.5")),
        ("max_spread", Decimal(0)),
        ("decision_interval_s", 0.0),
        ("order_size_min", Decimal(0)),
        ("max_entries_per_window", 3),
        ("default_annual_volatility", float("inf")),
        ("unknown_key", 1),
    ],
)
def test_a_value_out_of_range_is_refused_naming_its_key(key, value):
    with pytest.raises(ValidationError, match=key):
        StrategySettings(**{key: value})


def test_additive_weights_above_one_in_total_are_refused():
    with pytest.raises(ValidationError, match="additive_reference_weight"):
        StrategySettings(
            additive_reference_weight=Decimal("0.7"), additive_market_weight=Decimal("0.4")
        )


def test_reversals_must_stay_possible_at_least_as_long_as_entries():
    with pytest.raises(ValidationError, match="reversal_stop_s"):
        StrategySettings(entry_stop_s=30.0, reversal_stop_s=60.0)


def test_settings_are_frozen():
    settings = StrategySettings()
    with pytest.raises(ValidationError):
        settings.min_confidence = Decimal("0.9")  # type: ignore[misc]
