"""Discovery: turns market listings into window actors, one per window of a configured market.

It asks the "windows" dynamic supervisor to start a window actor for every listed window of a
configured asset and timeframe, and registers that window with the market feed, which then
routes the window's books, spot prices and resolution to it. Window actors are TRANSIENT and
stop themselves (Normal) after settlement, so a finished window is never restarted; a second
StartChild for it is refused as "already exists", which is how repeats are made harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, TypeAlias

from actors.feed import ReplayListings
from actors.messages import RegisterWindow, window_actor, window_id
from runtime.api import Actor, ActorDead, AskTimeout, Factory, Timer, UnhandledMessage
from runtime.logs import actor_logger
from supervisors.spec import ChildSpec, Restart
from supervisors.supervisor import StartChild, StartRefused
from venues.types import MarketWindow, WindowListed

if TYPE_CHECKING:
    from strategy.settings import StrategySettings

__all__ = [
    "ALREADY_EXISTS",
    "DiscoveryActor",
    "DiscoveryStats",
    "GetDiscoveryStats",
    "WindowStart",
    "window_actor_start",
]

ALREADY_EXISTS = "a child with this id already exists"
"""The supervisor's refusal for a window that is running or finished: nothing to do."""

WindowStart = Callable[[MarketWindow], Factory]
"""How to build the window actor of one market window (a `ChildSpec.start`)."""


def window_actor_start(settings: StrategySettings | None = None) -> WindowStart:
    """The real window actor, `actors.window.WindowActor(window=..., settings=...)`, with the
    strategy's default settings when none are given.

    Imported when the first window starts, not at module import: the window actor module
    depends on the strategy, and discovery must stay importable (and testable) without it.
    """

    def start(window: MarketWindow) -> Factory:
        from actors.window import WindowActor  # noqa: PLC0415 - see the docstring
        from strategy.settings import StrategySettings  # noqa: PLC0415 - see the docstring

        chosen = settings if settings is not None else StrategySettings()
        return partial(WindowActor, window=window, settings=chosen)

    return start


