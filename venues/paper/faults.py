"""Fault knobs for the paper exchange, and the seeded machinery that injects them.

Every knob is off by default, so a default paper exchange is a well-behaved venue. Each knob
reproduces a failure the live venue really has (polymarket_api.md 7.7, 8, 9.4):

- `latency_s`: placements take effect this much clock time later; marketable orders answer
  `delayed` meanwhile (resting ones `live`). Cancels and reads are immediate.
- `reject_rates`: per error kind (`venues.errors` `kind`, e.g. `server_error`), the probability
  that a placement is refused with that error. Retryable kinds also hit cancels. An injected
  `timeout` is the worst case a timeout can be: the request DID take effect, only the answer
  was lost, so blind resubmission duplicates the order (invariant 2).
- `cancel_not_found`: cancelling an order that is already gone raises `OrderNotFound` (the
  live "404 on cancel") instead of landing in `not_canceled`.
- `user_stream` / `market_stream`: rates of dropped, duplicated and reordered messages (a
  reordered message is held back and delivered right after the next one).
- `balance_lag_s`: `balance`/`refresh_balance`, and the balance checks of new orders, see each
  fill only this long after it happened (the "not enough balance right after a fill" race).
  A lagging balance can only refuse more, never allow spending money that is not there.
- `confirmation_delay_s`: a trade goes MATCHED -> MINED (half way) -> CONFIRMED this much later;
  what the trade pays out is credited at CONFIRMED.
- `trade_failure_rate`: a trade goes MATCHED -> RETRYING -> FAILED instead, and is rolled back.
- `maintenance_windows` / `maintenance_every`: order endpoints raise `Maintenance` (HTTP 425)
  inside a window; for `post_only_after_maintenance_s` after it, only post-only orders and
  cancels are accepted (the venue's post-only mode).

Randomness comes from one `random.Random` per knob, seeded from `seed` and the knob's name: a
run is reproducible, and dialling one knob in does not change the draws of another.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from venues.errors import ERRORS_BY_KIND, Maintenance, RetryableError, VenueError

__all__ = [
    "INJECTABLE_KINDS",
    "FaultInjector",
    "FaultSettings",
    "PeriodicMaintenance",
    "StreamFaultSettings",
    "StreamMangler",
]

INJECTABLE_KINDS: frozenset[str] = frozenset(
    kind for kind in ERRORS_BY_KIND if kind not in {"retryable", "order_not_found"}
)
"""Kinds `reject_rates` accepts. Not-found is `cancel_not_found`'s business."""

E = TypeVar("E")

POST_ONLY_MODE_TEXT = "post-only mode: only post-only orders and cancels are allowed"


class _Frozen(BaseModel):
    # allow_inf_nan=False: `.inf` or `.nan` in YAML would pass every bound silently.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StreamFaultSettings(_Frozen):
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    reorder_rate: float = Field(default=0.0, ge=0, le=1)


class PeriodicMaintenance(_Frozen):
    """A window of `duration_s` every `period_s`, starting `offset_s` after the epoch.

    The weekly matching-engine restart (Tuesday 07:00 ET, ~90 s) is period 604800, duration 90,
    offset 471600 (Tuesday 11:00 UTC; the epoch began on a Thursday) in summer time.
    """

    period_s: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    offset_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _window_fits_its_period(self) -> Self:
        if self.duration_s >= self.period_s:
            msg = f"duration_s ({self.duration_s}) must be shorter than period_s ({self.period_s})"
            raise ValueError(msg)
        return self


