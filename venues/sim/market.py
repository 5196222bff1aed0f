"""The simulated market: steps spot walks, window lifecycles and books, and emits market events.

`SimMarket.advance(now)` runs every step of `step_s` seconds on the absolute grid
(k * step_s) up to `now` and returns what happened, in order. The sequence depends only on the
settings, the start time and the seed, not on how `now` is chunked, so two runs with the same
inputs emit the same events bit for bit.

Per window: listed (`WindowListed`, `listing_lead_s` before the start) -> open at the start
(price to beat = spot then; full `BookSnapshot` of both tokens) -> trading (`PriceChange`,
`LastTrade`, `TickSizeChange` followed by fresh snapshots) -> closed at the end (final price =
spot then; empty snapshots: trading has stopped) -> resolved `resolution_delay_s` later
(`MarketResolved`; Up wins ties). A window already running when the simulation starts takes
the first simulated spot as its price to beat.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from venues.sim.books import MirroredBook, empty_snapshot, size_decimal
from venues.sim.pricing import (
    effective_sigma_per_sqrt_s,
    fair_up_probability,
    fine_tick_wanted,
    up_wins,
)
from venues.sim.spot import SpotWalk, seeded_rng
from venues.sim.windows import make_window, window_start
from venues.types import (
    BookSnapshot,
    LastTrade,
    MarketEvent,
    MarketResolved,
    MarketWindow,
    PriceChange,
    Side,
    SpotPrice,
    TickSizeChange,
    WindowListed,
)

if TYPE_CHECKING:
    import random
    from decimal import Decimal

    from venues.sim.settings import SimSettings
    from venues.types import ConditionId, TokenId

__all__ = ["SimEvent", "SimMarket", "SimMarketStats", "SimWindow", "WindowPhase"]

SimEvent = MarketEvent | SpotPrice

# Step times are k * step_s on large epoch values; compare with a tolerance well above float
# spacing there (~2e-7 s) so a timer that fires a hair early still runs its step.
_EPSILON_S = 1e-6
# Steps per advance while skipping ahead: bounds the throw-away event list.
_SKIP_CHUNK_STEPS = 600
# How strongly takers lean towards the side the fair value favours (informed flow): at a gap of
# 0.05 between fair value and mid, 70 % of takers buy the cheap side instead of 50 %.
_INFORMED_FLOW = 4.0


class WindowPhase(StrEnum):
    LISTED = "listed"
    OPEN = "open"
    CLOSED = "closed"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimWindow:
    """A window as the simulator sees it now, including what the market does not publish."""

    window: MarketWindow
    phase: WindowPhase
    tick_size: Decimal  # current, after any tick-size change
    price_to_beat: Decimal | None  # known once open
    final_price: Decimal | None  # known once closed
    winning_outcome: str | None  # "Up" / "Down" once resolved
    fair_up_probability: float | None  # the model's truth while open


@dataclass(frozen=True, slots=True, kw_only=True)
class SimMarketStats:
    steps: int
    simulated_until: float | None
    windows_listed: int
    windows_opened: int
    windows_closed: int
    windows_resolved: int
    events_by_kind: tuple[tuple[str, int], ...]  # class name -> count, sorted by name

    @property
    def events_total(self) -> int:
        return sum(count for _, count in self.events_by_kind)


class _Window:
    """Mutable simulation state of one window; never leaves this module."""

    __slots__ = (
        "asset_index",
        "book",
        "fair",
        "final_price",
        "is_fine",
        "mid",
        "noise",
        "phase",
        "price_to_beat",
        "price_to_beat_float",
        "rng",
        "tick",
        "window",
        "winner_is_up",
    )

    def __init__(self, *, window: MarketWindow, asset_index: int, rng: random.Random) -> None:
        self.window = window
        self.asset_index = asset_index
        self.rng = rng
        self.phase = WindowPhase.LISTED
        self.tick = window.tick_size
        self.is_fine = False
        self.book: MirroredBook | None = None
        self.price_to_beat: Decimal | None = None
        self.price_to_beat_float = 0.0
        self.final_price: Decimal | None = None
        self.winner_is_up: bool | None = None
        self.mid = 0.5
        self.noise = 0.0
        self.fair: float | None = None

    def view(self) -> SimWindow:
        winner = None
        if self.winner_is_up is not None:
            winner = "Up" if self.winner_is_up else "Down"
        return SimWindow(
            window=self.window,
            phase=self.phase,
            tick_size=self.tick,
            price_to_beat=self.price_to_beat,
            final_price=self.final_price,
            winning_outcome=winner,
            fair_up_probability=self.fair if self.phase is WindowPhase.OPEN else None,
        )


class _ListingSchedule:
    """The next window start to list for one (timeframe, asset)."""

    __slots__ = ("asset_index", "next_start", "timeframe_s")

    def __init__(self, *, timeframe_s: int, asset_index: int, next_start: int) -> None:
        self.timeframe_s = timeframe_s
        self.asset_index = asset_index
        self.next_start = next_start


class SimMarket:
    """Deterministic simulated Polymarket for the configured assets and timeframes."""

    def __init__(self, settings: SimSettings, start_time: float) -> None:
        self.settings = settings
        step_s = settings.step_s
        self._step_s = step_s
        self._next_step = math.ceil(start_time / step_s - _EPSILON_S)
        self._last_step_time: float | None = None
        self._steps = 0
        self._walks = tuple(
            SpotWalk(asset=asset, seed=settings.seed, step_s=step_s) for asset in settings.assets
        )
        self._sigmas = tuple(
            effective_sigma_per_sqrt_s(
                annual_volatility=asset.annual_volatility,
                jumps_per_hour=asset.jumps_per_hour,
                jump_size=asset.jump_size,
            )
            for asset in settings.assets
        )
        first_step_time = self._next_step * step_s
        self._schedules = tuple(
            _ListingSchedule(
                timeframe_s=timeframe,
                asset_index=index,
                next_start=window_start(first_step_time, timeframe),
            )
            for timeframe in settings.timeframes_s
            for index in range(len(settings.assets))
        )
        self._active: list[_Window] = []
        self._windows: dict[ConditionId, _Window] = {}
        self._tokens: dict[TokenId, tuple[_Window, bool]] = {}
        self._counts: Counter[type] = Counter()
        self._lifecycle = Counter[WindowPhase]()
        shape = settings.book
        self._mid_follow = 1.0 - math.exp(-step_s / shape.mid_lag_s) if shape.mid_lag_s else 1.0
        self._noise_keep = math.exp(-step_s / shape.noise_memory_s)
        self._noise_kick = math.sqrt(1.0 - self._noise_keep**2)
        self._mid_noise = shape.mid_noise
        self._trade_probability = min(1.0, shape.trades_per_minute * step_s / 60.0)
        self._trade_size_mean = float(shape.trade_size_mean) * 100.0

    # --- public API -----------------------------------------------------------------------------

    @property
    def next_step_at(self) -> float:
        """Time of the next step `advance` will run."""
        return self._next_step * self._step_s

    def advance(self, now: float) -> list[SimEvent]:
        """Run every step due at or before `now`; returns their events in order."""
        events: list[SimEvent] = []
        step_s = self._step_s
        limit = now + _EPSILON_S
        k = self._next_step
        while k * step_s <= limit:
            t = k * step_s
            self._step(t, events)
            self._last_step_time = t
            k += 1
        self._steps += k - self._next_step
        self._next_step = k
        if events:
            self._counts.update(map(type, events))
        return events

    def skip_to(self, now: float) -> None:
        """Run every step due by `now` without keeping the events, in bounded memory.

        Same path as `advance` (the events are built and dropped); for replaying a restarted
        market up to the present, where a day of events would not fit in one list comfortably.
        """
        chunk_s = _SKIP_CHUNK_STEPS * self._step_s
        while self.next_step_at + chunk_s < now:
            self.advance(self.next_step_at + chunk_s)
        self.advance(now)

    def book(self, token_id: TokenId) -> BookSnapshot:
        """The current book of a token; empty before its window opens and after it closes."""
        window, is_up = self._window_of_token(token_id)
        timestamp = self._last_step_time or 0.0
        if window.book is None:
            return empty_snapshot(
                condition_id=window.window.condition_id,
                token_id=token_id,
                tick=window.tick,
                timestamp=timestamp,
            )
        return window.book.snapshot(
            condition_id=window.window.condition_id,
            token_id=token_id,
            is_up=is_up,
            timestamp=timestamp,
        )

    def windows(self) -> tuple[SimWindow, ...]:
        """Every window listed so far (resolved ones included), in listing order."""
        return tuple(window.view() for window in self._windows.values())

    def window(self, condition_id: ConditionId) -> SimWindow:
        found = self._windows.get(condition_id)
        if found is None:
            msg = f"unknown condition id {condition_id!r}: no simulated window has it"
            raise KeyError(msg)
        return found.view()

    @property
    def stats(self) -> SimMarketStats:
        return SimMarketStats(
            steps=self._steps,
            simulated_until=self._last_step_time,
            windows_listed=self._lifecycle[WindowPhase.LISTED],
            windows_opened=self._lifecycle[WindowPhase.OPEN],
            windows_closed=self._lifecycle[WindowPhase.CLOSED],
            windows_resolved=self._lifecycle[WindowPhase.RESOLVED],
            events_by_kind=tuple(
                sorted((kind.__name__, count) for kind, count in self._counts.items())
            ),
        )

    def snapshot_events(self) -> list[SimEvent]:
        """What a subscriber joining now needs to rebuild the current state from scratch.

        Latest spot per asset; then per unresolved window its listing, any tick-size change
        and both tokens' current books. Not counted in `stats` (not part of the sequence).
        """
        if self._last_step_time is None:
            return []
        now = self._last_step_time
        events: list[SimEvent] = [
            SpotPrice(asset=walk.asset.symbol, price=walk.quote, timestamp=now)
            for walk in self._walks
        ]
        for window in self._active:
            market_window = window.window
            events.append(WindowListed(window=market_window, timestamp=now))
            if window.phase is WindowPhase.LISTED:
                continue
            if window.tick != market_window.tick_size:
                events.extend(self._tick_changes(window, market_window.tick_size, now))
            events.extend(self.book(token) for token in market_window.tokens)
        return events

    # --- one step -------------------------------------------------------------------------------

    def _step(self, t: float, events: list[SimEvent]) -> None:
        for walk in self._walks:
            events.append(SpotPrice(asset=walk.asset.symbol, price=walk.step(), timestamp=t))
        due = t + _EPSILON_S
        lead = self.settings.listing_lead_s
        for schedule in self._schedules:
            while schedule.next_start - lead <= due:
                self._list(schedule, t, events)
                schedule.next_start += schedule.timeframe_s
        any_resolved = False
        for window in self._active:
            phase = window.phase
            if phase is WindowPhase.OPEN:
                if window.window.end <= due:
                    self._close(window, t, events)
                else:
                    self._trade_step(window, t, events)
            elif phase is WindowPhase.LISTED:
                if window.window.start <= due:
                    self._open(window, t, events)
            elif window.window.end + self.settings.resolution_delay_s <= due:
                self._resolve(window, t, events)
                any_resolved = True
        if any_resolved:
            self._active = [w for w in self._active if w.phase is not WindowPhase.RESOLVED]

    def _list(self, schedule: _ListingSchedule, t: float, events: list[SimEvent]) -> None:
        settings = self.settings
        market_window = make_window(
            asset=settings.assets[schedule.asset_index].symbol,
            timeframe_s=schedule.timeframe_s,
            start=schedule.next_start,
            tick_size=settings.tick_size,
            min_order_size=settings.min_order_size,
        )
        window = _Window(
            window=market_window,
            asset_index=schedule.asset_index,
            rng=seeded_rng(settings.seed, f"book:{market_window.condition_id}"),
        )
        self._active.append(window)
        self._windows[market_window.condition_id] = window
        self._tokens[market_window.up_token] = (window, True)
        self._tokens[market_window.down_token] = (window, False)
        self._lifecycle[WindowPhase.LISTED] += 1
        events.append(WindowListed(window=market_window, timestamp=t))

    def _open(self, window: _Window, t: float, events: list[SimEvent]) -> None:
        walk = self._walks[window.asset_index]
        window.phase = WindowPhase.OPEN
        window.price_to_beat = walk.quote
        window.price_to_beat_float = float(walk.quote)
        fair = self._fair(window, t)
        window.mid = fair
        window.noise = window.rng.gauss(0.0, 1.0)  # start from the noise's stationary law
        window.book = MirroredBook(
            shape=self.settings.book, tick=window.tick, step_s=self._step_s, rng=window.rng
        )
        window.book.rebuild(self._quoted_center(window), window.tick)
        self._lifecycle[WindowPhase.OPEN] += 1
        events.extend(self._snapshots(window, t))

    def _close(self, window: _Window, t: float, events: list[SimEvent]) -> None:
        window.phase = WindowPhase.CLOSED
        window.final_price = self._walks[window.asset_index].quote
        window.book = None
        window.fair = None
        self._lifecycle[WindowPhase.CLOSED] += 1
        events.extend(self._snapshots(window, t))

    def _resolve(self, window: _Window, t: float, events: list[SimEvent]) -> None:
        assert window.price_to_beat is not None, "a closed window has a price to beat"
        assert window.final_price is not None, "a closed window has a final price"
        is_up = up_wins(price_to_beat=window.price_to_beat, final_price=window.final_price)
        window.phase = WindowPhase.RESOLVED
        window.winner_is_up = is_up
        market_window = window.window
        self._lifecycle[WindowPhase.RESOLVED] += 1
        events.append(
            MarketResolved(
                condition_id=market_window.condition_id,
                winning_token=market_window.up_token if is_up else market_window.down_token,
                winning_outcome="Up" if is_up else "Down",
                timestamp=t,
            )
        )

    def _trade_step(self, window: _Window, t: float, events: list[SimEvent]) -> None:
        book = window.book
        assert book is not None, "an open window has a book"
        fair = self._fair(window, t)
        window.mid += (fair - window.mid) * self._mid_follow
        window.noise = window.noise * self._noise_keep + self._noise_kick * window.rng.gauss(
            0.0, 1.0
        )
        center = self._quoted_center(window)
        settings = self.settings
        wants_fine = fine_tick_wanted(
            window.mid,
            is_fine=window.is_fine,
            fine_tick_above=settings.fine_tick_above,
            coarse_tick_within=settings.coarse_tick_within,
        )
        if wants_fine != window.is_fine:
            old_tick = window.tick
            window.is_fine = wants_fine
            window.tick = settings.fine_tick_size if wants_fine else settings.tick_size
            book.rebuild(center, window.tick)
            events.extend(self._tick_changes(window, old_tick, t))
            events.extend(self._snapshots(window, t))
            return
        market_window = window.window
        moves = book.requote(center)
        if moves:
            changes = book.level_changes(
                moves, up_token=market_window.up_token, down_token=market_window.down_token
            )
            events.append(
                PriceChange(condition_id=market_window.condition_id, changes=changes, timestamp=t)
            )
        if window.rng.random() < self._trade_probability:
            self._cross(window, book, fair, t, events)

    def _cross(
        self, window: _Window, book: MirroredBook, fair: float, t: float, events: list[SimEvent]
    ) -> None:
        """One taker order crossing the spread, and the level it depletes."""
        rng = window.rng
        up_buy_probability = min(0.9, max(0.1, 0.5 + _INFORMED_FLOW * (fair - window.mid)))
        is_up = rng.random() < 0.5
        taker_buys = rng.random() < (up_buy_probability if is_up else 1.0 - up_buy_probability)
        # Up's bids are Down's asks: buying Down and selling Up both consume Up's bids.
        hit_bids = is_up != taker_buys
        wanted = max(100, int(rng.expovariate(1.0) * self._trade_size_mean))
        index, filled, left = book.take(hit_bids=hit_bids, size=wanted)
        market_window = window.window
        events.append(
            LastTrade(
                condition_id=market_window.condition_id,
                token_id=market_window.up_token if is_up else market_window.down_token,
                price=book.prices[index] if is_up else book.prices[book.units - index],
                size=size_decimal(filled),
                side=Side.BUY if taker_buys else Side.SELL,
                timestamp=t,
            )
        )
        changes = book.level_changes(
            [(hit_bids, index, left)],
            up_token=market_window.up_token,
            down_token=market_window.down_token,
        )
        events.append(
            PriceChange(condition_id=market_window.condition_id, changes=changes, timestamp=t)
        )

    # --- helpers --------------------------------------------------------------------------------

    def _fair(self, window: _Window, t: float) -> float:
        fair = fair_up_probability(
            spot=self._walks[window.asset_index].price,
            price_to_beat=window.price_to_beat_float,
            time_left_s=window.window.end - t,
            sigma_per_sqrt_s=self._sigmas[window.asset_index],
        )
        window.fair = fair
        return fair

    def _quoted_center(self, window: _Window) -> float:
        mid = window.mid
        # Noise shrinks towards 0 and 1, where a cent is a large move in odds.
        scale = 2.0 * math.sqrt(max(0.0, mid * (1.0 - mid)))
        return mid + self._mid_noise * scale * window.noise

    def _snapshots(self, window: _Window, t: float) -> tuple[BookSnapshot, BookSnapshot]:
        market_window = window.window
        book = window.book
        up, down = market_window.up_token, market_window.down_token
        condition_id = market_window.condition_id
        if book is None:
            return (
                empty_snapshot(
                    condition_id=condition_id, token_id=up, tick=window.tick, timestamp=t
                ),
                empty_snapshot(
                    condition_id=condition_id, token_id=down, tick=window.tick, timestamp=t
                ),
            )
        return (
            book.snapshot(condition_id=condition_id, token_id=up, is_up=True, timestamp=t),
            book.snapshot(condition_id=condition_id, token_id=down, is_up=False, timestamp=t),
        )

    def _tick_changes(self, window: _Window, old_tick: Decimal, t: float) -> list[SimEvent]:
        market_window = window.window
        return [
            TickSizeChange(
                condition_id=market_window.condition_id,
                token_id=token,
                old_tick_size=old_tick,
                new_tick_size=window.tick,
                timestamp=t,
            )
            for token in market_window.tokens
        ]

    def _window_of_token(self, token_id: TokenId) -> tuple[_Window, bool]:
        found = self._tokens.get(token_id)
        if found is None:
            msg = f"unknown token id {token_id!r}: no simulated window has it"
            raise KeyError(msg)
        return found
