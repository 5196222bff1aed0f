"""Window identity: alignment, slugs and ids that are the same in every run."""

from decimal import Decimal

import pytest

from venues.sim.windows import make_window, window_start

START = 1_767_225_600  # 2026-01-01T00:00:00Z, a multiple of every timeframe


def _window(asset="BTC", timeframe_s=900, start=START):
    return make_window(
        asset=asset,
        timeframe_s=timeframe_s,
        start=start,
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
    )


@pytest.mark.parametrize("timeframe_s", [300, 900, 3600])
def test_a_window_starts_at_the_last_multiple_of_its_length(timeframe_s):
    assert window_start(START, timeframe_s) == START
    assert window_start(START + timeframe_s - 0.5, timeframe_s) == START
    assert window_start(START + timeframe_s, timeframe_s) == START + timeframe_s
    assert window_start(START + 123.25, timeframe_s) == START


@pytest.mark.parametrize(
    ("timeframe_s", "slug"),
    [
        (300, f"btc-updown-5m-{START}"),
        (900, f"btc-updown-15m-{START}"),
        (3600, f"btc-updown-1h-{START}"),
    ],
)
def test_a_window_spans_its_timeframe_under_a_polymarket_slug(timeframe_s, slug):
    window = _window(timeframe_s=timeframe_s)
    assert window.slug == slug
    assert window.end - window.start == timeframe_s
    assert window.start == START


def test_ids_are_stable_across_runs_and_processes():
    # Golden values: they change only if the derivation does, which would orphan journals.
    window = _window()
    assert window.condition_id == (
        "0xb08e522e6862bd01ec6fc80375d5b67c798bf38c96ee9fed670190a7b0877244"
    )
    assert window.up_token == (
        "89837422872002261542900462692576419988306027237729321139624629546902164729267"
    )


def test_ids_look_like_polymarkets_and_differ_per_window_and_outcome():
    window = _window()
    assert window.condition_id.startswith("0x")
    assert len(window.condition_id) == 66
    int(window.condition_id, 16)
    assert window.up_token.isdigit()
    assert window.down_token.isdigit()
    assert window.up_token != window.down_token
    others = [_window(asset="ETH"), _window(timeframe_s=300), _window(start=START + 900)]
    assert len({w.condition_id for w in [window, *others]}) == 4


def test_a_misaligned_start_is_refused_naming_it():
    with pytest.raises(
        ValueError, match="window start 1767225660 is not a multiple of its timeframe 900"
    ):
        _window(start=START + 60)
