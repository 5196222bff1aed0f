"""The fair probability that an Up-or-Down window resolves Up, and its place on the tick grid.

The spot follows a driftless log random walk, so P(spot_end >= price_to_beat) is the normal
CDF of the log-distance to the price to beat over sigma * sqrt(time left). Jumps are folded into
an effective sigma (their variance per second added to the diffusion's).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "SECONDS_PER_YEAR",
    "effective_sigma_per_sqrt_s",
    "fair_up_probability",
    "fine_tick_wanted",
    "price_on_grid",
    "up_wins",
]

SECONDS_PER_YEAR = 365 * 24 * 3600
_SQRT2 = math.sqrt(2.0)


def effective_sigma_per_sqrt_s(
    *, annual_volatility: float, jumps_per_hour: float, jump_size: float
) -> float:
    """Volatility per square-root second of the walk, jumps included."""
    diffusion_variance = annual_volatility * annual_volatility / SECONDS_PER_YEAR
    jump_variance = jumps_per_hour / 3600.0 * jump_size * jump_size
    return math.sqrt(diffusion_variance + jump_variance)


def fair_up_probability(
    *, spot: float, price_to_beat: float, time_left_s: float, sigma_per_sqrt_s: float
) -> float:
    """P(spot at the end >= price to beat); at or past the end (or without volatility) 1 or 0.

    Ties go to Up, as on Polymarket, so a spot exactly at the price to beat with no time left
    is a certain Up.
    """
    if spot <= 0 or price_to_beat <= 0:
        msg = f"prices must be positive: spot={spot!r}, price_to_beat={price_to_beat!r}"
        raise ValueError(msg)
    spread = sigma_per_sqrt_s * math.sqrt(time_left_s) if time_left_s > 0 else 0.0
    if spread == 0.0:
        return 1.0 if spot >= price_to_beat else 0.0
    distance = math.log(spot / price_to_beat) / spread
    return 0.5 * math.erfc(-distance / _SQRT2)


def up_wins(*, price_to_beat: Decimal, final_price: Decimal) -> bool:
    """Polymarket's rule: Up if the end price is greater than or equal to the start price."""
    return final_price >= price_to_beat


def price_on_grid(probability: float, tick: Decimal) -> Decimal:
    """The nearest price on the `tick` grid, kept within [tick, 1 - tick]."""
    steps = round(Decimal(1) / tick)
    index = min(max(round(probability * steps), 1), steps - 1)
    return (Decimal(index) * tick).quantize(tick, rounding=ROUND_HALF_EVEN)


def fine_tick_wanted(
    mid: float, *, is_fine: bool, fine_tick_above: float, coarse_tick_within: float
) -> bool:
    """Whether the book should be on the fine tick, with hysteresis between the thresholds.

    Polymarket tightens the tick when a market nears certainty (commonly cited: above 0.96 or
    below 0.04) and widens it again when it comes back.
    """
    if is_fine:
        return not 1.0 - coarse_tick_within <= mid <= coarse_tick_within
    return mid > fine_tick_above or mid < 1.0 - fine_tick_above
