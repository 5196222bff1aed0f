"""Spot walks: seeded per asset, independent of the process, with the configured volatility."""

import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from venues.sim.settings import SimAsset
from venues.sim.spot import SpotWalk, seeded_rng

ROOT = Path(__file__).resolve().parents[3]
BTC = SimAsset(symbol="BTC", start_price=Decimal(95000), annual_volatility=0.5)


def _path(asset=BTC, seed=7, steps=200, step_s=1.0):
    walk = SpotWalk(asset=asset, seed=seed, step_s=step_s)
    return [walk.step() for _ in range(steps)]


def test_the_same_seed_and_asset_give_the_same_path():
    assert _path() == _path()


def test_another_seed_or_asset_gives_another_path():
    eth = BTC.model_copy(update={"symbol": "ETH"})
    assert _path(seed=8) != _path()
    assert _path(asset=eth) != _path()


def test_the_rng_stream_does_not_depend_on_the_process_hash_seed():
    # str hash() is salted per process; our seeding must not be.
    code = "from venues.sim.spot import seeded_rng; print(seeded_rng(7, 'spot:BTC').random())"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={"PYTHONHASHSEED": salt, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for salt in ("1", "2")
    }
    assert outputs == {f"{seeded_rng(7, 'spot:BTC').random()}\n"}


def test_published_prices_have_the_assets_decimals():
    xrp = SimAsset(
        symbol="XRP", start_price=Decimal("2.3"), annual_volatility=0.8, price_decimals=4
    )
    for price in _path(asset=xrp, steps=50):
        assert price.as_tuple().exponent == -4


def test_realised_volatility_matches_the_configured_one():
    asset = BTC.model_copy(update={"jumps_per_hour": 0.0})
    walk = SpotWalk(asset=asset, seed=3, step_s=1.0)
    previous = walk.price
    returns = []
    for _ in range(20_000):
        walk.step()
        returns.append(math.log(walk.price / previous))
        previous = walk.price
    mean = sum(returns) / len(returns)
    per_step = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    annualised = per_step * math.sqrt(365 * 24 * 3600)
    assert annualised == pytest.approx(0.5, rel=0.03)


def test_jumps_happen_at_about_the_configured_rate():
    asset = BTC.model_copy(update={"annual_volatility": 0.0, "jumps_per_hour": 60.0})
    walk = SpotWalk(asset=asset, seed=5, step_s=1.0)
    previous = walk.price
    jumps = 0
    for _ in range(36_000):  # ten hours: about 600 jumps expected
        walk.step()
        jumps += walk.price != previous
        previous = walk.price
    assert 500 < jumps < 700


def test_without_volatility_or_jumps_the_price_never_moves():
    still = BTC.model_copy(update={"annual_volatility": 0.0, "jumps_per_hour": 0.0})
    assert set(_path(asset=still)) == {Decimal("95000.00")}