class FaultSettings(_Frozen):
    """The paper exchange's fault knobs; see the module docstring. All off by default."""

    seed: int = 0
    latency_s: float = Field(default=0.0, ge=0)
    reject_rates: Mapping[str, float] = Field(default_factory=dict)
    cancel_not_found: bool = False
    user_stream: StreamFaultSettings = StreamFaultSettings()
    market_stream: StreamFaultSettings = StreamFaultSettings()
    balance_lag_s: float = Field(default=0.0, ge=0)
    confirmation_delay_s: float = Field(default=0.0, ge=0)
    trade_failure_rate: float = Field(default=0.0, ge=0, le=1)
    maintenance_windows: tuple[tuple[float, float], ...] = ()
    maintenance_every: PeriodicMaintenance | None = None
    post_only_after_maintenance_s: float = Field(default=0.0, ge=0)

    @field_validator("reject_rates")
    @classmethod
    def _known_kinds_and_probabilities(cls, rates: Mapping[str, float]) -> Mapping[str, float]:
        for kind, rate in rates.items():
            if kind not in INJECTABLE_KINDS:
                known = ", ".join(sorted(INJECTABLE_KINDS))
                msg = f"reject_rates has unknown error kind {kind!r}; known kinds: {known}"
                raise ValueError(msg)
            if not 0 <= rate <= 1:
                msg = f"reject_rates[{kind!r}] must be a probability in [0, 1], got {rate}"
                raise ValueError(msg)
        return dict(sorted(rates.items()))

    @field_validator("maintenance_windows")
    @classmethod
    def _windows_end_after_they_start(
        cls, windows: tuple[tuple[float, float], ...]
    ) -> tuple[tuple[float, float], ...]:
        for start, end in windows:
            if end <= start:
                msg = f"maintenance window ({start}, {end}) must end after it starts"
                raise ValueError(msg)
        return windows


class FaultInjector:
    """Draws the faults of one `FaultSettings`: which request fails, and when the venue is down."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rngs: dict[str, random.Random] = {}

    def chance(self, knob: str, rate: float) -> bool:
        """True with probability `rate`, drawn from `knob`'s own generator; never draws at 0."""
        if rate <= 0:
            return False
        rng = self._rngs.get(knob)
        if rng is None:
            rng = self._rngs[knob] = random.Random(f"{self.settings.seed}:{knob}")
        return rng.random() < rate

    def injected_error(
        self, *, which: Literal["any", "retryable", "rejected"]
    ) -> VenueError | None:
        """The error `reject_rates` refuses a request with, if any, among the kinds `which`
        selects (a batch fails as a whole only for retryable kinds, per leg for the others)."""
        for kind, rate in self.settings.reject_rates.items():
            error_class = ERRORS_BY_KIND[kind]
            is_retryable = issubclass(error_class, RetryableError)
            if (which == "retryable" and not is_retryable) or (
                which == "rejected" and is_retryable
            ):
                continue
            if self.chance(f"reject:{kind}", rate):
                return error_class(rule="injected_fault", value=kind)
        return None

    def maintenance_error(self, now: float, *, is_post_only_placement: bool) -> Maintenance | None:
        """`Maintenance` when an order endpoint is down at `now`. Cancels pass
        `is_post_only_placement=True`: like post-only orders they are allowed in post-only mode."""
        since_end = self._seconds_since_maintenance_ended(now)
        if since_end is not None and since_end < 0:
            return Maintenance(rule="maintenance", value=now)
        post_only_s = self.settings.post_only_after_maintenance_s
        if not is_post_only_placement and since_end is not None and since_end < post_only_s:
            return Maintenance(rule="post_only_mode", value=now, detail=POST_ONLY_MODE_TEXT)
        return None

    def _seconds_since_maintenance_ended(self, now: float) -> float | None:
        """Negative inside a window; otherwise seconds since the latest window ended, if any."""
        candidates: list[float] = []
        for start, end in self.settings.maintenance_windows:
            if start <= now:
                candidates.append(now - end)
        periodic = self.settings.maintenance_every
        if periodic is not None and now >= periodic.offset_s:
            phase = (now - periodic.offset_s) % periodic.period_s
            candidates.append(phase - periodic.duration_s)
        if not candidates:
            return None
        inside = [since for since in candidates if since < 0]
        return min(inside) if inside else min(candidates)


class StreamMangler(Generic[E]):
    """Delivers one stream's messages to `sink`, dropping, duplicating and reordering them
    at the configured rates. A held-back message goes out right after the next one, or at
    `flush` when no next one comes."""

    def __init__(
        self,
        name: str,
        settings: StreamFaultSettings,
        injector: FaultInjector,
        sink: Callable[[E], None],
    ) -> None:
        self._name = name
        self._settings = settings
        self._injector = injector
        self._sink = sink
        self._held: E | None = None

    def publish(self, message: E) -> None:
        settings = self._settings
        if self._injector.chance(f"{self._name}:drop", settings.drop_rate):
            return
        copies = (
            2 if self._injector.chance(f"{self._name}:duplicate", settings.duplicate_rate) else 1
        )
        if self._held is None and self._injector.chance(
            f"{self._name}:reorder", settings.reorder_rate
        ):
            self._held = message
            return
        for _ in range(copies):
            self._sink(message)
        self.flush()

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._sink(held)
