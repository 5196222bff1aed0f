"""Reconciliation rules, as pure functions of the venue's view and ours."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Outcome
from state.reconcile import (
    ADOPTED_SUFFIX,
    OurPosition,
    ReconcileSettings,
    plan,
    window_of,
)
from venues.types import (
    ClosedPosition,
    ConditionId,
    OrderId,
    OrderSnapshot,
    OrderType,
    Side,
    TokenId,
    VenuePosition,
)

MARKET = ConditionId("0xmarket")
UP, DOWN = TokenId("up-token"), TokenId("down-token")
SETTINGS = ReconcileSettings(unowned_order_grace_s=30.0)


def _held(
    token: TokenId = UP, size: str = "12", slug: str = "btc-updown-15m-1795275000"
) -> VenuePosition:
    return VenuePosition(
        condition_id=MARKET,
        token_id=token,
        size=Decimal(size),
        avg_price=Decimal("0.40"),
        redeemable=False,
        outcome="Up" if token == UP else "Down",
        outcome_index=0 if token == UP else 1,
        opposite_token=DOWN if token == UP else UP,
        slug=slug,
        end_date=1_795_275_900.0,
    )


def _ours(
    token: TokenId = UP, *, held: str = "10", pending: bool = False, running: bool = True
) -> OurPosition:
    return OurPosition(
        position_id="BTC-15m-2026-11-21T15:30Z/UP",
        token_id=token,
        condition_id=MARKET,
        held=Decimal(held),
        is_pending=pending,
        is_running=running,
    )


def _order(order_id: str) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=OrderId(order_id),
        client_id=None,
        condition_id=MARKET,
        token_id=UP,
        side=Side.SELL,
        price=Decimal("0.99"),
        original_size=Decimal(10),
        size_matched=Decimal(0),
        order_type=OrderType.GTC,
        status="LIVE",
        created_at=0.0,
    )


def _closed(pnl: str, token: TokenId = UP) -> ClosedPosition:
    return ClosedPosition(
        condition_id=MARKET,
        token_id=token,
        size=Decimal(10),
        avg_price=Decimal("0.5"),
        realized_pnl=Decimal(pnl),
    )


def _plan(**given: object):  # type: ignore[no-untyped-def]
    inputs: dict[str, object] = {
        "now": 1000.0,
        "held": (),
        "unowned_orders": (),
        "closed": (),
        "ours": (),
        "settled_pnl": {},
        "settled_by_token": {},
        "unowned_since": {},
        "audited": frozenset(),
        "settings": SETTINGS,
    }
    inputs.update(given)
    return plan(**inputs)  # type: ignore[arg-type]


def test_a_held_token_no_position_of_ours_holds_is_adopted_with_its_market() -> None:
    decided = _plan(held=(_held(DOWN),))
    (adoption,) = decided.adopt
    assert adoption.outcome is Outcome.DOWN
    assert (adoption.size, adoption.avg_price) == (Decimal(12), Decimal("0.40"))
    assert (adoption.window.up_token, adoption.window.down_token) == (UP, DOWN)
    assert (adoption.window.asset, adoption.window.timeframe_s) == ("BTC", 900)
    assert adoption.window.start == 1_795_275_000.0
    assert ADOPTED_SUFFIX in adoption.position_id
    assert adoption.position_id.endswith("/DOWN")


def test_a_token_we_hold_a_position_in_is_not_adopted_even_if_sizes_differ() -> None:
    assert _plan(held=(_held(UP, "50"),), ours=(_ours(UP, held="10"),)).adopt == ()


def test_a_market_the_slug_does_not_name_is_reported_not_touched() -> None:
    decided = _plan(held=(_held(slug="will-btc-hit-100k"),))
    assert decided.adopt == ()
    (reported,) = decided.unadoptable
    assert "will-btc-hit-100k" in reported.reason
    assert reported.needs_attention


def test_tokens_left_in_a_market_whose_position_of_ours_settled_are_not_adopted_again() -> None:
    # A paper run adopted the losing tokens of its own settled position and counted their
    # P&L twice (the settlement audit saw ours at exactly twice the venue's).
    decided = _plan(held=(_held(DOWN),), settled_pnl={MARKET: Decimal("-12.4989")})
    assert decided.adopt == ()
    (reported,) = decided.unadoptable
    assert "settled" in reported.reason
    assert not reported.needs_attention


def test_an_unowned_order_is_cancelled_only_after_the_grace() -> None:
    first = _plan(now=1000.0, unowned_orders=(_order("a"),))
    assert first.cancel == ()
    assert first.unowned_since == {OrderId("a"): 1000.0}
    early = _plan(now=1029.0, unowned_orders=(_order("a"),), unowned_since=first.unowned_since)
    assert early.cancel == ()
    due = _plan(now=1030.0, unowned_orders=(_order("a"),), unowned_since=first.unowned_since)
    assert [o.order_id for o in due.cancel] == ["a"]


def test_an_order_claimed_meanwhile_is_forgotten_and_starts_afresh_if_unowned_again() -> None:
    claimed = _plan(now=1020.0, unowned_orders=(), unowned_since={OrderId("a"): 1000.0})
    assert claimed.unowned_since == {}
    again = _plan(now=1040.0, unowned_orders=(_order("a"),), unowned_since=claimed.unowned_since)
    assert again.cancel == ()


def test_a_pending_position_the_venue_holds_nothing_of_is_never_a_ghost() -> None:
    assert _plan(ours=(_ours(pending=True, running=False),), closed=(_closed("1"),)).ghosts == ()


def test_a_ghost_is_settled_only_once_the_venue_closed_its_market_and_nobody_runs_it() -> None:
    unconfirmed = _plan(ours=(_ours(running=False),))
    (ghost,) = unconfirmed.ghosts
    assert not ghost.is_settled_here
    running = _plan(ours=(_ours(running=True),), closed=(_closed("2"),))
    assert not running.ghosts[0].is_settled_here
    confirmed = _plan(ours=(_ours(running=False),), closed=(_closed("2"),))
    assert confirmed.ghosts[0].is_settled_here
    assert confirmed.ghosts[0].closed == _closed("2")


def test_a_position_the_venue_still_holds_is_no_ghost() -> None:
    assert _plan(held=(_held(UP),), ours=(_ours(UP),)).ghosts == ()


def test_settled_pnl_more_than_the_tolerance_off_the_venues_is_a_mismatch_once() -> None:
    decided = _plan(closed=(_closed("1.00"),), settled_by_token={UP: Decimal("1.11")})
    (mismatch,) = decided.mismatches
    assert (mismatch.condition_id, mismatch.token_id) == (MARKET, UP)
    assert (mismatch.ours, mismatch.venue) == (Decimal("1.11"), Decimal("1.00"))
    assert decided.audited == (UP,)
    again = _plan(
        closed=(_closed("1.00"),),
        settled_by_token={UP: Decimal("1.11")},
        audited=frozenset(decided.audited),
    )
    assert again.mismatches == ()


def test_a_market_the_venue_closed_only_in_part_is_audited_token_by_token() -> None:
    # We sold UP at 0.99 (+8.59) and lost on DOWN (-17.31). The venue closed UP; it still
    # lists the losing DOWN tokens as held (never sold, not redeemed), so its closed positions
    # of the market add up to +8.59 while ours add up to -8.72: not a disagreement.
    decided = _plan(
        closed=(_closed("8.59", UP),),
        settled_pnl={MARKET: Decimal("-8.72")},
        settled_by_token={UP: Decimal("8.59"), DOWN: Decimal("-17.31")},
    )
    assert decided.mismatches == ()
    assert decided.audited == (UP,)
    later = _plan(
        closed=(_closed("8.59", UP), _closed("-17.31", DOWN)),
        settled_by_token={UP: Decimal("8.59"), DOWN: Decimal("-17.31")},
        audited=frozenset(decided.audited),
    )
    assert later.mismatches == ()
    assert later.audited == (DOWN,)


def test_a_token_with_a_position_still_open_is_not_audited_yet() -> None:
    decided = _plan(
        closed=(_closed("1.00"),), settled_by_token={UP: Decimal(5)}, ours=(_ours(UP, held="0"),)
    )
    assert decided.mismatches == ()
    assert decided.audited == ()
    other_side_open = _plan(
        closed=(_closed("1.00"),), settled_by_token={UP: Decimal(1)}, ours=(_ours(DOWN),)
    )
    assert other_side_open.audited == (UP,)


@given(
    ours=st.decimals(min_value=-50, max_value=50, places=2),
    venue=st.decimals(min_value=-50, max_value=50, places=2),
)
def test_the_audit_alerts_exactly_above_ten_cents(ours: Decimal, venue: Decimal) -> None:
    decided = _plan(closed=(_closed(str(venue)),), settled_by_token={UP: ours})
    assert bool(decided.mismatches) == (abs(ours - venue) > Decimal("0.10"))


def test_the_window_of_a_position_needs_the_opposite_token() -> None:
    held = _held()
    assert window_of(held) is not None
    from dataclasses import replace

    assert window_of(replace(held, opposite_token=None)) is None
