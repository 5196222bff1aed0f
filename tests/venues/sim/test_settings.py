"""SimSettings: realistic defaults, YAML-shaped input, and errors that name the key."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from venues.sim.settings import SimAsset, SimSettings, timeframe_label


def test_defaults_describe_four_assets_on_fifteen_minute_windows():
    settings = SimSettings()
    assert [a.symbol for a in settings.assets] == ["BTC", "ETH", "SOL", "XRP"]
    assert settings.timeframes_s == (900,)
    assert settings.seed == 7
    assert settings.tick_size == Decimal("0.01")
    assert settings.fine_tick_size == Decimal("0.001")
    assert all(0 < a.annual_volatility < 2 for a in settings.assets)


def test_a_yaml_shaped_mapping_loads_with_floats_becoming_exact_decimals():
    settings = SimSettings.model_validate(
        {
            "seed": 11,
            "timeframes_s": [300, 900, 3600],
            "assets": [{"symbol": "BTC", "start_price": 100000.5, "annual_volatility": 0.5}],
            "tick_size": 0.01,
            "book": {"levels": 3, "depth_per_level": 100.25},
        }
    )
    assert settings.timeframes_s == (300, 900, 3600)
    assert settings.assets[0].start_price == Decimal("100000.5")
    assert settings.tick_size == Decimal("0.01")
    assert settings.book.depth_per_level == Decimal("100.25")


def test_settings_are_frozen():
    settings = SimSettings()
    with pytest.raises(ValidationError):
        settings.seed = 8  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"unknown_knob": 1}, "unknown_knob"),
        ({"step_s": 0}, "step_s"),
        ({"timeframes_s": [90]}, "timeframes_s"),
        ({"timeframes_s": [900, 900]}, "timeframes_s"),
        ({"step_s": 7}, "step_s=7"),
        ({"tick_size": "0.02"}, "tick size 0.02"),
        ({"fine_tick_size": "0.01"}, "fine_tick_size=0.01"),
        ({"fine_tick_above": 0.9, "coarse_tick_within": 0.95}, "coarse_tick_within"),
        ({"book": {"levels": 0}}, "book.levels"),
        ({"book": {"spread_ticks": 20}, "tick_size": "0.1"}, "book.spread_ticks"),
        ({"listing_lead_s": -1}, "listing_lead_s"),
        ({"assets": []}, "assets"),
    ],
)
def test_invalid_settings_are_rejected_with_the_key_named(overrides, named):
    with pytest.raises(ValidationError) as caught:
        SimSettings.model_validate(overrides)
    assert named in str(caught.value)


def test_an_asset_listed_twice_is_rejected_by_symbol():
    btc = SimAsset(symbol="BTC", start_price=Decimal(1), annual_volatility=0.5)
    with pytest.raises(ValidationError, match="assets: symbol listed twice: BTC"):
        SimSettings(assets=(btc, btc))


def test_an_asset_with_a_negative_volatility_is_rejected_naming_the_field():
    with pytest.raises(ValidationError, match="annual_volatility"):
        SimAsset(symbol="BTC", start_price=Decimal(1), annual_volatility=-0.1)


@pytest.mark.parametrize(
    ("timeframe_s", "label"), [(300, "5m"), (900, "15m"), (3600, "1h"), (14400, "4h")]
)
def test_timeframes_are_labelled_as_in_polymarket_slugs(timeframe_s, label):
    assert timeframe_label(timeframe_s) == label
