"""Backoff delays and the token bucket: the gateway's pacing rules."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from state.backoff import backoff_delay_s, full_bucket, retry_after_s, take_token


def test_the_delay_doubles_per_failure_until_the_cap() -> None:
    delays = [backoff_delay_s(n, base_s=0.5, cap_s=4.0, jitter=0.0, draw=0.9) for n in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@given(
    failures=st.integers(min_value=1, max_value=5000),
    base_s=st.floats(min_value=0.001, max_value=10),
    extra_cap_s=st.floats(min_value=0, max_value=100),
    jitter=st.floats(min_value=0, max_value=1),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_jittered_delay_stays_between_the_unjittered_delay_less_its_jitter_and_the_cap(
    failures, base_s, extra_cap_s, jitter, draw
) -> None:
    cap_s = base_s + extra_cap_s
    plain = backoff_delay_s(failures, base_s=base_s, cap_s=cap_s, jitter=0.0, draw=draw)
    jittered = backoff_delay_s(failures, base_s=base_s, cap_s=cap_s, jitter=jitter, draw=draw)
    assert math.isfinite(jittered)
    assert plain <= cap_s
    assert plain * (1 - jitter) - 1e-12 <= jittered <= plain


def test_zero_failures_is_a_programming_error_named_in_the_message() -> None:
    with pytest.raises(ValueError, match="failures must be >= 1, got 0"):
        backoff_delay_s(0, base_s=1, cap_s=2, jitter=0, draw=0)


def test_a_full_bucket_allows_its_burst_then_refuses() -> None:
    bucket = full_bucket(capacity=3, rate_per_s=1, now=100.0)
    taken = []
    for _ in range(4):
        bucket, ok = take_token(bucket, 100.0)
        taken.append(ok)
    assert taken == [True, True, True, False]
    assert retry_after_s(bucket, 100.0) == pytest.approx(1.0)


def test_the_bucket_refills_at_its_rate_and_never_beyond_its_capacity() -> None:
    bucket = full_bucket(capacity=2, rate_per_s=4, now=0.0)
    bucket, _ = take_token(bucket, 0.0)
    bucket, _ = take_token(bucket, 0.0)
    bucket, ok = take_token(bucket, 0.1)  # 0.4 token refilled: not enough
    assert not ok
    assert retry_after_s(bucket, 0.1) == pytest.approx(0.15)
    bucket, ok = take_token(bucket, 0.25)  # 1.0 token by now
    assert ok
    bucket, _ = take_token(bucket, 1000.0)
    assert bucket.tokens == pytest.approx(1.0)  # refilled to 2, one spent


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket = full_bucket(capacity=1, rate_per_s=1, now=10.0)
    bucket, _ = take_token(bucket, 10.0)
    bucket, ok = take_token(bucket, 5.0)
    assert not ok
    assert bucket.updated_at == 10.0
