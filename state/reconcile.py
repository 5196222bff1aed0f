"""Reconciliation rules: what the venue holds against what our journal says, as pure functions.

One pass compares the wallet's positions, the venue's open orders nobody owns, the venue's
closed positions and our open and settled positions, and returns a `Plan`:

- exchange positions no open position of ours holds are **adopted** (a position actor protects
  them with an exit plan and a stop loss that only a later fall can trigger: adoption never
  sells, invariant 6), or reported when the market cannot be read from what the venue says of
  them;
- open orders without an owner are cancelled on purpose once they have been unowned for
  `unowned_order_grace_s` (restarted positions claim theirs first; invariant 5);
- a position of ours the venue holds nothing of (a ghost) is settled only when nobody runs it
  any more and the venue confirms its market closed (a closed position of that token); a ghost
  that is still pending (an intent without an answer, a fill not final) is never stale;
- settled P&L per outcome token is audited against the venue's closed position of that token
  (the Data API closes positions token by token: a market whose losing tokens or dust are still
  held has only some of its tokens closed, so a whole market's P&L cannot be compared).

Nothing here reads a clock or does I/O; the shell (actors/reconciler.py) gathers the inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from actors.messages import Outcome, position_id, window_id
from venues.types import (
    ZERO,
    ClosedPosition,
    ConditionId,
    MarketWindow,
    OrderId,
    OrderSnapshot,
    TokenId,
    VenuePosition,
)

__all__ = [
    "ADOPTED_SUFFIX",
    "Adoption",
    "Ghost",
    "OurPosition",
    "Plan",
    "PnlMismatch",
    "ReconcileSettings",
    "Unadoptable",
    "adopted_position_id",
    "plan",
    "window_of",
]

ADOPTED_SUFFIX = "~adopted"
"""Marks the window part of an adopted position's id, so it never collides with the position a
window actor would start for the same side (`<wid>/<UP|DOWN>`)."""

_FRAMES_S = {"5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}


class ReconcileSettings(BaseModel):
    """The `reconcile:` section of the YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Seconds between passes (the first runs at start).
    interval_s: float = Field(default=60.0, gt=0)
    # Seconds an open order must have been seen without an owner before it is cancelled:
    # restarted positions claim their orders first.
    unowned_order_grace_s: float = Field(default=30.0, ge=0)
    # Settled P&L of a market may differ from the venue's by at most this much (collateral).
    audit_tolerance: Decimal = Field(default=Decimal("0.10"), ge=0)
    # Seconds between attempts while the first pass has not succeeded.
    retry_s: float = Field(default=5.0, gt=0)
    # Held shares below this are reported, not adopted: no exit plan can be placed under the
    # venue's minimum order size (5 on the Up/Down markets), and fee rounding leaves such dust.
    min_adopt_size: Decimal = Field(default=Decimal(5), ge=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class OurPosition:
    """An open (not settled) position of ours, as the journal knows it."""

    position_id: str
    token_id: TokenId
    condition_id: ConditionId
    held: Decimal  # shares by its final fills and corrections
    is_pending: bool  # an intent without an answer, or a fill not final yet
    is_running: bool  # its actor is alive


@dataclass(frozen=True, slots=True, kw_only=True)
class Adoption:
    position_id: str
    window: MarketWindow
    outcome: Outcome
    size: Decimal
    avg_price: Decimal
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unadoptable:
    held: VenuePosition
    reason: str
    # False for holdings that harm nobody (dust, tokens left over in a market we settled);
    # True for what someone must look at (a holding whose market cannot be read).
    needs_attention: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Ghost:
    position: OurPosition
    closed: ClosedPosition | None  # the venue's confirmation that its market closed
    is_settled_here: bool  # True: reconciliation settles it; False: reported and left


@dataclass(frozen=True, slots=True, kw_only=True)
class PnlMismatch:
    condition_id: ConditionId
    token_id: TokenId
    ours: Decimal
    venue: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    adopt: tuple[Adoption, ...] = ()
    unadoptable: tuple[Unadoptable, ...] = ()
    cancel: tuple[OrderSnapshot, ...] = ()
    unowned_since: Mapping[OrderId, float] | None = None
    ghosts: tuple[Ghost, ...] = ()
    mismatches: tuple[PnlMismatch, ...] = ()
    audited: tuple[TokenId, ...] = ()


def adopted_position_id(window: MarketWindow, outcome: Outcome) -> str:
    return position_id(f"{window_id(window)}{ADOPTED_SUFFIX}", outcome)


def window_of(held: VenuePosition) -> MarketWindow | None:
    """The Up/Down market of a held token, from what the Data API says of it (its slug
    `<asset>-updown-<frame>-<start>`, outcome index, opposite token and end), or None."""
    parts = held.slug.split("-")
    if len(parts) != 4 or parts[1] != "updown" or held.opposite_token is None:
        return None
    frame_s = _FRAMES_S.get(parts[2])
    if frame_s is None or not parts[3].isdigit():
        return None
    start = float(parts[3])
    up, down = (
        (held.token_id, held.opposite_token)
        if held.outcome_index == 0
        else (held.opposite_token, held.token_id)
    )
    return MarketWindow(
        asset=parts[0].upper(),
        timeframe_s=frame_s,
        start=start,
        end=held.end_date if held.end_date is not None else start + frame_s,
        condition_id=held.condition_id,
        up_token=up,
        down_token=down,
        slug=held.slug,
    )


def plan(
    *,
    now: float,
    held: Iterable[VenuePosition],
    unowned_orders: Iterable[OrderSnapshot],
    closed: Iterable[ClosedPosition],
    ours: Iterable[OurPosition],
    settled_pnl: Mapping[ConditionId, Decimal],
    settled_by_token: Mapping[TokenId, Decimal],
    unowned_since: Mapping[OrderId, float],
    audited: frozenset[TokenId],
    settings: ReconcileSettings,
    adopted_before: frozenset[str] = frozenset(),
) -> Plan:
    """One reconciliation pass (see the module docstring). `settled_pnl` is our settled P&L
    per market (the markets we settled in), `settled_by_token` the same per outcome token (the
    audit's figures), `audited` the tokens audited already. `adopted_before` are the ids of
    positions adopted earlier (settled since): shares still held there are reported, never
    adopted a second time."""
    ours = tuple(ours)
    closed = tuple(closed)
    held = tuple(held)
    adopt, unadoptable = _adoptions(held, ours, adopted_before, frozenset(settled_pnl), settings)
    cancel, since = _unowned(now, tuple(unowned_orders), unowned_since, settings)
    return Plan(
        adopt=adopt,
        unadoptable=unadoptable,
        cancel=cancel,
        unowned_since=since,
        ghosts=_ghosts(held, ours, closed),
        mismatches=_mismatches(closed, ours, settled_by_token, audited, settings),
        audited=_auditable(closed, ours, settled_by_token, audited),
    )


def _adoptions(
    held: tuple[VenuePosition, ...],
    ours: tuple[OurPosition, ...],
    adopted_before: frozenset[str],
    settled_markets: frozenset[ConditionId],
    settings: ReconcileSettings,
) -> tuple[tuple[Adoption, ...], tuple[Unadoptable, ...]]:
    known = {p.token_id for p in ours}
    adopt: list[Adoption] = []
    unadoptable: list[Unadoptable] = []
    for position in held:
        if position.size <= 0 or position.token_id in known:
            continue
        if position.size < settings.min_adopt_size:
            reason = (
                f"{position.size} of {position.token_id} is below {settings.min_adopt_size}, "
                "the least an exit plan can sell: reported, left untouched"
            )
            unadoptable.append(Unadoptable(held=position, reason=reason))
            continue
        if position.condition_id in settled_markets:
            # Our own position in this market settled: what is left is its losing tokens or a
            # balance that has not caught up with the settlement. Adopting it would count the
            # same shares, and their P&L, twice.
            reason = (
                f"{position.size} of {position.token_id} is still held after our position in "
                "its market settled (unredeemed or lagging): reported, left untouched"
            )
            unadoptable.append(Unadoptable(held=position, reason=reason))
            continue
        window = window_of(position)
        if window is None:
            reason = (
                f"cannot tell the market of {position.token_id} from slug {position.slug!r}: "
                "reported, left untouched"
            )
            unadoptable.append(Unadoptable(held=position, reason=reason, needs_attention=True))
            continue
        outcome = Outcome.UP if position.token_id == window.up_token else Outcome.DOWN
        if adopted_position_id(window, outcome) in adopted_before:
            reason = (
                f"{position.size} of {position.token_id} is still held after its adopted "
                "position settled: reported, left untouched"
            )
            unadoptable.append(Unadoptable(held=position, reason=reason))
            continue
        adopt.append(
            Adoption(
                position_id=adopted_position_id(window, outcome),
                window=window,
                outcome=outcome,
                size=position.size,
                avg_price=position.avg_price,
                reason=(
                    f"the venue holds {position.size} of {position.token_id} "
                    f"({window.slug} {outcome.value}) and no position of ours does"
                ),
            )
        )
    return tuple(adopt), tuple(unadoptable)


def _unowned(
    now: float,
    orders: tuple[OrderSnapshot, ...],
    unowned_since: Mapping[OrderId, float],
    settings: ReconcileSettings,
) -> tuple[tuple[OrderSnapshot, ...], Mapping[OrderId, float]]:
    # Only orders still unowned now are remembered: one claimed meanwhile starts afresh.
    since = {o.order_id: unowned_since.get(o.order_id, now) for o in orders}
    due = tuple(o for o in orders if now - since[o.order_id] >= settings.unowned_order_grace_s)
    return due, since


def _ghosts(
    held: tuple[VenuePosition, ...],
    ours: tuple[OurPosition, ...],
    closed: tuple[ClosedPosition, ...],
) -> tuple[Ghost, ...]:
    holding = {p.token_id for p in held if p.size > 0}
    closed_of = {c.token_id: c for c in closed}
    ghosts = []
    for position in ours:
        if position.token_id in holding or position.is_pending or position.held <= 0:
            continue
        confirmation = closed_of.get(position.token_id)
        ghosts.append(
            Ghost(
                position=position,
                closed=confirmation,
                is_settled_here=confirmation is not None and not position.is_running,
            )
        )
    return tuple(ghosts)


def _auditable(
    closed: tuple[ClosedPosition, ...],
    ours: tuple[OurPosition, ...],
    settled_by_token: Mapping[TokenId, Decimal],
    audited: frozenset[TokenId],
) -> tuple[TokenId, ...]:
    """Tokens the venue closed, whose positions of ours are all settled, not audited yet."""
    still_open = {p.token_id for p in ours}
    venue_closed = {c.token_id for c in closed}
    return tuple(
        sorted(
            t
            for t in venue_closed
            if t in settled_by_token and t not in still_open and t not in audited
        )
    )


def _mismatches(
    closed: tuple[ClosedPosition, ...],
    ours: tuple[OurPosition, ...],
    settled_by_token: Mapping[TokenId, Decimal],
    audited: frozenset[TokenId],
    settings: ReconcileSettings,
) -> tuple[PnlMismatch, ...]:
    venue: dict[TokenId, Decimal] = {}
    market: dict[TokenId, ConditionId] = {}
    for position in closed:
        venue[position.token_id] = venue.get(position.token_id, ZERO) + position.realized_pnl
        market[position.token_id] = position.condition_id
    return tuple(
        PnlMismatch(condition_id=market[t], token_id=t, ours=settled_by_token[t], venue=venue[t])
        for t in _auditable(closed, ours, settled_by_token, audited)
        if abs(settled_by_token[t] - venue[t]) > settings.audit_tolerance
    )
