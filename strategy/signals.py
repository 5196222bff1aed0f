"""Confidence that UP wins, from two momentum signals, scored two ways.

The signals: the reference price's move since the window opened (relative to the price to
beat) and the market's own move (the UP mid's change since the open), each squashed by `tanh`
into [-1, 1] against a configured scale. The two scores:

- additive: 0.5 plus half the weighted sum of the signals (weights sum to at most 1), a
  probability that ignores where the market trades;
- Bayesian: the market's price of UP is the prior, each signal adds its log-likelihood ratio
  to the prior's log-odds.

Both are returned on every decision and journaled (`SignalScored`) so they can be compared
later; `StrategySettings.confidence_model` picks the one the gates use. Probabilities are
computed in float (tanh, log, exp) and returned as Decimal rounded to 4 places; no money
passes through float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from actors.messages import Outcome
from strategy.settings import ConfidenceModel, StrategySettings

__all__ = [
    "PROBABILITY_PLACES",
    "Confidence",
    "Signals",
    "additive_confidence",
    "bayesian_confidence",
    "favours_reversal",
    "market_momentum",
    "probability",
    "reference_momentum",
    "reversal_confidence",
    "score",
    "signals",
]

PROBABILITY_PLACES = Decimal("0.0001")
# A prior of exactly 0 or 1 has infinite log-odds: no evidence could move it. The venue's
# prices live in [0.01, 0.99] anyway.
_PRIOR_LIMIT = 0.01
_HALF = Decimal("0.5")


def probability(value: float) -> Decimal:
    """A float probability as a Decimal on the 4-place grid, kept within [0, 1]."""
    clipped = min(max(value, 0.0), 1.0)
    return Decimal(repr(clipped)).quantize(PROBABILITY_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """Both momentum signals, each in [-1, 1]; positive favours UP."""

    reference: float
    market: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Confidence:
    """Both scores of P(UP wins), each in [0, 1]."""

    additive: Decimal
    bayesian: Decimal

    def up(self, model: ConfidenceModel) -> Decimal:
        match model:
            case ConfidenceModel.ADDITIVE:
                return self.additive
            case ConfidenceModel.BAYESIAN:
                return self.bayesian

    def of(self, outcome: Outcome, model: ConfidenceModel) -> Decimal:
        """Confidence that `outcome` wins, by `model`."""
        up = self.up(model)
        return up if outcome is Outcome.UP else 1 - up


def reference_momentum(*, spot: Decimal, price_to_beat: Decimal) -> Decimal:
    """Relative move of the reference price since the open: (spot - price to beat) / price to beat."""
    if spot <= 0 or price_to_beat <= 0:
        msg = f"reference prices must be positive: spot={spot}, price_to_beat={price_to_beat}"
        raise ValueError(msg)
    return (spot - price_to_beat) / price_to_beat


def market_momentum(*, mid_up: Decimal, open_mid_up: Decimal) -> Decimal:
    """Change of the UP mid since the open."""
    return mid_up - open_mid_up


def signals(
    *,
    spot: Decimal,
    price_to_beat: Decimal,
    mid_up: Decimal | None,
    open_mid_up: Decimal,
    settings: StrategySettings,
) -> Signals:
    """Both signals; without a current UP mid the market signal is 0 (no evidence)."""
    reference = reference_momentum(spot=spot, price_to_beat=price_to_beat)
    market = (
        Decimal(0) if mid_up is None else market_momentum(mid_up=mid_up, open_mid_up=open_mid_up)
    )
    return Signals(
        reference=math.tanh(float(reference / settings.reference_momentum_scale)),
        market=math.tanh(float(market / settings.market_momentum_scale)),
    )


def additive_confidence(evidence: Signals, settings: StrategySettings) -> Decimal:
    """P(UP) = 0.5 + (w_ref * reference + w_mkt * market) / 2."""
    combined = (
        float(settings.additive_reference_weight) * evidence.reference
        + float(settings.additive_market_weight) * evidence.market
    )
    return probability(0.5 + combined / 2)


def bayesian_confidence(
    evidence: Signals, *, prior_up: Decimal, settings: StrategySettings
) -> Decimal:
    """Posterior P(UP): logit(posterior) = logit(prior) + sum of the signals' log-likelihoods."""
    prior = min(max(float(prior_up), _PRIOR_LIMIT), 1 - _PRIOR_LIMIT)
    log_odds = (
        math.log(prior / (1 - prior))
        + float(settings.bayesian_reference_weight) * evidence.reference
        + float(settings.bayesian_market_weight) * evidence.market
    )
    return probability(1 / (1 + math.exp(-log_odds)))


def score(
    *,
    spot: Decimal,
    price_to_beat: Decimal,
    mid_up: Decimal | None,
    open_mid_up: Decimal,
    settings: StrategySettings,
) -> Confidence:
    """Both confidence scores at one decision point. The Bayesian prior is the UP mid (0.5
    when the market shows none)."""
    evidence = signals(
        spot=spot,
        price_to_beat=price_to_beat,
        mid_up=mid_up,
        open_mid_up=open_mid_up,
        settings=settings,
    )
    prior = _HALF if mid_up is None else mid_up
    return Confidence(
        additive=additive_confidence(evidence, settings),
        bayesian=bayesian_confidence(evidence, prior_up=prior, settings=settings),
    )


def reversal_confidence(*, confidence_losing: Decimal) -> Decimal:
    """How strongly the confidence favours the reversal side over the losing side:
    P(reversal side) - P(losing side) = 1 - 2 * P(losing side), in [-1, 1]."""
    if not 0 <= confidence_losing <= 1:
        msg = f"confidence_losing must be a probability in [0, 1], got {confidence_losing}"
        raise ValueError(msg)
    return 1 - 2 * confidence_losing


def favours_reversal(*, confidence_losing: Decimal, settings: StrategySettings) -> bool:
    """The strategy's confidence favours the reversal side by more than
    `reversal_min_confidence` (0.30: the reversal side wins with probability above 0.65).
    The position's stop loss sells its losing side only when this holds."""
    return reversal_confidence(confidence_losing=confidence_losing) > (
        settings.reversal_min_confidence
    )
