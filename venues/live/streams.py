"""The live feeds: Polymarket's market channel, user channel and real-time price stream (RTDS),
each delivering domain events to callbacks, over `FeedSocket` connections.

- `MarketStream` follows a set of tokens (`set_assets`), sharded over as many connections as
  the per-connection asset limit needs. Every (re)subscription makes the venue send each
  token's `book`, which replaces the consumer's book: until that snapshot arrives, price
  changes of the token are held back, so a consumer always sees a `BookSnapshot` first.
- `UserStream` is our account's orders and fills (taker and maker, picked by `Identity`),
  authenticated with the API credentials; a refusal is `Unauthorized`, naming no secret.
- `PriceStream` is the reference spot price of each asset (RTDS, Chainlink or Binance topic).

Each stream is a `Callable[[callback], Unsubscribe]`, the shape the venue adapter takes: the
first subscriber starts it, the last one leaving closes it. Callbacks run on a socket's
thread and must be quick (they are an actor's `tell`).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import SecretStr

from config.settings import LiveSettings, PriceSource
from runtime.clock import Clock
from runtime.logs import MIN_SECRET_LENGTH, register_secret
from venues.errors import Unauthorized
from venues.live.recorder import FrameRecorder
from venues.live.socket import FeedSocket, SocketSettings, SocketStats, SubscriptionRefused
from venues.live.wire import DEFAULT_TICK_SIZE, FrameParse, Identity, parse_frame
from venues.port import Unsubscribe
from venues.types import (
    BookSnapshot,
    ConditionId,
    LastTrade,
    MarketEvent,
    MarketResolved,
    OrderUpdate,
    PriceChange,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeUpdate,
    UserEvent,
)

__all__ = [
    "MarketStream",
    "PriceStream",
    "StreamStats",
    "UserChannelAuth",
    "UserStream",
    "market_stream_factory",
    "price_stream_factory",
    "recorder_from",
    "user_stream_factory",
]

_log = logging.getLogger(__name__)

E = TypeVar("E")

CHAINLINK_TOPIC = "crypto_prices_chainlink"
BINANCE_TOPIC = "crypto_prices"
_RESOLUTIONS_KEPT = 4096  # condition ids remembered to deliver each resolution once


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    """A stream's counters since it was built, over all its connections.

    `events` were parsed from frames; of those, `delivered` reached the callbacks and `ignored`
    were not for this stream (other tokens, event kinds it does not deliver, repeats);
    `held_before_book` price changes arrived before their token's snapshot. `dropped` messages
    were malformed or unknown. `failures` say why a connection stopped for good."""

    connections: int = 0
    connected: int = 0
    frames: int = 0
    notices: int = 0
    events: int = 0
    delivered: int = 0
    ignored: int = 0
    held_before_book: int = 0
    dropped: int = 0
    connects: int = 0
    reconnects: int = 0
    silent_recycles: int = 0
    failures: tuple[str, ...] = ()


class _Tally:
    """The stream's own counters; shards count from their own threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delivered = 0
        self.ignored = 0
        self.held_before_book = 0

    def count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


def _stats(sockets: Sequence[SocketStats], tally: _Tally, past: StreamStats) -> StreamStats:
    def total(name: str) -> int:
        return sum(int(getattr(s, name)) for s in sockets) + int(getattr(past, name))

    return StreamStats(
        connections=len(sockets),
        connected=sum(s.is_connected for s in sockets),
        frames=total("frames"),
        notices=total("notices"),
        events=total("events"),
        delivered=tally.delivered,
        ignored=tally.ignored,
        held_before_book=tally.held_before_book,
        dropped=total("dropped"),
        connects=total("connects"),
        reconnects=total("reconnects"),
        silent_recycles=total("silent_recycles"),
        failures=past.failures + tuple(s.failure for s in sockets if s.failure),
    )


