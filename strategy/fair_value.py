"""The fair probability that UP wins, and the volatility it needs, estimated from the reference
price the window sees.

Model: the reference price follows a driftless log random walk, so P(price at the end >= price
to beat) is the normal CDF of the log-distance to the price to beat over sigma * sqrt(time
left). Sigma is estimated online (an exponentially weighted mean of squared log returns per
second) and falls back to a configured annual volatility until enough prices were seen.
Ties go to UP, as on Polymarket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from strategy.signals import probability

__all__ = [
    "SECONDS_PER_YEAR",
    "VolatilityEstimate",
    "fair_up",
    "observe_price",
    "sigma_from_annual",
    "sigma_per_sqrt_s",
]

SECONDS_PER_YEAR = 365 * 24 * 3600
_SQRT2 = math.sqrt(2.0)


def sigma_from_annual(annual_volatility: float) -> float:
    """Volatility per square-root second of an annualised volatility."""
    return annual_volatility / math.sqrt(SECONDS_PER_YEAR)


def fair_up(
    *, spot: Decimal, price_to_beat: Decimal, time_left_s: float, sigma_per_sqrt_s: float
) -> Decimal:
    """P(reference price at the end >= price to beat), on the 4-place probability grid.

    At or past the end (or with no volatility) the answer is certain: 1 if the spot is at or
    above the price to beat, else 0.
    """
    if spot <= 0 or price_to_beat <= 0:
        msg = f"reference prices must be positive: spot={spot}, price_to_beat={price_to_beat}"
        raise ValueError(msg)
    if sigma_per_sqrt_s < 0:
        msg = f"sigma_per_sqrt_s must be >= 0, got {sigma_per_sqrt_s!r}"
        raise ValueError(msg)
    spread = sigma_per_sqrt_s * math.sqrt(time_left_s) if time_left_s > 0 else 0.0
    if spread == 0.0:
        return Decimal(1) if spot >= price_to_beat else Decimal(0)
    distance = math.log(float(spot / price_to_beat)) / spread
    return probability(0.5 * math.erfc(-distance / _SQRT2))


@dataclass(frozen=True, slots=True, kw_only=True)
class VolatilityEstimate:
    """Running estimate of the reference price's variance per second."""

    variance_per_s: float = 0.0
    samples: int = 0  # returns folded in
    last_price: Decimal | None = None
    last_timestamp: float | None = None


def observe_price(
    estimate: VolatilityEstimate, *, price: Decimal, timestamp: float, half_life_s: float
) -> VolatilityEstimate:
    """Fold one reference price in. A price at or before the last one's time is ignored (a
    repeated or out-of-order update carries no new return)."""
    if price <= 0:
        msg = f"a reference price must be positive, got {price}"
        raise ValueError(msg)
    last_price, last_timestamp = estimate.last_price, estimate.last_timestamp
    if last_price is None or last_timestamp is None:
        return replace(estimate, last_price=price, last_timestamp=timestamp)
    elapsed = timestamp - last_timestamp
    if elapsed <= 0:
        return estimate
    log_return = math.log(float(price / last_price))
    instant = log_return * log_return / elapsed
    if estimate.samples == 0:
        variance = instant
    else:
        # The weight of the new return grows with the time it covers, so the estimate's memory
        # is `half_life_s` of market time whatever the update rate.
        weight = 1.0 - 0.5 ** (elapsed / half_life_s)
        variance = estimate.variance_per_s + weight * (instant - estimate.variance_per_s)
    return VolatilityEstimate(
        variance_per_s=variance,
        samples=estimate.samples + 1,
        last_price=price,
        last_timestamp=timestamp,
    )


def sigma_per_sqrt_s(
    estimate: VolatilityEstimate, *, default_annual_volatility: float, min_samples: int
) -> float:
    """The estimated sigma, or the configured default until `min_samples` returns were seen."""
    if estimate.samples < min_samples:
        return sigma_from_annual(default_annual_volatility)
    return math.sqrt(estimate.variance_per_s)
