"""Settings of the simulated market (the `sim:` section of the YAML config), validated.

Every knob has a realistic default, so `SimSettings()` is a market that looks like Polymarket's
15-minute crypto windows. Validation errors name the offending key and value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from venues.types import timeframe_label

__all__ = ["ALLOWED_TICK_SIZES", "SimAsset", "SimBookShape", "SimSettings", "timeframe_label"]

# Polymarket's CLOB accepts these tick sizes (reference/polymarket_api.md, `TickSize`).
ALLOWED_TICK_SIZES = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.001", "0.0001"))

_SECONDS_PER_DAY = 86_400


class SimAsset(BaseModel):
    """One asset's reference price: a log random walk with occasional jumps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    start_price: Decimal = Field(gt=0)
    # Annualised volatility of the diffusion part (0.5 = 50 %/year); 0 freezes the price.
    annual_volatility: float = Field(ge=0, le=5)
    jumps_per_hour: float = Field(default=1.0, ge=0, le=3600)
    # Standard deviation of one jump's log-return (0.002 = 0.2 %).
    jump_size: float = Field(default=0.002, ge=0, le=0.5)
    # Decimals of the published price (the resolution compares published prices).
    price_decimals: int = Field(default=2, ge=0, le=8)


DEFAULT_ASSETS: tuple[SimAsset, ...] = (
    SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.50, jump_size=0.002),
    SimAsset(symbol="ETH", start_price=Decimal(3_300), annual_volatility=0.65, jump_size=0.003),
    SimAsset(
        symbol="SOL",
        start_price=Decimal(190),
        annual_volatility=0.85,
        jump_size=0.004,
        price_decimals=3,
    ),
    SimAsset(
        symbol="XRP",
        start_price=Decimal("2.3"),
        annual_volatility=0.80,
        jump_size=0.004,
        price_decimals=4,
    ),
)


class SimBookShape(BaseModel):
    """How each window's order books look and move."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spread_ticks: int = Field(default=1, ge=1, le=20)
    levels: int = Field(default=8, ge=1, le=50)  # per side
    depth_per_level: Decimal = Field(default=Decimal(250), gt=0)  # mean shares at the best level
    depth_growth: float = Field(default=0.25, ge=0, le=10)  # each level further out holds more
    depth_noise: float = Field(default=0.5, ge=0, le=3)  # log-normal spread of level sizes
    depth_refresh_per_s: float = Field(default=0.05, ge=0, le=100)  # per level: size re-drawn
    # Standard deviation of the quoted mid around the lagged fair value, in probability at 0.5
    # (scaled down towards 0 and 1, where a cent is a lot).
    mid_noise: float = Field(default=0.01, ge=0, le=0.2)
    noise_memory_s: float = Field(default=10.0, gt=0)  # how long a noise excursion persists
    mid_lag_s: float = Field(default=3.0, ge=0)  # the book follows the fair value this slowly
    trades_per_minute: float = Field(default=12.0, ge=0, le=6000)  # per window, both tokens
    trade_size_mean: Decimal = Field(default=Decimal(30), gt=0)  # shares


class SimSettings(BaseModel):
    """The whole simulated market."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    assets: tuple[SimAsset, ...] = Field(default=DEFAULT_ASSETS, min_length=1)
    timeframes_s: tuple[int, ...] = Field(default=(900,), min_length=1)
    listing_lead_s: float = Field(default=300.0, ge=0)
    step_s: float = Field(default=1.0, gt=0, le=60)
    resolution_delay_s: float = Field(default=30.0, ge=0)
    book: SimBookShape = SimBookShape()
    tick_size: Decimal = Decimal("0.01")
    fine_tick_size: Decimal = Decimal("0.001")
    # The tick tightens when the book's mid goes above `fine_tick_above` (or below 1 - it) and
    # widens again once the mid is back within [1 - coarse_tick_within, coarse_tick_within];
    # the gap between the two keeps it from flapping.
    fine_tick_above: float = 0.96
    coarse_tick_within: float = 0.94
    min_order_size: Decimal = Field(default=Decimal(5), gt=0)

    @field_validator("assets")
    @classmethod
    def _symbols_are_unique(cls, assets: tuple[SimAsset, ...]) -> tuple[SimAsset, ...]:
        symbols = [a.symbol for a in assets]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            msg = f"assets: symbol listed twice: {', '.join(duplicates)}"
            raise ValueError(msg)
        return assets

    @field_validator("timeframes_s")
    @classmethod
    def _timeframes_are_whole_minutes(cls, timeframes: tuple[int, ...]) -> tuple[int, ...]:
        for timeframe in timeframes:
            if timeframe < 60 or timeframe > _SECONDS_PER_DAY or timeframe % 60:
                msg = (
                    f"timeframes_s: {timeframe} is not a whole number of minutes "
                    f"between 60 and {_SECONDS_PER_DAY} seconds"
                )
                raise ValueError(msg)
        if len(set(timeframes)) != len(timeframes):
            msg = f"timeframes_s: a timeframe is listed twice in {list(timeframes)}"
            raise ValueError(msg)
        return timeframes

    @field_validator("tick_size", "fine_tick_size")
    @classmethod
    def _tick_is_allowed(cls, tick: Decimal) -> Decimal:
        if tick not in ALLOWED_TICK_SIZES:
            allowed = ", ".join(str(t) for t in sorted(ALLOWED_TICK_SIZES))
            msg = f"tick size {tick} is not one Polymarket uses ({allowed})"
            raise ValueError(msg)
        return tick

    @model_validator(mode="after")
    def _settings_are_consistent(self) -> Self:
        for timeframe in self.timeframes_s:
            steps = timeframe / self.step_s
            if abs(steps - round(steps)) > 1e-9:
                msg = (
                    f"step_s={self.step_s} must divide every timeframe in timeframes_s "
                    f"(not {timeframe}), so windows open and close exactly on a step"
                )
                raise ValueError(msg)
        if self.fine_tick_size >= self.tick_size:
            msg = (
                f"fine_tick_size={self.fine_tick_size} must be smaller than "
                f"tick_size={self.tick_size}"
            )
            raise ValueError(msg)
        if not 0.5 < self.coarse_tick_within < self.fine_tick_above < 1:
            msg = (
                f"need 0.5 < coarse_tick_within ({self.coarse_tick_within}) < "
                f"fine_tick_above ({self.fine_tick_above}) < 1"
            )
            raise ValueError(msg)
        if self.book.spread_ticks * self.tick_size >= Decimal("0.5"):
            msg = (
                f"book.spread_ticks={self.book.spread_ticks} at tick_size={self.tick_size} "
                "leaves no room for a two-sided book"
            )
            raise ValueError(msg)
        return self