def _retire(past: StreamStats, socket: SocketStats) -> StreamStats:
    """`past` plus a closed connection's counters, so stats never go backwards."""
    counted = {
        f.name: getattr(past, f.name) + getattr(socket, f.name)
        for f in fields(StreamStats)
        if f.name in {g.name for g in fields(SocketStats)} and f.name != "failure"
    }
    failures = past.failures + ((socket.failure,) if socket.failure else ())
    return replace(past, **counted, failures=failures)


class _Stream(Generic[E]):
    """Subscribers, start and close, shared by the three streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: tuple[Callable[[E], None], ...] = ()
        self._is_started = False
        self._tally = _Tally()
        self._past = StreamStats()

    def __call__(self, callback: Callable[[E], None]) -> Unsubscribe:
        """Deliver events to `callback` (starting the stream if it is the first); the answer
        stops that delivery (closing the stream if it was the last)."""
        with self._lock:
            self._callbacks = (*self._callbacks, callback)
        try:
            self.start()
        except Exception:
            # A stream that refused to start must not keep a subscriber it never serves.
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)
            raise

        def unsubscribe() -> None:
            with self._lock:
                if callback not in self._callbacks:
                    return
                remaining = list(self._callbacks)
                remaining.remove(callback)
                self._callbacks = tuple(remaining)
                is_last = not remaining
            if is_last:
                self.close()

        return unsubscribe

    def start(self) -> None:
        with self._lock:
            if self._is_started:
                return
            self._is_started = True
            self._open()

    def close(self, timeout_s: float = 5.0) -> None:
        """Close every connection, each joined within `timeout_s`."""
        with self._lock:
            self._is_started = False
            sockets = self._detach()
        # Joined outside the lock: a socket thread may be delivering, and delivery reads it.
        for socket in sockets:
            socket.close(timeout_s)
            with self._lock:
                self._past = _retire(self._past, socket.stats())

    def stats(self) -> StreamStats:
        with self._lock:
            return _stats([s.stats() for s in self._sockets()], self._tally, self._past)

    def _deliver(self, event: E) -> None:
        self._tally.count("delivered")
        for callback in self._callbacks:
            callback(event)

    def _open(self) -> None:
        raise NotImplementedError

    def _detach(self) -> list[FeedSocket]:
        raise NotImplementedError

    def _sockets(self) -> list[FeedSocket]:
        raise NotImplementedError


# --- market channel ----------------------------------------------------------------------------


class _Shard:
    """One market-channel connection and the tokens it follows."""

    def __init__(self, stream: MarketStream, assets: Iterable[TokenId]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.assets: set[TokenId] = set(assets)
        self._awaiting_book: set[TokenId] = set()
        self.socket = FeedSocket(
            url=stream.url,
            channel="market",
            settings=stream.socket_settings,
            subscription=self._subscription,
            parse=stream.parse,
            on_parsed=self._on_parsed,
            clock=stream.clock,
            recorder=stream.recorder,
            draw=stream.draw,
        )

    def _subscription(self) -> list[str]:
        with self._lock:
            # Every subscription makes the venue send each token's book again.
            self._awaiting_book = set(self.assets)
            message = {
                "type": "market",
                "assets_ids": sorted(self.assets),
                "custom_feature_enabled": self._stream.custom_features,
                "initial_dump": True,
            }
        return [json.dumps(message)]

    def change(self, *, added: Iterable[TokenId] = (), removed: Iterable[TokenId] = ()) -> None:
        add, remove = set(added), set(removed)

        def build() -> list[str]:
            with self._lock:
                self.assets = (self.assets | add) - remove
                self._awaiting_book = (self._awaiting_book | add) - remove
            messages: list[dict[str, object]] = []
            if remove:
                messages.append({"operation": "unsubscribe", "assets_ids": sorted(remove)})
            if add:
                messages.append(
                    {
                        "operation": "subscribe",
                        "assets_ids": sorted(add),
                        "custom_feature_enabled": self._stream.custom_features,
                    }
                )
            return [json.dumps(m) for m in messages]

        self.socket.send_locked(build)

    def _on_parsed(self, parsed: FrameParse) -> None:
        for event in parsed.events:
            admitted = self._admit(event)
            if admitted is None:
                self._stream.tally.count("ignored")
            else:
                self._stream.deliver(admitted)

    def _admit(self, event: object) -> MarketEvent | None:
        with self._lock:
            match event:
                case BookSnapshot():
                    if event.token_id not in self.assets:
                        return None
                    self._awaiting_book.discard(event.token_id)
                    return event
                case PriceChange():
                    return self._fresh_levels(event)
                case LastTrade() | TickSizeChange():
                    return event if event.token_id in self.assets else None
                case MarketResolved():
                    return event if self._stream.first_resolution(event.condition_id) else None
                case _:
                    return None  # best_bid_ask, new_market: not market events we deliver

    def _fresh_levels(self, change: PriceChange) -> PriceChange | None:
        ours = [level for level in change.changes if level.token_id in self.assets]
        fresh = tuple(level for level in ours if level.token_id not in self._awaiting_book)
        if len(fresh) < len(ours):
            self._stream.tally.count("held_before_book")
        if not fresh:
            return None
        return change if len(fresh) == len(change.changes) else replace(change, changes=fresh)


class MarketStream(_Stream[MarketEvent]):
    """The market channel for a set of tokens, sharded by `max_assets_per_connection`.

    Args:
        url: the market channel (`.../ws/market`).
        socket_settings: keepalive, silence and backoff of each connection.
        max_assets_per_connection: a connection follows at most this many tokens; the venue
            stops sending snapshots beyond about 500.
        custom_features: also receive `market_resolved` (and best_bid_ask/new_market, which
            this stream does not deliver).
        clock: for the sockets' intervals.
        recorder: records every frame, when given.
        tick_size_if_absent: the tick of a `book` that does not carry one.
    """

    def __init__(
        self,
        *,
        url: str,
        socket_settings: SocketSettings,
        max_assets_per_connection: int,
        clock: Clock,
        custom_features: bool = True,
        recorder: FrameRecorder | None = None,
        tick_size_if_absent: Decimal = DEFAULT_TICK_SIZE,
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        if max_assets_per_connection < 1:
            msg = f"max_assets_per_connection must be >= 1, got {max_assets_per_connection!r}"
            raise ValueError(msg)
        self.url = url
        self.socket_settings = socket_settings
        self.max_assets_per_connection = max_assets_per_connection
        self.custom_features = custom_features
        self.clock = clock
        self.recorder = recorder
        self.draw = draw
        self._tick_size_if_absent = tick_size_if_absent
        self._wanted: frozenset[TokenId] = frozenset()
        self._shards: list[_Shard] = []
        self._resolved: OrderedDict[ConditionId, None] = OrderedDict()
        self._resolved_lock = threading.Lock()

    def assets(self) -> frozenset[TokenId]:
        return self._wanted

    def set_assets(self, token_ids: Iterable[TokenId]) -> None:
        """Follow exactly these tokens: unsubscribe the ones dropped, subscribe the new ones
        (filling connections up to the limit, opening more when needed), close connections
        left with none. Events of a dropped token stop when this returns, but for one a
        socket may be handing to a callback at that instant."""
        with self._lock:
            self._wanted = frozenset(token_ids)
            retired = self._apply() if self._is_started else []
        for shard in retired:
            shard.socket.close()
            with self._lock:
                self._past = _retire(self._past, shard.socket.stats())

    def shard_assets(self) -> tuple[frozenset[TokenId], ...]:
        """The tokens of each open connection (for tests and status)."""
        with self._lock:
            return tuple(frozenset(shard.assets) for shard in self._shards)

    # Used by the shards, on their sockets' threads.
    @property
    def tally(self) -> _Tally:
        return self._tally

    def deliver(self, event: MarketEvent) -> None:
        self._deliver(event)

    def parse(self, text: str) -> FrameParse:
        return parse_frame(text, tick_size_if_absent=self._tick_size_if_absent)

    def first_resolution(self, condition_id: ConditionId) -> bool:
        # The two tokens of a market may sit on different connections: each gets the event.
        with self._resolved_lock:
            if condition_id in self._resolved:
                return False
            self._resolved[condition_id] = None
            if len(self._resolved) > _RESOLUTIONS_KEPT:
                self._resolved.popitem(last=False)
            return True

    def _open(self) -> None:
        self._apply()

    def _apply(self) -> list[_Shard]:
        """Bring the shards to `_wanted`; returns the shards to close (lock held)."""
        current = set().union(*(shard.assets for shard in self._shards))
        removed = current - self._wanted
        added = sorted(self._wanted - current)
        retired = []
        for shard in self._shards:
            gone = shard.assets & removed
            if gone == shard.assets:
                shard.change(removed=gone)
                retired.append(shard)
            elif gone:
                shard.change(removed=gone)
        self._shards = [shard for shard in self._shards if shard not in retired]
        limit = self.max_assets_per_connection
        for shard in self._shards:
            room = limit - len(shard.assets)
            if room > 0 and added:
                shard.change(added=added[:room])
                added = added[room:]
        while added:
            shard = _Shard(self, added[:limit])
            added = added[limit:]
            self._shards.append(shard)
            shard.socket.start()
        return retired

    def _detach(self) -> list[FeedSocket]:
        shards, self._shards = self._shards, []
        return [shard.socket for shard in shards]

    def _sockets(self) -> list[FeedSocket]:
        return [shard.socket for shard in self._shards]


# --- user channel ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UserChannelAuth:
    """The L2 API credentials the user channel subscribes with (sent raw, as the venue asks).
    Each is a `SecretStr`: its repr is masked."""

    api_key: SecretStr
    secret: SecretStr
    passphrase: SecretStr

    @staticmethod
    def of(*, api_key: str, secret: str, passphrase: str) -> UserChannelAuth:
        return UserChannelAuth(
            api_key=SecretStr(api_key), secret=SecretStr(secret), passphrase=SecretStr(passphrase)
        )


class UserStream(_Stream[UserEvent]):
    """Our orders (PLACEMENT/UPDATE/CANCELLATION) and our fills (MATCHED, MINED, CONFIRMED,
    RETRYING, FAILED) as taker and as maker, on one authenticated connection.

    `identity` names our API keys and wallet addresses; the stream adds the API key it
    authenticates with, and learns the owner and address of every `order` event (the channel
    only sends our orders), so our maker fills are found even when the funder address was not
    given. `start()` waits up to `confirm_timeout_s` for the venue's first answer and raises
    `Unauthorized` if the venue refuses the credentials."""

    def __init__(
        self,
        *,
        url: str,
        auth: UserChannelAuth,
        identity: Identity,
        socket_settings: SocketSettings,
        clock: Clock,
        markets: Iterable[ConditionId] = (),
        recorder: FrameRecorder | None = None,
        confirm_timeout_s: float = 10.0,
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        self.url = url
        self._auth = auth
        for secret in (auth.secret, auth.passphrase):
            value = secret.get_secret_value()
            if len(value) >= MIN_SECRET_LENGTH:  # masked in every log line from now on
                register_secret(value)
        self._identity = identity.learn(owner=auth.api_key.get_secret_value(), address=None)
        self._settings = socket_settings
        self._clock = clock
        self._recorder = recorder
        self._confirm_timeout_s = confirm_timeout_s
        self._draw = draw
        self._markets: frozenset[ConditionId] = frozenset(markets)
        self._socket: FeedSocket | None = None

    def markets(self) -> frozenset[ConditionId]:
        return self._markets

    def set_markets(self, condition_ids: Iterable[ConditionId]) -> None:
        """Follow exactly these markets (condition ids), by operation messages on the open
        connection. An empty set is every market of the account, as on the venue."""
        wanted = frozenset(condition_ids)
        with self._lock:
            socket = self._socket

            def build() -> list[str]:
                added, removed = wanted - self._markets, self._markets - wanted
                self._markets = wanted
                messages = []
                if removed:
                    messages.append({"operation": "unsubscribe", "markets": sorted(removed)})
                if added:
                    messages.append({"operation": "subscribe", "markets": sorted(added)})
                return [json.dumps(m) for m in messages]

            if socket is None:
                build()
            else:
                socket.send_locked(build)

    def start(self) -> None:
        super().start()
        with self._lock:
            socket = self._socket
        if socket is None:
            return
        try:
            if not socket.wait_confirmed(self._confirm_timeout_s):
                _log.warning(
                    "user channel at %s has not answered within %.1fs; still trying",
                    self.url,
                    self._confirm_timeout_s,
                )
        except SubscriptionRefused as e:
            self.close()
            raise Unauthorized(
                rule="user channel subscription",
                value=self.url,
                detail=(
                    f"the venue refused our API credentials (closed with code {e.code} "
                    f"{e.reason!r}); check POLYACTOR_API_KEY, POLYACTOR_API_SECRET and "
                    "POLYACTOR_API_PASSPHRASE"
                ),
            ) from None

    def _subscription(self) -> list[str]:
        auth = {
            "apiKey": self._auth.api_key.get_secret_value(),
            "secret": self._auth.secret.get_secret_value(),
            "passphrase": self._auth.passphrase.get_secret_value(),
        }
        return [json.dumps({"type": "user", "auth": auth, "markets": sorted(self._markets)})]

    def _parse(self, text: str) -> FrameParse:
        parsed = parse_frame(text, self._identity, learn_identity=True)
        self._identity = parsed.identity  # only the socket's thread parses
        return parsed

    def _on_parsed(self, parsed: FrameParse) -> None:
        for event in parsed.events:
            match event:
                case OrderUpdate() | TradeUpdate():
                    self._deliver(event)
                case _:
                    self._tally.count("ignored")

    def _open(self) -> None:
        self._socket = FeedSocket(
            url=self.url,
            channel="user",
            settings=self._settings,
            subscription=self._subscription,
            parse=self._parse,
            on_parsed=self._on_parsed,
            clock=self._clock,
            recorder=self._recorder,
            draw=self._draw,
        )
        self._socket.start()

    def _detach(self) -> list[FeedSocket]:
        socket, self._socket = self._socket, None
        return [] if socket is None else [socket]

    def _sockets(self) -> list[FeedSocket]:
        return [] if self._socket is None else [self._socket]


# --- reference prices ------------------------------------------------------------------------


def _rtds_symbol(asset: str, topic: str) -> str:
    return f"{asset.lower()}usdt" if topic == BINANCE_TOPIC else f"{asset.lower()}/usd"


class PriceStream(_Stream[SpotPrice]):
    """The spot price of each asset from the real-time data stream (RTDS): `topic` is
    `crypto_prices_chainlink` (what Up/Down windows resolve on) or `crypto_prices` (Binance).

    The venue sends recent points on every (re)subscription; a point no newer than the last
    one delivered for its asset is not delivered again."""

    def __init__(
        self,
        *,
        url: str,
        topic: str,
        assets: Iterable[str],
        socket_settings: SocketSettings,
        clock: Clock,
        recorder: FrameRecorder | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        if topic not in (CHAINLINK_TOPIC, BINANCE_TOPIC):
            msg = f"unknown price topic {topic!r}: use {CHAINLINK_TOPIC} or {BINANCE_TOPIC}"
            raise ValueError(msg)
        self.url = url
        self.topic = topic
        self.assets = frozenset(asset.upper() for asset in assets)
        self._settings = socket_settings
        self._clock = clock
        self._recorder = recorder
        self._draw = draw
        self._last_seen: dict[str, float] = {}
        self._socket: FeedSocket | None = None

    def _subscription(self) -> list[str]:
        subscriptions = [
            {
                "topic": self.topic,
                "type": "*",
                "filters": json.dumps({"symbol": _rtds_symbol(asset, self.topic)}),
            }
            for asset in sorted(self.assets)
        ]
        return [json.dumps({"action": "subscribe", "subscriptions": subscriptions})]

    def _on_parsed(self, parsed: FrameParse) -> None:
        for event in parsed.events:
            if (
                isinstance(event, SpotPrice)
                and event.asset in self.assets
                and event.timestamp > self._last_seen.get(event.asset, float("-inf"))
            ):
                self._last_seen[event.asset] = event.timestamp
                self._deliver(event)
            else:
                self._tally.count("ignored")

    def _open(self) -> None:
        self._socket = FeedSocket(
            url=self.url,
            channel="rtds",
            settings=self._settings,
            subscription=self._subscription,
            parse=parse_frame,
            on_parsed=self._on_parsed,
            clock=self._clock,
            recorder=self._recorder,
            draw=self._draw,
        )
        self._socket.start()

    def _detach(self) -> list[FeedSocket]:
        socket, self._socket = self._socket, None
        return [] if socket is None else [socket]

    def _sockets(self) -> list[FeedSocket]:
        return [] if self._socket is None else [self._socket]


# --- construction from the YAML --------------------------------------------------------------


def _socket_settings(
    live: LiveSettings,
    *,
    ping_interval_s: float,
    silent_timeout_s: float | None,
    notices_keep_alive: bool,
) -> SocketSettings:
    return SocketSettings(
        ping_interval_s=ping_interval_s,
        ping_text="PING",
        silent_timeout_s=silent_timeout_s,
        notices_keep_alive=notices_keep_alive,
        backoff_base_s=live.ws_reconnect_base_s,
        backoff_cap_s=live.ws_reconnect_cap_s,
        connect_timeout_s=live.request_timeout_s,
    )


def recorder_from(
    live: LiveSettings, clock: Clock, path: Path | None = None
) -> FrameRecorder | None:
    """The frame recorder `live.record_path` (or `path`, from the command line) asks for."""
    target = path if path is not None else live.record_path
    return None if target is None else FrameRecorder(target, clock)


def market_stream_factory(
    live: LiveSettings, *, clock: Clock, recorder: FrameRecorder | None = None
) -> MarketStream:
    """The market channel as configured; pass it as the venue's `market_stream` and call its
    `set_assets` when the windows followed change."""
    return MarketStream(
        url=live.ws_market_url,
        socket_settings=_socket_settings(
            live,
            ping_interval_s=live.ws_ping_interval_s,
            silent_timeout_s=live.ws_silent_timeout_s,
            notices_keep_alive=False,
        ),
        max_assets_per_connection=live.ws_max_assets_per_connection,
        custom_features=live.ws_custom_features,
        clock=clock,
        recorder=recorder,
    )


def user_stream_factory(
    live: LiveSettings,
    auth: UserChannelAuth,
    identity: Identity,
    *,
    clock: Clock,
    markets: Iterable[ConditionId] = (),
    recorder: FrameRecorder | None = None,
) -> UserStream:
    """The user channel as configured; pass it as the venue's `user_stream`. It is quiet
    when we have no orders, so only a lost PONG (not missing data) recycles it."""
    return UserStream(
        url=live.ws_user_url,
        auth=auth,
        identity=identity,
        socket_settings=_socket_settings(
            live,
            ping_interval_s=live.ws_ping_interval_s,
            silent_timeout_s=max(live.ws_silent_timeout_s, 3 * live.ws_ping_interval_s),
            notices_keep_alive=True,
        ),
        clock=clock,
        markets=markets,
        recorder=recorder,
        confirm_timeout_s=live.request_timeout_s,
    )


def price_stream_factory(
    live: LiveSettings,
    assets: Iterable[str],
    *,
    clock: Clock,
    recorder: FrameRecorder | None = None,
) -> PriceStream:
    """The reference price feed of `assets` ("BTC", ...) from `live.price_source`."""
    topic = BINANCE_TOPIC if live.price_source is PriceSource.RTDS_BINANCE else CHAINLINK_TOPIC
    settings = _socket_settings(
        live,
        ping_interval_s=live.rtds_ping_interval_s,
        silent_timeout_s=live.ws_silent_timeout_s,
        notices_keep_alive=False,
    )
    return PriceStream(
        url=live.rtds_url,
        topic=topic,
        assets=assets,
        socket_settings=replace(settings, ping_text="ping"),
        clock=clock,
        recorder=recorder,
    )
