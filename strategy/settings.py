"""The strategy's thresholds (the `strategy:` section of the YAML config), validated.

Every rule in `strategy/` and every decision of the window actor reads its thresholds from one
`StrategySettings`, passed in as a value. Defaults are issue 4's. Validation rejects values that
cannot mean what the operator wants (e.g. a minimum confidence below one half would let the
bot buy the side it believes will lose).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ConfidenceModel", "StrategySettings"]


class ConfidenceModel(StrEnum):
    """Which of the two confidence scores drives the entry gates (both are always journaled)."""

    ADDITIVE = "additive"
    BAYESIAN = "bayesian"


class StrategySettings(BaseModel):
    """Signals, fair value, entry gates, sizing and the window's timing."""

    # allow_inf_nan=False: `.inf` or `.nan` in YAML would pass every bound silently.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # --- signals ---------------------------------------------------------------------------------
    confidence_model: ConfidenceModel = Field(
        default=ConfidenceModel.ADDITIVE,
        description="The confidence the gates use; the other one is journaled for comparison.",
    )
    reference_momentum_scale: Decimal = Field(
        default=Decimal("0.001"),
        gt=0,
        description="Relative move of the reference price since the open (0.001 = 0.1 %) "
        "that counts as a strong signal (tanh(1) = 0.76 of full strength).",
    )
    market_momentum_scale: Decimal = Field(
        default=Decimal("0.10"),
        gt=0,
        le=1,
        description="Change of the UP mid since the open that counts as a strong signal.",
    )
    additive_reference_weight: Decimal = Field(default=Decimal("0.6"), ge=0, le=1)
    additive_market_weight: Decimal = Field(default=Decimal("0.4"), ge=0, le=1)
    bayesian_reference_weight: Decimal = Field(
        default=Decimal("1.5"),
        ge=0,
        le=10,
        description="Log-likelihood ratio of a full-strength reference signal.",
    )
    bayesian_market_weight: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=10,
        description="Log-likelihood ratio of a full-strength market signal (small: the prior "
        "is the market's own price, which already carries most of its momentum).",
    )

    # --- fair value ------------------------------------------------------------------------------
    default_annual_volatility: float = Field(
        default=0.6,
        gt=0,
        le=5,
        description="Volatility assumed until enough reference prices were seen to estimate it.",
    )
    volatility_half_life_s: float = Field(default=300.0, gt=0)
    volatility_min_samples: int = Field(default=30, ge=2)

    # --- entry gates -----------------------------------------------------------------------------
    min_confidence: Decimal = Field(
        default=Decimal("0.6"),
        ge=Decimal("0.5"),
        lt=1,
        description="Least confidence that the chosen side wins.",
    )
    underdog_price: Decimal = Field(
        default=Decimal("0.50"),
        gt=0,
        lt=1,
        description="A side whose entry price is below this is the market's underdog.",
    )
    underdog_margin: Decimal = Field(
        default=Decimal("0.40"),
        ge=0,
        lt=1,
        description="Buying the underdog bets against the market, so it needs confidence at "
        "least this much ON TOP of its price (confidence >= price + margin), besides "
        "min_confidence: at the default a 0.45 underdog needs 0.85 and a 0.15 one needs 0.6.",
    )
    max_spread: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="Widest bid-ask spread of the side's book at which the window enters.",
    )

    # --- sizing ----------------------------------------------------------------------------------
    kelly_fraction: Decimal = Field(
        default=Decimal("0.25"),
        gt=0,
        le=1,
        description="Fraction of the Kelly stake on the edge (fair value vs price); risk clips it.",
    )
    max_stake_of_loss_limit: Decimal = Field(
        default=Decimal("0.25"),
        gt=0,
        le=1,
        description=(
            "An entry stakes at most this fraction of today's daily loss limit (risk's "
            "daily_loss_limit_pct of equity): risk reserves a position's whole stake against the "
            "day's loss budget, so at 0.25 four windows can hold positions at once."
        ),
    )
    order_size_min: Decimal = Field(
        default=Decimal(5),
        gt=0,
        description="Fewest shares an entry may have (the venue's minimum order size).",
    )

    # --- the window's timing ---------------------------------------------------------------------
    entry_start_s: float = Field(
        default=60.0,
        ge=0,
        description="No entry in the first seconds after the open: momentum needs time to form.",
    )
    entry_stop_s: float = Field(
        default=120.0,
        ge=0,
        description="No new entry in the last seconds before the end (closes entries near it).",
    )
    decision_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a window scores itself and journals SignalScored (not per book tick).",
    )
    max_entries_per_window: int = Field(
        default=1,
        ge=1,
        le=2,
        description="Entries (not reversals) per window; never two for the same side.",
    )
    signal_cooldown_s: float = Field(
        default=30.0,
        ge=0,
        description="After risk refuses an entry the window does not ask again for this long; "
        "keep it at least risk.signal_cooldown_s (risk enforces its own copy).",
    )
    anchor_tolerance_s: float = Field(
        default=5.0,
        gt=0,
        description="A reference price seen within this long after the open is the price to "
        "beat; a window first seen later does not enter (its price to beat is a guess).",
    )
    max_data_age_s: float = Field(
        default=30.0,
        gt=0,
        description="Reference price or books older than this are stale: no decision on them.",
    )

    # --- reversals (hedged stop loss) ------------------------------------------------------------
    reversal_min_confidence: Decimal = Field(
        default=Decimal("0.30"),
        gt=0,
        lt=1,
        description="How strongly the confidence must favour the reversal side, as "
        "P(reversal side) - P(losing side), for a reversal buy or a hedged stop sell.",
    )
    reversal_size_ratio: Decimal = Field(
        default=Decimal(1),
        gt=0,
        le=2,
        description="Reversal shares per share of the losing position (1 = fully hedged).",
    )
    reversal_stop_s: float = Field(
        default=30.0,
        ge=0,
        description="No reversal in the last seconds before the end (it would not fill).",
    )

    # --- after the end ---------------------------------------------------------------------------
    close_grace_s: float = Field(
        default=600.0,
        gt=0,
        description="After the resolution, the window stops once its positions are gone or "
        "after this long, whichever is first.",
    )
    force_close_after_s: float = Field(
        default=1800.0,
        gt=0,
        description="A window whose resolution never arrives is closed (winner unknown) this "
        "long after its end.",
    )

    @model_validator(mode="after")
    def _thresholds_are_consistent(self) -> Self:
        # The additive score is 0.5 plus half the weighted signals; weights above 1 in total
        # would push it outside [0, 1] and clip, losing the comparison with the Bayesian score.
        weights = self.additive_reference_weight + self.additive_market_weight
        if weights > 1:
            msg = (
                f"additive_reference_weight={self.additive_reference_weight} + "
                f"additive_market_weight={self.additive_market_weight} = {weights} must be "
                "at most 1, so the additive confidence stays a probability"
            )
            raise ValueError(msg)
        if weights == 0:
            msg = "additive_reference_weight and additive_market_weight cannot both be 0"
            raise ValueError(msg)
        # Reversals hedge positions, so they must stay possible at least as long as entries.
        if self.reversal_stop_s > self.entry_stop_s:
            msg = (
                f"reversal_stop_s={self.reversal_stop_s} must not exceed "
                f"entry_stop_s={self.entry_stop_s}: a position entered at the last moment "
                "must still be able to hedge"
            )
            raise ValueError(msg)
        return self
