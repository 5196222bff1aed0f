"""How many shares to buy: fractional Kelly on the edge, truncated, on the venue's grid.

Buying a binary share at price q that pays 1 with probability p, the Kelly fraction of the
bankroll to stake is (p - q) / (1 - q); the strategy stakes `kelly_fraction` (0.25) of it. Risk
clips the amount afterwards (per-position, window, asset and aggregate caps). Sizes are
truncated to 2 decimals and never rounded up (invariant 11); prices stay on the tick grid.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from strategy.settings import StrategySettings

__all__ = [
    "CENT",
    "SHARE_PLACES",
    "entry_size",
    "kelly_fraction",
    "kelly_stake",
    "price_on_tick",
    "shares_for",
    "truncate_shares",
]

SHARE_PLACES = Decimal("0.01")
CENT = Decimal("0.01")


def truncate_shares(size: Decimal) -> Decimal:
    """Shares truncated to 2 decimals (never up)."""
    return size.quantize(SHARE_PLACES, rounding=ROUND_DOWN)


def price_on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """`price` on the tick grid, rounded down: a buy never bids above the price it was given."""
    if tick <= 0:
        msg = f"tick must be positive, got {tick}"
        raise ValueError(msg)
    return ((price / tick).to_integral_value(rounding=ROUND_DOWN) * tick).quantize(tick)


def kelly_fraction(*, win_probability: Decimal, price: Decimal) -> Decimal:
    """Full Kelly fraction of the bankroll for one share at `price`; 0 without an edge."""
    if not 0 < price < 1:
        msg = f"a share price must be in (0, 1), got {price}"
        raise ValueError(msg)
    if not 0 <= win_probability <= 1:
        msg = f"win_probability must be in [0, 1], got {win_probability}"
        raise ValueError(msg)
    edge = win_probability - price
    if edge <= 0:
        return Decimal(0)
    return edge / (1 - price)


def kelly_stake(
    *, win_probability: Decimal, price: Decimal, bankroll: Decimal, fraction: Decimal
) -> Decimal:
    """Collateral to stake, in whole cents, rounded down."""
    if bankroll <= 0:
        return Decimal(0)
    full = kelly_fraction(win_probability=win_probability, price=price)
    return (bankroll * fraction * full).quantize(CENT, rounding=ROUND_DOWN)


def shares_for(*, amount: Decimal, price: Decimal) -> Decimal:
    """Shares that `amount` of collateral buys at `price`, truncated."""
    if price <= 0:
        msg = f"price must be positive, got {price}"
        raise ValueError(msg)
    return truncate_shares(amount / price)


def entry_size(
    *,
    win_probability: Decimal,
    price: Decimal,
    bankroll: Decimal,
    min_size: Decimal,
    settings: StrategySettings,
    max_stake: Decimal | None = None,
) -> Decimal:
    """Shares to buy at `price`; 0 when the stake buys fewer than `min_size` shares.

    The stake is the Kelly stake, capped at `max_stake` (collateral) when given."""
    stake = kelly_stake(
        win_probability=win_probability,
        price=price,
        bankroll=bankroll,
        fraction=settings.kelly_fraction,
    )
    if max_stake is not None:
        stake = min(stake, max_stake)
    size = shares_for(amount=stake, price=price)
    return size if size >= min_size else Decimal(0)
