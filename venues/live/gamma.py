"""Discovery of Up-or-Down windows on Gamma, by slug.

Up-or-Down slugs are `{asset}-updown-{timeframe}-{window start}` (polymarket_api.md 5), so the
windows worth looking at can be named ahead of time: every window of the configured assets and
timeframes that starts within the look-ahead. `window_slugs` is that plan (pure);
`GammaDiscovery` asks Gamma for the slugs it has not found yet and remembers the ones it has.
A market Gamma lists before the CLOB has hydrated it (token ids still empty) is asked for again
at the next poll, not dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from venues.live.http import get_json
from venues.live.wire import WireError, parse_gamma_market, up_down_window
from venues.types import ConditionId, MarketResolved, MarketWindow, timeframe_label

__all__ = ["DiscoveryPoll", "GammaDiscovery", "window_slugs"]

ONE = Decimal(1)


def window_slugs(
    assets: Iterable[str], timeframes_s: Iterable[int], now: float, lookahead_s: float
) -> tuple[str, ...]:
    """The slugs of every window running at `now` or starting within `lookahead_s`."""
    slugs: list[str] = []
    for timeframe_s in timeframes_s:
        first = math.floor(now / timeframe_s) * timeframe_s
        last = math.floor((now + lookahead_s) / timeframe_s) * timeframe_s
        label = timeframe_label(timeframe_s)
        for start in range(first, last + 1, timeframe_s):
            slugs.extend(f"{asset.lower()}-updown-{label}-{start}" for asset in assets)
    return tuple(slugs)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryPoll:
    """What one poll found: new windows, slugs to ask again (unlisted or not hydrated), and
    slugs whose answer could not be read (counted, asked again)."""

    found: tuple[MarketWindow, ...]
    pending: tuple[str, ...]
    malformed: tuple[str, ...]


class GammaDiscovery:
    """Finds the configured windows on Gamma. Not thread-safe: one actor owns it."""

    def __init__(
        self,
        gamma_host: str,
        *,
        assets: tuple[str, ...],
        timeframes_s: tuple[int, ...],
        lookahead_s: float,
        timeout_s: float,
    ) -> None:
        self._host = gamma_host
        self._assets = assets
        self._timeframes_s = timeframes_s
        self._lookahead_s = lookahead_s
        self._timeout_s = timeout_s
        self._found: dict[str, MarketWindow] = {}
        self._versions: dict[ConditionId, str] = {}

    def version_of(self, condition_id: ConditionId) -> str:
        """Gamma's `version` of a market found ("v1", or "v2" for Protocol V2 markets, whose
        orders are signed differently)."""
        return self._versions.get(condition_id, "v1")

    def poll(self, now: float) -> DiscoveryPoll:
        """Ask Gamma for every planned slug not found yet. Raises the venue's errors
        (`RetryableError` and kin) when Gamma cannot be reached; the caller retries later."""
        wanted = window_slugs(self._assets, self._timeframes_s, now, self._lookahead_s)
        self._forget_before(now)
        found: list[MarketWindow] = []
        pending: list[str] = []
        malformed: list[str] = []
        for slug in wanted:
            if slug in self._found:
                continue
            raw = get_json(
                self._host, f"/markets/slug/{slug}", timeout_s=self._timeout_s, missing_is_none=True
            )
            if raw is None:  # not listed yet
                pending.append(slug)
                continue
            try:
                market = parse_gamma_market(raw)
                window = up_down_window(market)
            except WireError:
                malformed.append(slug)
                continue
            if window is None:
                pending.append(slug)  # listed but not hydrated: token ids come later
                continue
            self._found[slug] = window
            self._versions[window.condition_id] = market.version
            found.append(window)
        return DiscoveryPoll(found=tuple(found), pending=tuple(pending), malformed=tuple(malformed))

    def resolution(self, window: MarketWindow, now: float) -> MarketResolved | None:
        """The window's resolution as Gamma shows it (closed, one outcome priced 1), else None.
        The fallback for a `market_resolved` the market channel did not deliver."""
        raw = get_json(
            self._host,
            f"/markets/slug/{window.slug}",
            timeout_s=self._timeout_s,
            missing_is_none=True,
        )
        if raw is None:
            return None
        market = parse_gamma_market(raw)
        if not market.closed or ONE not in market.outcome_prices or not market.is_hydrated:
            return None
        index = market.outcome_prices.index(ONE)
        return MarketResolved(
            condition_id=window.condition_id,
            winning_token=market.token_ids[index],
            winning_outcome=market.outcomes[index],
            timestamp=now,
        )

    def _forget_before(self, now: float) -> None:
        # Slugs of windows long over are never planned again; keep the memory bounded.
        for slug in [s for s, w in self._found.items() if w.end < now - 3600]:
            self._versions.pop(self._found.pop(slug).condition_id, None)
