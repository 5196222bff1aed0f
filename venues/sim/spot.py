"""The reference (spot) price of one asset: a seedable log random walk with occasional jumps.

Each walk owns a `random.Random` seeded from the run's seed and the asset's symbol through
sha256 (never the global RNG, never `hash()`, which is salted per process), so one asset's path
does not change when another asset is added.
"""

from __future__ import annotations

import hashlib
import math
import random
from decimal import Decimal

from venues.sim.settings import SimAsset

__all__ = ["SpotWalk", "seeded_rng"]


def seeded_rng(seed: int, key: str) -> random.Random:
    """An RNG whose stream depends only on (seed, key), the same in every process."""
    digest = hashlib.sha256(f"polyactor-sim|{seed}|{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


class SpotWalk:
    """One asset's spot price, stepped in fixed increments of `step_s` seconds."""

    __slots__ = (
        "_decimals",
        "_diffusion_sigma",
        "_jump_probability",
        "_jump_size",
        "_rng",
        "_scale",
        "asset",
        "price",
        "quote",
    )

    def __init__(self, *, asset: SimAsset, seed: int, step_s: float) -> None:
        self.asset = asset
        self._rng = seeded_rng(seed, f"spot:{asset.symbol}")
        self._diffusion_sigma = asset.annual_volatility * math.sqrt(step_s / (365 * 24 * 3600))
        self._jump_probability = min(1.0, asset.jumps_per_hour * step_s / 3600.0)
        self._jump_size = asset.jump_size
        self._decimals = asset.price_decimals
        self._scale = 10**asset.price_decimals
        self.price = float(asset.start_price)
        self.quote = self._quantize(self.price)

    def step(self) -> Decimal:
        """Move one step; returns the new published (rounded) price."""
        rng = self._rng
        log_return = self._diffusion_sigma * rng.gauss(0.0, 1.0)
        if rng.random() < self._jump_probability:
            log_return += self._jump_size * rng.gauss(0.0, 1.0)
        self.price *= math.exp(log_return)
        self.quote = self._quantize(self.price)
        return self.quote

    def _quantize(self, price: float) -> Decimal:
        # Integer then scaleb: exact and far cheaper than Decimal(float).quantize().
        return Decimal(round(price * self._scale)).scaleb(-self._decimals)
