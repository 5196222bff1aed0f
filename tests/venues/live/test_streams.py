"""The market, user and price streams against the local exchange, with websocket-client and the
real py-clob-client-v2 placing the orders whose fills the user channel reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgs, OrderType

from config.settings import LiveSettings, PriceSource
from runtime.clock import ManualClock, RealClock
from tests.waiting import wait_for
from venues.errors import Unauthorized
from venues.live.recorder import FrameRecorder
from venues.live.replay import replay_frames
from venues.live.streams import (
    BINANCE_TOPIC,
    CHAINLINK_TOPIC,
    MarketStream,
    PriceStream,
    UserChannelAuth,
    UserStream,
    market_stream_factory,
    price_stream_factory,
    recorder_from,
    user_stream_factory,
)
from venues.live.wire import Identity, encode_book, encode_price_change
from venues.sandbox import SandboxServer, serve
from venues.sandbox.state import SandboxState
from venues.types import (
    BookSnapshot,
    LastTrade,
    MarketEvent,
    OrderUpdate,
    PriceChange,
    PriceLevelChange,
    Side,
    SpotPrice,
    TokenId,
    TradeUpdate,
    UserEvent,
)

from .conftest import FAST, START, first_window, moving_sandbox_settings

# --- helpers -----------------------------------------------------------------------------------


class _Tagged:
    """Market events with the number of connections opened when each was delivered, so a test
    can tell the events of one connection from the next."""

    def __init__(self, stream: MarketStream) -> None:
        self._stream = stream
        self.events: list[tuple[int, MarketEvent]] = []

    def __call__(self, event: MarketEvent) -> None:
        self.events.append((self._stream.stats().connects, event))

    def since(self, connects: int) -> list[MarketEvent]:
        return [event for tag, event in self.events if tag > connects]


def _tokens(event: MarketEvent) -> set[TokenId]:
    match event:
        case PriceChange():
            return {level.token_id for level in event.changes}
        case BookSnapshot() | LastTrade():
            return {event.token_id}
        case _:
            return set()


def _first_event_of_each_token(events: list[MarketEvent]) -> dict[TokenId, type]:
    first: dict[TokenId, type] = {}
    for event in events:
        for token in _tokens(event):
            first.setdefault(token, type(event))
    return first


def _market_stream(server: SandboxServer, limit: int = 10, **changes: Any) -> MarketStream:
    return MarketStream(
        url=server.ws_url + "market",
        socket_settings=replace(FAST, **changes),
        max_assets_per_connection=limit,
        clock=RealClock(),
    )


def _changes_of_both(tagged: _Tagged, tokens: tuple[TokenId, ...], since: int = 0) -> bool:
    changed = {
        token
        for event in tagged.since(since)
        if isinstance(event, PriceChange)
        for token in _tokens(event)
    }
    return changed >= set(tokens)


# --- market channel ---------------------------------------------------------------------------


def test_a_market_subscription_gets_each_book_then_its_price_changes(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    stream = _market_stream(moving_server)
    stream.set_assets(window.tokens)
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens))
        events = tagged.since(0)
        assert _first_event_of_each_token(events) == {
            window.up_token: BookSnapshot,
            window.down_token: BookSnapshot,
        }
        stats = stream.stats()
        assert stats.connections == stats.connected == 1
        assert stats.delivered == len(tagged.events)
        assert stats.dropped == 0
    finally:
        unsubscribe()
    assert stream.stats().connections == 0  # the last subscriber leaving closes the stream


def test_set_assets_subscribes_and_unsubscribes_by_operation_and_removed_tokens_go_quiet(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    up, down = window.tokens
    stream = _market_stream(moving_server)
    stream.set_assets([up])
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert wait_for(lambda: any(isinstance(e, PriceChange) for _, e in tagged.events))
        assert {t for _, e in tagged.events for t in _tokens(e)} == {up}

        stream.set_assets([up, down])
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens))
        assert _first_event_of_each_token(tagged.since(0))[down] is BookSnapshot

        stream.set_assets([down])
        time.sleep(0.05)  # one event may be in a callback as the set changes
        settled = len(tagged.events)
        assert wait_for(lambda: len(tagged.events) > settled + 5)
        assert all(up not in _tokens(e) for _, e in tagged.events[settled:])
        assert stream.stats().connects == 1  # all of it on the one connection
        assert stream.shard_assets() == (frozenset({down}),)
    finally:
        unsubscribe()


def test_tokens_are_sharded_over_connections_by_the_per_connection_limit(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    up, down = window.tokens
    stream = _market_stream(moving_server, limit=1)
    stream.set_assets(window.tokens)
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert sorted(stream.shard_assets(), key=sorted) == sorted(
            [frozenset({up}), frozenset({down})], key=sorted
        )
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens))
        assert wait_for(lambda: stream.stats().connected == 2)
        assert _first_event_of_each_token(tagged.since(0)) == {
            up: BookSnapshot,
            down: BookSnapshot,
        }

        stream.set_assets([down])
        assert stream.stats().connections == 1  # a connection left with no token is closed
        stream.set_assets([up, down])
        assert stream.stats().connections == 2
    finally:
        unsubscribe()


def test_a_dropped_socket_reconnects_resubscribes_and_resends_books_before_changes(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    stream = _market_stream(moving_server)
    stream.set_assets(window.tokens)
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens))
        before = stream.stats().connects
        moving_server.drop_sockets()
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens, since=before))
        assert _first_event_of_each_token(tagged.since(before)) == {
            window.up_token: BookSnapshot,
            window.down_token: BookSnapshot,
        }
        assert stream.stats().reconnects == 1
    finally:
        unsubscribe()


def test_a_silent_socket_is_recycled_within_the_timeout_and_books_come_first_again(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    stream = _market_stream(moving_server)
    stream.set_assets(window.tokens)
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens))
        moving_server.set_silent(True)
        assert wait_for(lambda: stream.stats().silent_recycles >= 1, timeout_s=2.0)
        before = stream.stats().connects
        moving_server.set_silent(False)
        assert wait_for(lambda: _changes_of_both(tagged, window.tokens, since=before))
        assert _first_event_of_each_token(tagged.since(before)) == {
            window.up_token: BookSnapshot,
            window.down_token: BookSnapshot,
        }
    finally:
        moving_server.set_silent(False)
        unsubscribe()


def test_a_malformed_frame_is_counted_and_the_market_feed_survives(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    stream = _market_stream(moving_server)
    stream.set_assets(window.tokens)
    tagged = _Tagged(stream)
    unsubscribe = stream(tagged)
    try:
        assert wait_for(lambda: len(tagged.events) > 2)
        moving_server.send_raw('[{"event_type": "price_change", "market": 7}]')
        assert wait_for(lambda: stream.stats().dropped == 1)
        delivered = len(tagged.events)
        assert wait_for(lambda: len(tagged.events) > delivered)
        assert stream.stats().failures == ()
    finally:
        unsubscribe()


@pytest.fixture
def still_server() -> Iterator[SandboxServer]:
    """A sandbox whose market holds still unless a test moves it."""
    with serve(moving_sandbox_settings(), clock=ManualClock(START)) as running:
        yield running


def test_price_changes_of_a_token_are_held_back_until_its_book_arrives(
    still_server: SandboxServer,
) -> None:
    window = first_window(still_server)
    up, down = window.tokens
    stream = _market_stream(still_server, silent_timeout_s=None)  # this market holds still
    stream.set_assets([up])
    seen: list[MarketEvent] = []
    unsubscribe = stream(seen.append)
    try:
        assert wait_for(lambda: len(seen) == 1)  # the book of `up`
        still_server.set_silent(True)
        stream.set_assets([up, down])  # the book the venue sends for `down` is lost
        time.sleep(0.2)
        still_server.set_silent(False)
        level = PriceLevelChange(
            token_id=down,
            price=Decimal("0.40"),
            size=Decimal(10),
            side=Side.BUY,
            best_bid=Decimal("0.40"),
            best_ask=Decimal("0.60"),
        )
        change = PriceChange(condition_id=window.condition_id, changes=(level,), timestamp=START)
        still_server.send_raw(json.dumps(encode_price_change(change)))
        assert wait_for(lambda: stream.stats().held_before_book == 1)
        assert len(seen) == 1  # a delta on a book the consumer does not have is not delivered

        book = still_server.call(lambda state: state.book(down))
        still_server.send_raw(json.dumps(encode_book(book)))
        still_server.send_raw(json.dumps(encode_price_change(change)))
        assert wait_for(lambda: len(seen) == 3)
        assert [type(e) for e in seen[1:]] == [BookSnapshot, PriceChange]
    finally:
        unsubscribe()


# --- user channel -----------------------------------------------------------------------------


@pytest.fixture
def wallet() -> Any:
    return Account.create()


@pytest.fixture
def client(still_server: SandboxServer, wallet: Any) -> ClobClient:
    clob = ClobClient(still_server.url, chain_id=137, key=wallet.key.hex())
    clob.set_api_creds(clob.create_or_derive_api_key())
    return clob


def _auth(client: ClobClient, **changes: str) -> UserChannelAuth:
    creds = client.creds
    values = {
        "api_key": creds.api_key,
        "secret": creds.api_secret,
        "passphrase": creds.api_passphrase,
    }
    return UserChannelAuth.of(**{**values, **changes})


def _user_stream(server: SandboxServer, auth: UserChannelAuth, **kwargs: Any) -> UserStream:
    return UserStream(
        url=server.ws_url + "user",
        auth=auth,
        identity=kwargs.pop("identity", Identity()),
        socket_settings=replace(FAST, silent_timeout_s=None, notices_keep_alive=True),
        clock=RealClock(),
        confirm_timeout_s=5.0,
        **kwargs,
    )


def _best(client: ClobClient, token: str) -> tuple[Decimal, Decimal]:
    book = client.get_order_book(token)
    return Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])


def _post(client: ClobClient, token: str, price: Decimal, size: float, side: str) -> Any:
    order = client.create_order(OrderArgs(token_id=token, price=float(price), size=size, side=side))
    return client.post_order(order, OrderType.GTC)


def test_the_user_channel_refuses_bad_credentials_with_an_error_that_names_no_secret(
    still_server: SandboxServer, client: ClobClient
) -> None:
    wrong = "a-wrong-secret-of-some-length"
    stream = _user_stream(still_server, _auth(client, secret=wrong))
    with pytest.raises(Unauthorized) as refused:
        stream(lambda _: None)
    message = str(refused.value)
    assert "refused our API credentials" in message
    assert "POLYACTOR_API_SECRET" in message
    for secret in (wrong, client.creds.api_key, client.creds.api_passphrase):
        assert secret not in message
        assert secret not in repr(stream.stats())
    assert stream.stats().connections == 0
    assert client.creds.api_secret not in repr(_auth(client))


def test_our_fills_arrive_as_taker_and_as_maker(
    still_server: SandboxServer, client: ClobClient, wallet: Any
) -> None:
    window = first_window(still_server)
    token = window.up_token
    seen: list[UserEvent] = []
    # Only the API key is known: our maker address is learned from our own order events.
    stream = _user_stream(still_server, _auth(client), markets=[window.condition_id])
    unsubscribe = stream(seen.append)
    try:
        bid, ask = _best(client, token)
        taker_order = _post(client, token, ask, 10, "BUY")["orderID"]
        maker_order = _post(client, token, bid, 20, "BUY")["orderID"]
        assert wait_for(
            lambda: any(isinstance(e, OrderUpdate) and e.order_id == maker_order for e in seen)
        )
        hit = LastTrade(
            condition_id=window.condition_id,
            token_id=TokenId(token),
            price=bid,
            size=Decimal(500),
            side=Side.SELL,
            timestamp=START,
        )

        def trade_through_our_bid(state: SandboxState) -> None:
            state.exchange.on_market_event(hit)
            state.publish()

        still_server.call(trade_through_our_bid)

        def fills() -> dict[str, TradeUpdate]:
            return {e.order_id: e for e in seen if isinstance(e, TradeUpdate)}

        assert wait_for(lambda: {taker_order, maker_order} <= set(fills()))
        taker, maker = fills()[taker_order], fills()[maker_order]
        assert (taker.is_maker, taker.side, taker.size, taker.price) == (
            False,
            Side.BUY,
            Decimal(10),
            ask,
        )
        assert (maker.is_maker, maker.side, maker.size, maker.price) == (
            True,
            Side.BUY,
            Decimal(20),
            bid,
        )
        assert stream.stats().dropped == 0
    finally:
        unsubscribe()


def test_set_markets_changes_which_markets_report_to_us(
    still_server: SandboxServer, client: ClobClient
) -> None:
    window = first_window(still_server)
    seen: list[UserEvent] = []
    stream = _user_stream(still_server, _auth(client), markets=["0x" + "ab" * 32])
    unsubscribe = stream(seen.append)
    try:
        bid, _ = _best(client, window.up_token)
        _post(client, window.up_token, bid - Decimal("0.05"), 5, "BUY")
        time.sleep(0.3)
        assert seen == []  # another market's events only

        stream.set_markets([window.condition_id])
        second = _post(client, window.up_token, bid - Decimal("0.06"), 5, "BUY")["orderID"]
        assert wait_for(lambda: any(e.order_id == second for e in seen))
        assert stream.markets() == frozenset({window.condition_id})
    finally:
        unsubscribe()


# --- price stream and recording --------------------------------------------------------------


def test_the_price_stream_delivers_a_spot_price_per_asset() -> None:
    with serve(moving_sandbox_settings("BTC", "ETH")) as server:
        stream = PriceStream(
            url=server.rtds_url,
            topic=CHAINLINK_TOPIC,
            assets=["btc", "ETH"],
            socket_settings=replace(FAST, ping_text="ping"),
            clock=RealClock(),
        )
        prices: list[SpotPrice] = []
        unsubscribe = stream(prices.append)
        try:
            assert wait_for(lambda: {p.asset for p in prices} == {"BTC", "ETH"})
            assert all(p.price > 0 for p in prices)
            for asset in ("BTC", "ETH"):
                stamps = [p.timestamp for p in prices if p.asset == asset]
                assert stamps == sorted(set(stamps))  # no point twice, none going back
            assert stream.stats().dropped == 0
        finally:
            unsubscribe()


def test_a_recording_of_all_three_channels_replays_with_no_rejected_frame(
    tmp_path: Path, wallet: Any
) -> None:
    path = tmp_path / "feeds" / "recording.jsonl"
    recorder = FrameRecorder(path, RealClock())
    with serve(moving_sandbox_settings()) as server:
        clob = ClobClient(server.url, chain_id=137, key=wallet.key.hex())
        clob.set_api_creds(clob.create_or_derive_api_key())
        window = first_window(server)
        market = MarketStream(
            url=server.ws_url + "market",
            socket_settings=FAST,
            max_assets_per_connection=1,
            clock=RealClock(),
            recorder=recorder,
        )
        market.set_assets(window.tokens)
        user = _user_stream(server, _auth(clob), recorder=recorder)
        prices = PriceStream(
            url=server.rtds_url,
            topic=CHAINLINK_TOPIC,
            assets=["BTC"],
            socket_settings=replace(FAST, ping_text="ping"),
            clock=RealClock(),
            recorder=recorder,
        )
        fills: list[UserEvent] = []
        closers = [market(lambda _: None), user(fills.append), prices(lambda _: None)]
        try:
            _, ask = _best(clob, window.up_token)
            _post(clob, window.up_token, ask + Decimal("0.05"), 5, "BUY")
            assert wait_for(lambda: any(isinstance(e, TradeUpdate) for e in fills))
            server.drop_sockets()  # a recording spans reconnects
            assert wait_for(lambda: market.stats().reconnects >= 2)
            time.sleep(0.3)
        finally:
            for close in closers:
                close()
            recorder.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == recorder.frames_written
    assert {line["channel"] for line in lines} == {"market", "user", "rtds"}
    assert all(isinstance(line["t"], float) for line in lines)

    result = replay_frames(path)

    assert result.rejected_frames == 0
    assert result.frames == recorder.frames_written
    assert result.events > 0
    assert result.notices > 0  # the PONGs are frames too


# --- construction from the YAML ---------------------------------------------------------------


def test_the_factories_build_each_stream_from_the_live_settings(tmp_path: Path) -> None:
    live = LiveSettings(
        ws_market_url="ws://127.0.0.1:1/ws/market",
        ws_max_assets_per_connection=7,
        ws_custom_features=False,
        price_source=PriceSource.RTDS_BINANCE,
        record_path=tmp_path / "frames.jsonl",
    )
    clock = RealClock()
    recorder = recorder_from(live, clock)
    assert recorder is not None
    assert recorder.path == tmp_path / "frames.jsonl"
    assert recorder_from(LiveSettings(), clock) is None

    market = market_stream_factory(live, clock=clock, recorder=recorder)
    assert (market.url, market.max_assets_per_connection, market.custom_features) == (
        "ws://127.0.0.1:1/ws/market",
        7,
        False,
    )
    assert market.socket_settings.silent_timeout_s == live.ws_silent_timeout_s
    prices = price_stream_factory(live, ["btc"], clock=clock)
    assert (prices.topic, prices.assets, prices.url) == (
        BINANCE_TOPIC,
        frozenset({"BTC"}),
        live.rtds_url,
    )
    auth = UserChannelAuth.of(api_key="key-1", secret="secret-1", passphrase="pass-1")
    user = user_stream_factory(live, auth, Identity(), clock=clock)
    assert user.url == live.ws_user_url
    recorder.close()


def test_a_reconnect_cap_below_its_base_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ws_reconnect_cap_s=0\.1 is below"):
        LiveSettings(ws_reconnect_base_s=1.0, ws_reconnect_cap_s=0.1)


def test_a_callback_may_unsubscribe_itself_and_the_stream_closes(
    moving_server: SandboxServer,
) -> None:
    window = first_window(moving_server)
    stream = _market_stream(moving_server)
    stream.set_assets(window.tokens)
    seen: list[MarketEvent] = []
    unsubscribe_box: list[Any] = []

    def once(event: MarketEvent) -> None:
        seen.append(event)
        unsubscribe_box[0]()

    unsubscribe_box.append(stream(once))
    assert wait_for(lambda: stream.stats().connections == 0)
    time.sleep(0.2)
    assert len(seen) <= 2  # the frame being read when it closed may hold one more event
    assert stream.stats().failures == ()
