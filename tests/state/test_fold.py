"""rebuild: the fold that turns an actor's stream back into its state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from state.fold import rebuild


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    size: Decimal = Decimal(0)
    last_price: Decimal | None = None
    fills: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    price: Decimal
    size: Decimal


def evolve(state: Holding, fill: Fill) -> Holding:
    return replace(state, size=state.size + fill.size, last_price=fill.price, fills=state.fills + 1)


def test_an_empty_stream_rebuilds_the_initial_state() -> None:
    initial = Holding()
    assert rebuild([], initial, evolve) is initial


def test_events_are_applied_in_order() -> None:
    fills = [
        Fill(price=Decimal("0.4"), size=Decimal(5)),
        Fill(price=Decimal("0.6"), size=Decimal(2)),
    ]
    assert rebuild(fills, Holding(), evolve) == Holding(
        size=Decimal(7), last_price=Decimal("0.6"), fills=2
    )
    assert rebuild(reversed(fills), Holding(), evolve).last_price == Decimal("0.4")


def test_rebuild_accepts_a_one_shot_iterator() -> None:
    stream = iter([Fill(price=Decimal("0.5"), size=Decimal(1))] * 3)
    assert rebuild(stream, Holding(), evolve).fills == 3


@given(st.lists(st.decimals(min_value=0, max_value=100, places=2), max_size=20), st.integers(0, 20))
def test_rebuilding_a_prefix_then_the_rest_equals_rebuilding_everything(
    sizes: list[Decimal], split: int
) -> None:
    # What a restarted actor relies on: state after N events, folded further, is the same state.
    fills = [Fill(price=Decimal("0.5"), size=s) for s in sizes]
    halfway = rebuild(fills[:split], Holding(), evolve)
    assert rebuild(fills[split:], halfway, evolve) == rebuild(fills, Holding(), evolve)
