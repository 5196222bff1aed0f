"""One reconnecting websocket connection on websocket-client, run by one daemon thread.

The thread connects, sends the subscription the owner computes for this connection, then reads
frames, sends the text keepalive (`PING`, or `ping` on the price stream) every
`ping_interval_s`, and recycles the connection when it goes silent: Polymarket's sockets can
stay open, answering PING, while delivering no data (polymarket_api.md 4.1). Any loss of the
connection is followed by a reconnect after a capped, jittered exponential backoff
(`state.backoff.backoff_delay_s`). The one thing that stops the loop besides `close()` is the
venue refusing the subscription (close code 1008): resending the same subscription cannot
succeed, so the socket reports `SubscriptionRefused` instead of hammering the venue.

A frame the parser refuses is counted and dropped, and the feed goes on; the warnings are
rate-limited so a venue that changes a format cannot flood the log.

Threads: the socket's own thread does all reading and the keepalive; `send_locked` may be called
from any thread (dynamic subscriptions) and is serialised with the subscription under one lock,
so an operation message can never overtake the initial subscription of a new connection.
"""

from __future__ import annotations

import logging
import random
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto

import websocket

from runtime.clock import Clock
from state.backoff import backoff_delay_s
from venues.live.recorder import FrameRecorder
from venues.live.wire import FrameParse, ServerNotice

__all__ = ["FeedSocket", "SocketSettings", "SocketStats", "SubscriptionRefused"]

_log = logging.getLogger(__name__)

_POLICY_VIOLATION = 1008
"""The close code the CLOB answers a subscription it refuses with (bad auth or payload)."""

_WARN_INTERVAL_S = 10.0
"""At most one warning per this many seconds per socket and kind; the rest are counted."""


class SubscriptionRefused(ConnectionError):
    """The venue closed the socket on our subscription (code 1008). The message names the
    channel, the url, the code and the venue's reason, never the subscription's content
    (it carries the user channel's credentials)."""

    def __init__(self, *, channel: str, url: str, code: int, reason: str) -> None:
        super().__init__(
            f"the {channel} channel at {url} refused the subscription: "
            f"closed with code {code} {reason!r}"
        )
        self.channel = channel
        self.url = url
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketSettings:
    """How one connection is kept alive. Durations are real seconds."""

    ping_interval_s: float = 10.0
    ping_text: str = "PING"
    # No data for this long while connected: close and reconnect. None: never (user channel,
    # which is legitimately quiet when we have no orders).
    silent_timeout_s: float | None = 30.0
    # Whether a text notice (PONG) proves the socket alive. Not on data channels: a silent
    # socket still answers PING.
    notices_keep_alive: bool = False
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    backoff_jitter: float = 0.5
    connect_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketStats:
    """Counters since the socket was built. `dropped` counts messages the parser refused."""

    frames: int = 0
    notices: int = 0
    events: int = 0
    dropped: int = 0
    connects: int = 0
    reconnects: int = 0
    silent_recycles: int = 0
    is_connected: bool = False
    failure: str | None = None


class _End(Enum):
    STOPPED = auto()
    CLOSED = auto()
    SILENT = auto()


@dataclass(slots=True)
class _Throttle:
    """One warning per interval; what was held back is counted into the next one."""

    interval_s: float
    last: float | None = None
    held: int = 0

    def admit(self, now: float) -> int | None:
        """The number of warnings held back since the last one, or None to hold this one."""
        if self.last is not None and now - self.last < self.interval_s:
            self.held += 1
            return None
        held, self.held, self.last = self.held, 0, now
        return held


@dataclass(slots=True)
class _Counters:
    frames: int = 0
    notices: int = 0
    events: int = 0
    dropped: int = 0
    connects: int = 0
    reconnects: int = 0
    silent_recycles: int = 0
    throttles: dict[str, _Throttle] = field(default_factory=dict)


