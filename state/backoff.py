"""Pacing rules of the venue gateway: capped exponential backoff with jitter, and a token bucket.

Pure: the time and the random draw are arguments, so the rules are tested without a clock and a
run is reproducible from its seed. The gateway keeps the values and calls these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["TokenBucket", "backoff_delay_s", "full_bucket", "retry_after_s", "take_token"]


def backoff_delay_s(
    failures: int, *, base_s: float, cap_s: float, jitter: float, draw: float
) -> float:
    """How long to hold off after `failures` consecutive failures (1 = the first).

    The delay doubles per failure from `base_s` up to `cap_s`, then loses up to a `jitter`
    fraction of itself (`draw` in [0, 1) picks how much), so that many clients that failed
    together do not all come back at the same instant.

    Args:
        failures: consecutive failures so far, >= 1.
        base_s: the delay after the first failure, before jitter.
        cap_s: the largest delay, before jitter.
        jitter: the fraction of the delay that is random, in [0, 1].
        draw: a uniform random number in [0, 1).
    """
    if failures < 1:
        msg = f"failures must be >= 1, got {failures!r}"
        raise ValueError(msg)
    # min() before the power would overflow a float after ~1000 failures.
    exponent = min(failures - 1, 62)
    delay = min(cap_s, base_s * float(2**exponent))
    return delay * (1.0 - jitter * draw)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenBucket:
    """`tokens` requests may be sent now; tokens refill at `rate_per_s` up to `capacity`."""

    capacity: float
    rate_per_s: float
    tokens: float
    updated_at: float


def full_bucket(*, capacity: float, rate_per_s: float, now: float) -> TokenBucket:
    return TokenBucket(capacity=capacity, rate_per_s=rate_per_s, tokens=capacity, updated_at=now)


def _refilled(bucket: TokenBucket, now: float) -> TokenBucket:
    elapsed = max(0.0, now - bucket.updated_at)  # a clock that steps back refills nothing
    tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.rate_per_s)
    return replace(bucket, tokens=tokens, updated_at=max(now, bucket.updated_at))


def take_token(bucket: TokenBucket, now: float) -> tuple[TokenBucket, bool]:
    """Spend one token if there is one. Returns the new bucket and whether a token was spent."""
    refilled = _refilled(bucket, now)
    if refilled.tokens >= 1.0:
        return replace(refilled, tokens=refilled.tokens - 1.0), True
    return refilled, False


def retry_after_s(bucket: TokenBucket, now: float) -> float:
    """Seconds until the next token is available (0 when one is available now)."""
    refilled = _refilled(bucket, now)
    missing = 1.0 - refilled.tokens
    return 0.0 if missing <= 0 else missing / bucket.rate_per_s
