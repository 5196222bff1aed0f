"""One reconnecting websocket against the local exchange, over 127.0.0.1 with websocket-client:
subscription on every connect, keepalive, reconnect after a drop, silence, refusals, close."""

from __future__ import annotations

import json
import socket as stdlib_socket
import time
from dataclasses import replace

import pytest

from runtime.clock import RealClock
from tests.waiting import wait_for
from venues.live.socket import FeedSocket, SocketSettings, SubscriptionRefused
from venues.live.wire import FrameParse, parse_frame
from venues.sandbox import SandboxServer

from .conftest import FAST, first_window


class _Recorder:
    """What the socket handed over, and how often it asked for the subscription."""

    def __init__(self, subscription: list[str]) -> None:
        self.messages = subscription
        self.subscriptions = 0
        self.parsed: list[FrameParse] = []

    def subscription(self) -> list[str]:
        self.subscriptions += 1
        return self.messages


def _market_socket(
    server: SandboxServer, seen: _Recorder, settings: SocketSettings = FAST
) -> FeedSocket:
    return FeedSocket(
        url=server.ws_url + "market",
        channel="market",
        settings=settings,
        subscription=seen.subscription,
        parse=parse_frame,
        on_parsed=seen.parsed.append,
        clock=RealClock(),
    )


def _subscribe_to(server: SandboxServer) -> _Recorder:
    window = first_window(server)
    return _Recorder([json.dumps({"type": "market", "assets_ids": list(window.tokens)})])


def test_it_subscribes_receives_frames_and_keeps_the_connection_alive_with_ping(
    moving_server: SandboxServer,
) -> None:
    seen = _subscribe_to(moving_server)
    feed = _market_socket(moving_server, seen)
    feed.start()
    try:
        assert feed.wait_confirmed(5)
        assert wait_for(lambda: feed.stats().notices >= 3)  # PONGs: a PING every 0.2 s
        stats = feed.stats()
        assert stats.is_connected
        assert stats.connects == 1
        assert stats.events > 0
        assert seen.subscriptions == 1
    finally:
        feed.close()


def test_a_dropped_connection_is_reopened_and_subscribed_again(
    moving_server: SandboxServer,
) -> None:
    seen = _subscribe_to(moving_server)
    feed = _market_socket(moving_server, seen)
    feed.start()
    try:
        assert wait_for(lambda: feed.stats().events > 0)
        moving_server.drop_sockets()
        assert wait_for(lambda: feed.stats().connects == 2)
        events_after_drop = feed.stats().events
        assert wait_for(lambda: feed.stats().events > events_after_drop)
        assert seen.subscriptions == 2
        assert feed.stats().reconnects == 1
    finally:
        feed.close()


def test_a_silent_connection_is_recycled_within_the_silent_timeout(
    moving_server: SandboxServer,
) -> None:
    seen = _subscribe_to(moving_server)
    feed = _market_socket(moving_server, seen)
    feed.start()
    try:
        assert wait_for(lambda: feed.stats().events > 0)
        moving_server.set_silent(True)
        silenced_at = time.monotonic()
        # PONGs keep flowing, yet the socket is recycled: silence is the absence of data.
        assert wait_for(lambda: feed.stats().silent_recycles >= 1, timeout_s=3)
        assert time.monotonic() - silenced_at < FAST.silent_timeout_s + 0.75  # type: ignore[operator]
        moving_server.set_silent(False)
        events = feed.stats().events
        assert wait_for(lambda: feed.stats().events > events)
        assert seen.subscriptions >= 2
    finally:
        moving_server.set_silent(False)
        feed.close()


def test_a_malformed_frame_is_counted_and_dropped_and_the_feed_goes_on(
    moving_server: SandboxServer,
) -> None:
    seen = _subscribe_to(moving_server)
    feed = _market_socket(moving_server, seen)
    feed.start()
    try:
        assert wait_for(lambda: feed.stats().events > 0)
        moving_server.send_raw('{"event_type": "book", "bids": [')
        moving_server.send_raw('{"event_type": "no_such_event"}')
        assert wait_for(lambda: feed.stats().dropped == 2)
        events = feed.stats().events
        assert wait_for(lambda: feed.stats().events > events)
        assert feed.stats().connects == 1  # dropping a message never costs the connection
        assert feed.stats().failure is None
    finally:
        feed.close()


def test_a_refused_subscription_stops_the_socket_with_the_venues_reason(
    moving_server: SandboxServer,
) -> None:
    seen = _Recorder([json.dumps({"type": "not-a-channel"})])
    feed = _market_socket(moving_server, seen)
    feed.start()
    try:
        with pytest.raises(SubscriptionRefused, match="1008") as refused:
            feed.wait_confirmed(5)
        assert refused.value.reason == "invalid subscription payload"
        time.sleep(0.3)  # several backoff periods: it must not try again
        assert feed.stats().connects == 1
        assert "refused the subscription" in (feed.stats().failure or "")
    finally:
        feed.close()


def test_an_unreachable_venue_is_retried_with_backoff_and_close_is_prompt() -> None:
    with stdlib_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    feed = FeedSocket(
        url=f"ws://127.0.0.1:{port}/ws/market",
        channel="market",
        settings=replace(FAST, backoff_base_s=0.02, backoff_cap_s=0.08),
        subscription=list,
        parse=parse_frame,
        on_parsed=lambda _: None,
        clock=RealClock(),
    )
    feed.start()
    assert wait_for(lambda: feed.stats().reconnects >= 3)
    assert feed.stats().connects == 0
    assert not feed.wait_confirmed(0.05)
    started = time.monotonic()
    feed.close(timeout_s=2)
    assert time.monotonic() - started < 0.5
    assert not feed.stats().is_connected


def test_close_ends_a_connected_socket_within_its_bound(moving_server: SandboxServer) -> None:
    seen = _subscribe_to(moving_server)
    feed = _market_socket(moving_server, seen)
    feed.start()
    assert feed.wait_confirmed(5)
    started = time.monotonic()
    feed.close(timeout_s=2)
    assert time.monotonic() - started < 0.5
    frames = feed.stats().frames
    time.sleep(0.2)
    assert feed.stats().frames == frames
    assert not feed.stats().is_connected