# --- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetDiscoveryStats:
    """Ask: reply with `DiscoveryStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryStats:
    """Counters of this incarnation."""

    listings_seen: int
    windows_started: int
    already_running: int  # listings of a window the supervisor already has (running or done)
    ignored: int  # listings of assets or timeframes we do not trade
    ended: int  # listings of windows that had already ended
    refused: int  # StartChild refusals other than "already exists", and timeouts
    retrying: int  # windows whose start is retried on a timer (supervisor away or slow)


@dataclass(frozen=True, slots=True, kw_only=True)
class _RetryStarts:
    """Timer: ask again for the windows whose start failed for a transient reason."""


DiscoveryCommand: TypeAlias = WindowListed | GetDiscoveryStats | _RetryStarts


class _Start(StrEnum):
    RUNNING = "running"  # started now, or it exists (running or finished)
    RETRY = "retry"  # the supervisor was not alive or did not answer in time
    REFUSED = "refused"  # the supervisor refused it (e.g. the window actor failed to start)


# --- the actor -----------------------------------------------------------------------------


class DiscoveryActor(Actor):
    """Starts one window actor per listed window of the configured assets and timeframes.

    Accepts:
        WindowListed(window): tell, forwarded by the feed. For a configured asset and
            timeframe whose window has not ended: `StartChild` to the windows supervisor
            (id `window/<window id>`, TRANSIENT), then `RegisterWindow` to the feed.
        GetDiscoveryStats(): ask -> DiscoveryStats.

    Registration is discovery's job, not the window's: discovery registers on every listing
    it sees, including the ones a restarted feed forwards from the market's catch-up, so a
    feed restart is repaired without the windows knowing.

    A start that fails for a transient reason (the supervisor restarting, or slow to answer)
    is asked again every `retry_s` until the window runs or ends; a listing is not repeated by
    the market, so giving up would lose the window.

    A crash loses only the counters and the memory of which windows were started. The new
    incarnation asks the feed to replay the listings it holds (`ReplayListings`); starting a
    window that exists is refused as "already exists", so nothing is started twice.
    """

    def __init__(
        self,
        assets: Iterable[str],
        timeframes_s: Iterable[int],
        *,
        start_window: WindowStart | None = None,
        window_settings: StrategySettings | None = None,
        windows: str = "windows",
        feed: str = "feed",
        start_timeout_s: float = 10.0,
        retry_s: float = 5.0,
    ) -> None:
        self._assets = frozenset(assets)
        self._timeframes_s = frozenset(timeframes_s)
        self._start_window = start_window or window_actor_start(window_settings)
        self._windows_name = windows
        self._feed_name = feed
        self._start_timeout_s = start_timeout_s
        self._retry_s = retry_s
        self._known: set[str] = set()
        self._pending: dict[str, MarketWindow] = {}
        self._retry_timer: Timer | None = None
        self._listings = 0
        self._started = 0
        self._already_running = 0
        self._ignored = 0
        self._ended = 0
        self._refused = 0

    def on_stop(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()

    def on_start(self) -> None:
        self._log = actor_logger(self.ctx.name, self.ctx.incarnation)
        # Listings the feed got before we (re)started would otherwise never reach us.
        try:
            self.ctx.runtime.lookup(self._feed_name).tell(ReplayListings(to=self.ctx.name))
        except ActorDead:
            self._log.info("feed_not_alive_yet", feed=self._feed_name)

    def receive(self, message: object) -> object:
        match message:
            case WindowListed(window=window):
                self._on_window_listed(window)
                return None
            case GetDiscoveryStats():
                return DiscoveryStats(
                    listings_seen=self._listings,
                    windows_started=self._started,
                    already_running=self._already_running,
                    ignored=self._ignored,
                    ended=self._ended,
                    refused=self._refused,
                    retrying=len(self._pending),
                )
            case _RetryStarts():
                self._retry_timer = None
                for window in tuple(self._pending.values()):
                    self._on_window_listed(window, is_retry=True)
                if self._pending:
                    self._retry_timer = self.ctx.schedule(self._retry_s, _RetryStarts())
                return None
            case _:
                msg = f"discovery {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    def _on_window_listed(self, window: MarketWindow, *, is_retry: bool = False) -> None:
        if not is_retry:
            self._listings += 1
        if window.asset not in self._assets or window.timeframe_s not in self._timeframes_s:
            self._ignored += 1
            return
        name = window_actor(window_id(window))
        if name not in self._known:
            if window.end <= self.ctx.clock.now():
                self._pending.pop(name, None)
                self._ended += 1  # nothing left to trade; its resolution needs no actor
                return
            match self._start(name, window):
                case _Start.RUNNING:
                    self._pending.pop(name, None)
                    self._known.add(name)
                case _Start.RETRY:
                    self._pending[name] = window
                    if self._retry_timer is None:
                        self._retry_timer = self.ctx.schedule(self._retry_s, _RetryStarts())
                    return
                case _Start.REFUSED:
                    self._pending.pop(name, None)
                    return
        self._tell_feed(
            RegisterWindow(
                condition_id=window.condition_id,
                tokens=window.tokens,
                asset=window.asset,
                actor_name=name,
            )
        )

    def _start(self, name: str, window: MarketWindow) -> _Start:
        """Ask the supervisor for the window actor under `name`."""
        spec = ChildSpec(id=name, start=self._start_window(window), restart=Restart.TRANSIENT)
        try:
            reply = self.ctx.runtime.lookup(self._windows_name).ask(
                StartChild(spec=spec), self._start_timeout_s
            )
        except AskTimeout:
            # The start may still happen: the retry then finds it as "already exists".
            self._refused += 1
            self._log.warning("window_start_timed_out", window=name)
            return _Start.RETRY
        except ActorDead:
            self._refused += 1
            self._log.warning("windows_supervisor_not_alive", window=name)
            return _Start.RETRY
        match reply:
            case StartRefused(reason=reason) if reason == ALREADY_EXISTS:
                self._already_running += 1
                return _Start.RUNNING
            case StartRefused(reason=reason):
                self._refused += 1
                self._log.error("window_start_refused", window=name, reason=reason)
                return _Start.REFUSED
            case _:
                self._started += 1
                self._log.info("window_started", window=name, slug=window.slug)
                return _Start.RUNNING

    def _tell_feed(self, message: RegisterWindow) -> None:
        try:
            self.ctx.runtime.lookup(self._feed_name).tell(message)
        except ActorDead:
            # A restarting feed resubscribes and forwards the listings again; we register then.
            self._log.warning("feed_not_alive", window=message.actor_name)
