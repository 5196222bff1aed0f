"""The paper exchange's settings: the `paper:` section of the YAML configuration.

Defaults follow Polymarket's current rules for the 15-minute crypto Up/Down markets
(polymarket_api.md 7): the crypto fee schedule in force since spring 2026 is rate 0.072 with
exponent 1 (`fee = C * 0.072 * p * (1 - p)`); the January 2026 launch schedule, whose
published examples the fee tests reproduce, was rate 0.25 with exponent 2. GTD orders must
expire at least 180 s ahead (both official SDKs enforce it) and the venue expires them 60 s
before their stated expiration (its "one-minute security threshold").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from venues.paper.faults import FaultSettings

__all__ = ["PaperSettings"]


class PaperSettings(BaseModel):
    """How the paper exchange is funded and which venue rules and faults it applies."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    starting_collateral: Decimal = Field(default=Decimal(1000), ge=0)
    # The simulated counterparty of all our trades. It only needs to never run dry; it is
    # tracked so that conservation of money and shares can be checked.
    house_collateral: Decimal = Field(default=Decimal(1_000_000_000), gt=0)
    # None: approved for the maximum, as a set-up wallet is. A number reproduces a wallet
    # whose approval is too small (InsufficientAllowance); fills use it up.
    collateral_allowance: Decimal | None = Field(default=None, ge=0)
    fee_rate: Decimal = Field(default=Decimal("0.072"), ge=0, le=1)
    # >= 1 with rate <= 1 keeps every fee below what the fill pays, so no balance can go
    # negative through fees.
    fee_exponent: int = Field(default=1, ge=1, le=4)
    gtd_min_lead_s: float = Field(default=180.0, ge=0)
    gtd_expiry_early_s: float = Field(default=60.0, ge=0)
    min_notional: Decimal = Field(default=Decimal(1), ge=0)
    faults: FaultSettings = FaultSettings()

    @model_validator(mode="after")
    def _gtd_orders_can_live(self) -> Self:
        # An order placed with the minimum lead must not be expired on arrival.
        if self.gtd_min_lead_s > 0 and self.gtd_expiry_early_s >= self.gtd_min_lead_s:
            msg = (
                f"gtd_expiry_early_s ({self.gtd_expiry_early_s}) must be shorter than "
                f"gtd_min_lead_s ({self.gtd_min_lead_s})"
            )
            raise ValueError(msg)
        return self
