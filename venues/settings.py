"""The venue gateway's pacing and retry thresholds: the `venue:` section of the YAML.

Here rather than beside the gateway actor so that loading a config imports no actor code.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["VenueSettings"]


class VenueSettings(BaseModel):
    """The gateway's pacing and retry thresholds (the `venue:` section of the YAML)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Client-side token bucket for placements. Polymarket allows far more (POST /order: 3500
    # per 10 s burst, 36000 per 10 min), so this only stops a runaway loop of ours.
    orders_per_second: float = Field(default=10.0, gt=0)
    order_burst: int = Field(default=20, ge=1)
    # Attempts of one placement inside its ask (first try included); see the module docstring.
    place_attempts: int = Field(default=3, ge=1, le=10)
    # Attempts of one cancel or read (idempotent, so retried blindly).
    query_attempts: int = Field(default=3, ge=1, le=10)
    # Placements are held off after a placement failed for good: base * 2^(n-1), capped, minus
    # up to `backoff_jitter` of it at random.
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_cap_s: float = Field(default=30.0, gt=0)
    backoff_jitter: float = Field(default=0.5, ge=0, le=1)
    seed: int = 0
    # User events of orders whose owner is not known yet are kept (and counted) up to this
    # many, and delivered when the owner becomes known.
    max_parked_events: int = Field(default=1000, ge=0)

    @model_validator(mode="after")
    def _cap_is_not_below_base(self) -> Self:
        if self.backoff_cap_s < self.backoff_base_s:
            msg = (
                f"backoff_cap_s ({self.backoff_cap_s}) must be >= backoff_base_s "
                f"({self.backoff_base_s})"
            )
            raise ValueError(msg)
        return self