class FeedSocket:
    """One reconnecting connection to `url`.

    Args:
        url: the websocket endpoint.
        channel: a short name for logs, errors and the recorder ("market", "user", "rtds").
        settings: keepalive, silence and backoff.
        subscription: the messages to send on every (re)connect, called under the send lock.
        parse: turns one frame's text into a `FrameParse` (bound to the channel's identity).
        on_parsed: gets every parsed frame, on the socket's thread; must be quick.
        clock: measures the keepalive and silence intervals (`monotonic`).
        recorder: appends every raw frame received, when given.
        draw: uniform [0, 1) numbers for the backoff jitter.
    """

    def __init__(
        self,
        *,
        url: str,
        channel: str,
        settings: SocketSettings,
        subscription: Callable[[], Sequence[str]],
        parse: Callable[[str], FrameParse],
        on_parsed: Callable[[FrameParse], None],
        clock: Clock,
        recorder: FrameRecorder | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.channel = channel
        self._settings = settings
        self._subscription = subscription
        self._parse = parse
        self._on_parsed = on_parsed
        self._clock = clock
        self._recorder = recorder
        self._draw = draw
        self._send_lock = threading.Lock()
        self._ws: websocket.WebSocket | None = None
        self._is_subscribed = False
        self._stopping = threading.Event()
        self._confirmed = threading.Event()  # the first frame after a subscription arrived
        self._ended = threading.Event()  # the thread will not connect again
        self._counters = _Counters()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"feed-{channel}", daemon=True)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop reconnecting, cut the connection and join the thread within `timeout_s`."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            ws.abort()  # type: ignore[no-untyped-call]  # wakes the reader at once instead of at its next poll
        if threading.current_thread() is self._thread:
            return  # closed from our own callback: the loop ends when the callback returns
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            _log.warning("feed socket %s did not stop within %.1fs", self.channel, timeout_s)

    def wait_confirmed(self, timeout_s: float) -> bool:
        """Wait until the venue answered a subscription (any frame, PONG included). Raises
        `SubscriptionRefused` if it refused it; False if neither happened in time."""
        deadline = self._clock.monotonic() + timeout_s
        while not self._confirmed.is_set() and not self._ended.is_set():
            left = deadline - self._clock.monotonic()
            if left <= 0:
                break
            self._confirmed.wait(min(left, 0.05))
        if isinstance(self._failure, SubscriptionRefused):
            raise self._failure
        return self._confirmed.is_set()

    @property
    def is_connected(self) -> bool:
        return self._is_subscribed

    def stats(self) -> SocketStats:
        c = self._counters
        return SocketStats(
            frames=c.frames,
            notices=c.notices,
            events=c.events,
            dropped=c.dropped,
            connects=c.connects,
            reconnects=c.reconnects,
            silent_recycles=c.silent_recycles,
            is_connected=self._is_subscribed,
            failure=None if self._failure is None else str(self._failure),
        )

    # --- sending from any thread ---------------------------------------------------------

    def send_locked(self, build: Callable[[], Sequence[str]]) -> bool:
        """Run `build` under the send lock and send the messages it returns if the connection
        is subscribed. `build` is where the owner changes the state `subscription` reads, so a
        connection being set up sends either the old state plus this message, or the new
        state: never a message before its subscription. Returns whether it was sent."""
        with self._send_lock:
            messages = build()
            ws = self._ws
            if not messages or ws is None or not self._is_subscribed:
                return False
            try:
                for message in messages:
                    ws.send(message)
            except (OSError, websocket.WebSocketException) as e:
                # The reader sees the broken connection too and reconnects; the next
                # subscription carries the state `build` just recorded.
                _log.info("feed %s: send failed (%s); the reconnect resubscribes", self.channel, e)
                return False
        return True

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connect_forever()
        except SubscriptionRefused as e:
            self._failure = e
            _log.error("feed %s stopped: %s", self.channel, e)
        except Exception as e:  # noqa: BLE001 - recorded in stats and logged, the feed stops
            # The owner's callback failed: a feed that stops must say so (invariant 10).
            self._failure = e
            _log.exception("feed %s stopped by an unexpected error", self.channel)
        finally:
            self._is_subscribed = False
            self._ended.set()

    def _connect_forever(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if self._counters.connects or failures:
                self._counters.reconnects += 1
            try:
                # Invalid UTF-8 is the parser's to count and drop, not a reason to reconnect.
                ws = websocket.create_connection(
                    self.url, timeout=self._settings.connect_timeout_s, skip_utf8_validation=True
                )
            except (OSError, websocket.WebSocketException) as e:
                failures += 1
                self._warn(
                    "connect", "feed %s: cannot connect to %s: %s", self.channel, self.url, e
                )
                self._hold_off(failures)
                continue
            self._counters.connects += 1
            try:
                end = self._session(ws)
            finally:
                self._disconnect(ws)
            if end is _End.STOPPED:
                return
            # A session that got data proves the venue reachable: start the backoff over.
            failures = 1 if self._confirmed.is_set() else failures + 1
            self._hold_off(failures)

    def _hold_off(self, failures: int) -> None:
        s = self._settings
        delay = backoff_delay_s(
            failures,
            base_s=s.backoff_base_s,
            cap_s=s.backoff_cap_s,
            jitter=s.backoff_jitter,
            draw=self._draw(),
        )
        self._stopping.wait(delay)

    def _disconnect(self, ws: websocket.WebSocket) -> None:
        with self._send_lock:
            self._ws = None
            self._is_subscribed = False
        ws.abort()  # type: ignore[no-untyped-call]
        ws.shutdown()  # type: ignore[no-untyped-call]

    def _subscribe(self, ws: websocket.WebSocket) -> None:
        with self._send_lock:
            self._confirmed.clear()
            for message in self._subscription():
                ws.send(message)
            # Right after the subscription, never before it (the CLOB closes a socket whose
            # first message is PING): the answer confirms the subscription was accepted.
            ws.send(self._settings.ping_text)
            self._ws = ws
            self._is_subscribed = True

    def _session(self, ws: websocket.WebSocket) -> _End:
        s = self._settings
        try:
            self._subscribe(ws)
        except (OSError, websocket.WebSocketException) as e:
            _log.info("feed %s: subscription not sent (%s)", self.channel, e)
            return _End.CLOSED
        poll_s = min(0.25, s.ping_interval_s / 2, (s.silent_timeout_s or 1.0) / 4)
        ws.settimeout(poll_s)
        now = self._clock.monotonic()
        next_ping, last_alive = now + s.ping_interval_s, now
        while not self._stopping.is_set():
            now = self._clock.monotonic()
            if s.silent_timeout_s is not None and now - last_alive > s.silent_timeout_s:
                self._counters.silent_recycles += 1
                _log.info(
                    "feed %s: no data for %.1fs, reconnecting", self.channel, now - last_alive
                )
                return _End.SILENT
            if now >= next_ping:
                next_ping = now + s.ping_interval_s
                if not self.send_locked(lambda: (s.ping_text,)):
                    return _End.CLOSED
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException) as e:
                if not self._stopping.is_set():
                    _log.info("feed %s: connection lost (%s)", self.channel, e)
                return _End.STOPPED if self._stopping.is_set() else _End.CLOSED
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self._on_close(data)
                return _End.CLOSED
            is_data_frame = opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY)
            if is_data_frame and self._on_frame(data):
                last_alive = self._clock.monotonic()
        return _End.STOPPED

    def _on_close(self, payload: bytes) -> None:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        reason = payload[2:].decode("utf-8", errors="replace")
        if code == _POLICY_VIOLATION and not self._stopping.is_set():
            raise SubscriptionRefused(channel=self.channel, url=self.url, code=code, reason=reason)
        _log.info("feed %s: the venue closed the socket (%d %r)", self.channel, code, reason)

    def _on_frame(self, data: bytes | str) -> bool:
        """Count, record and parse one frame; True when it proves the feed alive."""
        c = self._counters
        c.frames += 1
        self._confirmed.set()
        text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
        if self._recorder is not None:
            self._recorder.write(self.channel, text)
        parsed = self._parse(text)
        c.notices += len(parsed.notices)
        c.events += len(parsed.events)
        if parsed.rejected_count:
            c.dropped += parsed.rejected_count
            self._warn(
                "malformed",
                "feed %s: dropped %d message(s) the parser refused: %s",
                self.channel,
                parsed.rejected_count,
                parsed.errors[0],
            )
        if ServerNotice.INVALID_OPERATION in parsed.notices:
            self._warn("invalid", "feed %s: the venue answered INVALID OPERATION", self.channel)
        self._on_parsed(parsed)
        return bool(parsed.events or parsed.rejected_count) or self._settings.notices_keep_alive

    def _warn(self, kind: str, message: str, *args: object) -> None:
        throttle = self._counters.throttles.setdefault(kind, _Throttle(_WARN_INTERVAL_S))
        held = throttle.admit(self._clock.monotonic())
        if held is None:
            return
        suffix = f" (and {held} more like it since the last warning)" if held else ""
        _log.warning(message + suffix, *args)
