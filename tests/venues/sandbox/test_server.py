"""The sandbox against the REAL py-clob-client-v2 and websocket-client, over 127.0.0.1.

The market runs on a ManualClock that the tests never advance unless they say so, so the
simulated book holds still while a test trades against it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websocket
from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    OpenOrderParams,
    OrderArgs,
    OrderPayload,
    OrderType,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.signer import Signer

from runtime.clock import ManualClock
from venues.live import wire as live_wire
from venues.paper.faults import FaultSettings
from venues.paper.ledger import Account as PaperAccount
from venues.paper.settings import PaperSettings
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sandbox.orders import EXCHANGE_V2
from venues.sandbox.state import SandboxState
from venues.sim.settings import SimAsset, SimSettings
from venues.types import LastTrade, MarketWindow, Side

START = 1_767_225_600.0 + 120  # two minutes into a 15-minute window


def _settings(**changes: Any) -> SandboxSettings:
    sim = SimSettings(
        assets=(SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.5),),
    )
    return SandboxSettings(sim=sim, start_time=START, **changes)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with serve(_settings(page_size=2), clock=ManualClock(START)) as running:
        yield running


@pytest.fixture
def wallet() -> Any:
    return Account.create()


@pytest.fixture
def client(server: SandboxServer, wallet: Any) -> ClobClient:
    clob = ClobClient(server.url, chain_id=137, key=wallet.key.hex())
    clob.set_api_creds(clob.create_or_derive_api_key())
    return clob


def _window(server: SandboxServer) -> MarketWindow:
    windows = server.call(lambda state: list(state.windows.values()))
    assert windows, "the market listed no window at start"
    return windows[0]


def _best(book: dict[str, Any]) -> tuple[Decimal, Decimal]:
    # The wire lists the best level last.
    return Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])


def _post(client: ClobClient, token: str, price: Decimal, size: float, side: str) -> Any:
    order = client.create_order(OrderArgs(token_id=token, price=float(price), size=size, side=side))
    return client.post_order(order, OrderType.GTC)


def test_an_api_key_is_created_once_and_derived_identically_afterwards(
    server: SandboxServer, wallet: Any
) -> None:
    clob = ClobClient(server.url, chain_id=137, key=wallet.key.hex())
    created = clob.create_api_key()
    with pytest.raises(PolyApiException) as second:
        clob.create_api_key()
    assert second.value.status_code == 400
    assert clob.derive_api_key() == created
    assert created.api_secret
    assert created.api_passphrase


def test_an_l1_request_signed_by_another_wallet_is_refused(server: SandboxServer) -> None:
    clob = ClobClient(server.url, chain_id=137, key=Account.create().key.hex())
    impostor = Account.create().address
    # The headers claim another wallet's address; the signature is still by our key.
    clob.signer.address = lambda: impostor
    with pytest.raises(PolyApiException) as refused:
        clob.derive_api_key()
    assert refused.value.status_code == 401
    assert refused.value.error_msg == {"error": "Invalid L1 Request headers"}


def test_public_market_data_matches_the_venues_shapes(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    token = window.up_token
    assert client.get_ok() == "OK"
    assert client.get_version() == 2
    assert client.get_tick_size(token) == "0.01"
    assert client.get_neg_risk(token) is False
    book = client.get_order_book(token)
    assert set(book) == {
        "market",
        "asset_id",
        "timestamp",
        "hash",
        "bids",
        "asks",
        "min_order_size",
        "tick_size",
        "neg_risk",
        "last_trade_price",
    }
    assert book["market"] == window.condition_id
    bid, ask = _best(book)
    assert Decimal(0) < bid < ask < Decimal(1)
    assert [Decimal(b["price"]) for b in book["bids"]] == sorted(
        Decimal(b["price"]) for b in book["bids"]
    )
    assert Decimal(client.get_midpoint(token)["mid"]) == (bid + ask) / 2
    info = client.get_clob_market_info(window.condition_id)
    assert {t["t"] for t in info["t"]} == set(window.tokens)
    market = client.get_market(window.condition_id)
    assert [t["outcome"] for t in market["tokens"]] == ["Up", "Down"]
    assert client.get_server_time() == int(START)


def test_a_signed_limit_order_rests_under_its_eip712_id_and_cancels(
    server: SandboxServer, client: ClobClient, wallet: Any
) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    price = bid - Decimal("0.05")
    signed = client.create_order(OrderArgs(token_id=token, price=float(price), size=10, side="BUY"))
    answer = client.post_order(signed, OrderType.GTC)

    builder = ExchangeOrderBuilderV2(EXCHANGE_V2, 137, Signer(wallet.key.hex(), 137))
    expected_id = builder.build_order_hash(builder.build_order_typed_data(signed))
    assert answer["success"] is True
    assert answer["status"] == "live"
    assert answer["orderID"] == expected_id
    open_orders = client.get_open_orders()
    assert [o["id"] for o in open_orders] == [expected_id]
    assert open_orders[0]["price"] == str(price)
    assert open_orders[0]["original_size"] == "10"
    assert open_orders[0]["maker_address"] == wallet.address
    assert client.get_order(expected_id)["status"] == "LIVE"
    assert Decimal(client.get_order_book(token)["bids"][-1]["price"]) == bid  # ours is lower

    assert client.cancel_order(OrderPayload(orderID=expected_id)) == {
        "canceled": [expected_id],
        "not_canceled": {},
    }
    assert client.get_open_orders() == []
    assert client.get_order(expected_id) is None
    again = client.cancel_order(OrderPayload(orderID=expected_id))
    assert again["not_canceled"] == {expected_id: "already canceled or matched"}


def test_open_orders_page_with_cursors_until_the_end_cursor(
    server: SandboxServer, client: ClobClient
) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    ids = [_post(client, token, bid - Decimal("0.01") * k, 5, "BUY")["orderID"] for k in (3, 4, 5)]
    first = client.get_open_orders(only_first_page=True)
    assert len(first) == 2  # page_size 2
    assert sorted(o["id"] for o in client.get_open_orders()) == sorted(ids)
    mine = client.get_open_orders(OpenOrderParams(id=ids[1]))
    assert [o["id"] for o in mine] == [ids[1]]
    assert client.cancel_all()["canceled"]
    assert client.get_open_orders() == []


def test_a_crossing_order_fills_and_shows_in_trades_and_balances(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    token = window.up_token
    collateral = BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
    before = int(client.get_balance_allowance(collateral)["balance"])
    _, ask = _best(client.get_order_book(token))

    answer = _post(client, token, ask, 10, "BUY")

    assert answer["status"] == "matched"
    assert Decimal(answer["takingAmount"]) == 10
    assert Decimal(answer["makingAmount"]) == ask * 10
    assert len(answer["tradeIDs"]) == 1
    assert answer["transactionsHashes"][0].startswith("0x")
    trades = client.get_trades(TradeParams(market=window.condition_id))
    assert [t["id"] for t in trades] == answer["tradeIDs"]
    trade = trades[0]
    assert trade["taker_order_id"] == answer["orderID"]
    assert trade["trader_side"] == "TAKER"
    assert trade["side"] == "BUY"
    assert (Decimal(trade["size"]), Decimal(trade["price"])) == (Decimal(10), ask)
    assert trade["outcome"] == "Up"
    after = client.get_balance_allowance(collateral)
    assert int(after["balance"]) < before - int(ask * 10 * 1_000_000) + 1
    assert EXCHANGE_V2 in after["allowances"]
    shares = client.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token)
    )
    assert int(shares["balance"]) > 0
    assert client.update_balance_allowance(collateral) == ""


def test_a_batch_of_orders_is_placed_leg_by_leg(server: SandboxServer, client: ClobClient) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    legs = [
        PostOrdersV2Args(
            order=client.create_order(
                OrderArgs(
                    token_id=token, price=float(bid - Decimal("0.01") * k), size=5, side="BUY"
                )
            ),
            orderType=OrderType.GTC,
        )
        for k in (2, 3)
    ]
    answers = client.post_orders(legs)
    assert [a["status"] for a in answers] == ["live", "live"]
    assert len(client.get_open_orders()) == 2


def test_a_tampered_order_is_rejected_with_the_venues_invalid_signature(
    server: SandboxServer, client: ClobClient
) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    signed = client.create_order(
        OrderArgs(token_id=token, price=float(bid - Decimal("0.05")), size=10, side="BUY")
    )
    tampered = replace(signed, makerAmount=str(int(signed.makerAmount) * 2))
    with pytest.raises(PolyApiException) as refused:
        client.post_order(tampered, OrderType.GTC)
    assert refused.value.status_code == 400
    assert refused.value.error_msg["error"].startswith("invalid signature")
    assert client.get_open_orders() == []


def test_a_request_with_a_bad_hmac_is_unauthorized(
    server: SandboxServer, client: ClobClient, wallet: Any
) -> None:
    creds = client.creds
    forger = ClobClient(server.url, chain_id=137, key=wallet.key.hex())
    forger.set_api_creds(
        ApiCreds(
            api_key=creds.api_key,
            api_secret="c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXk=",
            api_passphrase=creds.api_passphrase,
        )
    )
    with pytest.raises(PolyApiException) as refused:
        forger.get_open_orders()
    assert refused.value.status_code == 401
    assert refused.value.error_msg == {"error": "Unauthorized/Invalid api key"}
    wrong_passphrase = ClobClient(server.url, chain_id=137, key=wallet.key.hex())
    wrong_passphrase.set_api_creds(replace(creds, api_passphrase="nope"))
    with pytest.raises(PolyApiException):
        wrong_passphrase.cancel_all()


def _frames(ws: websocket.WebSocket, count: int) -> list[Any]:
    return [json.loads(ws.recv()) for _ in range(count)]


def test_the_market_channel_sends_the_book_dump_then_price_changes(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    ws = websocket.create_connection(server.ws_url + "market", timeout=5)
    try:
        ws.send(json.dumps({"type": "market", "assets_ids": list(window.tokens)}))
        dump = json.loads(ws.recv())
        assert isinstance(dump, list)
        assert {b["asset_id"] for b in dump} == set(window.tokens)
        assert all(b["event_type"] == "book" and b["bids"] and b["asks"] for b in dump)

        ws.send("PING")
        assert ws.recv() == "PONG"
        ws.send(json.dumps({"type": "market", "assets_ids": list(window.tokens)}))
        assert ws.recv() == "INVALID OPERATION"

        bid, _ = _best(client.get_order_book(window.up_token))
        price = bid - Decimal("0.07")
        _post(client, window.up_token, price, 12, "BUY")
        (change,) = _frames(ws, 1)
        assert change["event_type"] == "price_change"
        assert change["market"] == window.condition_id
        level = change["price_changes"][0]
        assert (level["asset_id"], level["side"]) == (window.up_token, "BUY")
        assert Decimal(level["price"]) == price
        assert Decimal(level["size"]) >= 12
        assert Decimal(level["best_bid"]) == bid
    finally:
        ws.close()


def test_the_user_channel_reports_our_order_placement(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    creds = client.creds
    ws = websocket.create_connection(server.ws_url + "user", timeout=5)
    try:
        auth = {
            "apiKey": creds.api_key,
            "secret": creds.api_secret,
            "passphrase": creds.api_passphrase,
        }
        ws.send(json.dumps({"type": "user", "auth": auth, "markets": [window.condition_id]}))
        ws.send("PING")
        assert ws.recv() == "PONG"  # subscribed
        bid, _ = _best(client.get_order_book(window.up_token))
        answer = _post(client, window.up_token, bid - Decimal("0.04"), 6, "BUY")
        (event,) = _frames(ws, 1)
        assert (event["event_type"], event["type"]) == ("order", "PLACEMENT")
        assert event["id"] == answer["orderID"]
        assert event["owner"] == creds.api_key
        assert event["status"] == "LIVE"
    finally:
        ws.close()


def test_a_ping_before_the_subscription_closes_the_socket(server: SandboxServer) -> None:
    ws = websocket.create_connection(server.ws_url + "market", timeout=5)
    try:
        ws.send("PING")
        opcode, data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(data[:2], "big") == 1008
    finally:
        ws.close()


def test_a_maintenance_window_answers_http_425_and_the_same_order_is_accepted_after() -> None:
    paper = PaperSettings(faults=FaultSettings(maintenance_windows=((START - 1, START + 2),)))
    clock = ManualClock(START)
    with serve(_settings(paper=paper), clock=clock) as running:
        clob = ClobClient(running.url, chain_id=137, key=Account.create().key.hex())
        clob.set_api_creds(clob.create_or_derive_api_key())
        token = _window(running).up_token
        bid, _ = _best(clob.get_order_book(token))
        signed = clob.create_order(
            OrderArgs(token_id=token, price=float(bid - Decimal("0.05")), size=10, side="BUY")
        )
        with pytest.raises(PolyApiException) as refused:
            clob.post_order(signed, OrderType.GTC)
        assert refused.value.status_code == 425
        assert clob.get_open_orders() == []
        clock.advance(3)
        # It never existed, so posting the very same signed order again is no duplicate.
        assert clob.post_order(signed, OrderType.GTC)["status"] == "live"


def test_a_missed_heartbeat_cancels_every_open_order() -> None:
    with serve(_settings(heartbeat_timeout_s=0.2), clock=ManualClock(START)) as running:
        clob = ClobClient(running.url, chain_id=137, key=Account.create().key.hex())
        clob.set_api_creds(clob.create_or_derive_api_key())
        token = _window(running).up_token
        bid, _ = _best(clob.get_order_book(token))
        _post(clob, token, bid - Decimal("0.05"), 10, "BUY")
        assert clob.post_heartbeat()["heartbeat_id"]
        assert len(clob.get_open_orders()) == 1
        deadline = time.monotonic() + 5
        while clob.get_open_orders() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert clob.get_open_orders() == []


def _user_socket(server: SandboxServer, client: ClobClient) -> websocket.WebSocket:
    creds = client.creds
    ws = websocket.create_connection(server.ws_url + "user", timeout=5)
    auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
    ws.send(json.dumps({"type": "user", "auth": auth}))
    ws.send("PING")
    assert ws.recv() == "PONG"
    return ws


def test_an_order_set_to_vanish_is_gone_when_its_cancel_arrives_and_the_news_comes_later(
    server: SandboxServer, client: ClobClient
) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    order_id = _post(client, token, bid - Decimal("0.05"), 10, "BUY")["orderID"]
    clock = server.state.clock
    assert isinstance(clock, ManualClock)
    ws = _user_socket(server, client)
    try:
        server.call(lambda state: state.vanish_on_cancel(order_id, news_after_s=30))
        answer = client.cancel_order(OrderPayload(orderID=order_id))
        assert answer == {"canceled": [], "not_canceled": {order_id: "already canceled or matched"}}
        assert client.get_open_orders() == []
        ws.settimeout(0.5)
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()  # the user channel has not said so yet
        clock.advance(29)
        server.step()
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
        clock.advance(1)
        server.step()
        ws.settimeout(5)
        (event,) = _frames(ws, 1)
        assert (event["event_type"], event["type"], event["id"]) == (
            "order",
            "CANCELLATION",
            order_id,
        )
    finally:
        ws.close()


def test_a_resting_order_hit_by_the_market_is_our_maker_fill(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    token = window.up_token
    bid, _ = _best(client.get_order_book(token))
    ws = _user_socket(server, client)
    try:
        order_id = _post(client, token, bid, 20, "BUY")["orderID"]
        assert json.loads(ws.recv())["type"] == "PLACEMENT"
        # A market taker sells through our price.
        hit = LastTrade(
            condition_id=window.condition_id,
            token_id=token,
            price=bid,
            size=Decimal(500),
            side=Side.SELL,
            timestamp=START,
        )

        def trade_through_our_bid(state: SandboxState) -> None:
            state.exchange.on_market_event(hit)
            state.publish()

        server.call(trade_through_our_bid)
        frames = [json.loads(ws.recv()) for _ in range(2)]
        trade = next(f for f in frames if f["event_type"] == "trade")
        assert trade["trader_side"] == "MAKER"
        assert trade["side"] == "SELL"  # the top level describes the taker
        (ours,) = trade["maker_orders"]
        assert (ours["order_id"], ours["side"]) == (order_id, "BUY")
        assert Decimal(ours["matched_amount"]) == 20
        assert ours["owner"] == client.creds.api_key
    finally:
        ws.close()
    (row,) = client.get_trades()
    assert row["maker_orders"][0]["order_id"] == order_id
    assert client.get_open_orders() == []


def test_a_killed_fok_order_is_refused_and_cancelled_under_its_own_id(
    server: SandboxServer, client: ClobClient
) -> None:
    token = _window(server).up_token
    bid, _ = _best(client.get_order_book(token))
    ws = _user_socket(server, client)
    try:
        signed = client.create_order(
            OrderArgs(token_id=token, price=float(bid - Decimal("0.05")), size=10, side="BUY")
        )
        with pytest.raises(PolyApiException) as refused:
            client.post_order(signed, OrderType.FOK)
        assert refused.value.status_code == 400
        assert "FOK orders are fully filled or killed" in refused.value.error_msg["error"]
        event = json.loads(ws.recv())
        assert event["type"] == "CANCELLATION"
        assert event["status"].startswith("CANCELED_order couldn't be fully filled")
        assert event["id"] == signed_order_id(signed)
    finally:
        ws.close()
    # The same signed order again is a duplicate, not a second order.
    with pytest.raises(PolyApiException, match="duplicate"):
        client.post_order(signed, OrderType.FOK)


def signed_order_id(signed: Any) -> str:
    builder = ExchangeOrderBuilderV2(EXCHANGE_V2, 137, Signer(Account.create().key.hex(), 137))
    order_hash: str = builder.build_order_hash(builder.build_order_typed_data(signed))
    return order_hash


def test_sockets_can_be_dropped_or_silenced_as_faults(
    server: SandboxServer, client: ClobClient
) -> None:
    window = _window(server)
    ws = websocket.create_connection(server.ws_url + "market", timeout=5)
    try:
        ws.send(json.dumps({"type": "market", "assets_ids": [window.up_token]}))
        assert json.loads(ws.recv())[0]["event_type"] == "book"
        server.set_silent(True)
        bid, _ = _best(client.get_order_book(window.up_token))
        _post(client, window.up_token, bid - Decimal("0.06"), 9, "BUY")
        ws.send("PING")
        assert ws.recv() == "PONG"  # alive, but the price change never came
        server.set_silent(False)
        server.drop_sockets()
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            ws.recv()
    finally:
        ws.close()


def test_the_live_adapters_parsers_read_everything_the_sandbox_says(
    server: SandboxServer, client: ClobClient, wallet: Any
) -> None:
    window = _window(server)
    identity = live_wire.Identity.of(api_keys=[client.creds.api_key], addresses=[wallet.address])
    (event,) = httpx.get(f"{server.url}/gamma/events", params={"slug": window.slug}).json()
    assert event["seriesSlug"] == "btc-up-or-down-15m"
    parsed = live_wire.up_down_window(live_wire.parse_gamma_market(event["markets"][0]))
    assert parsed is not None
    assert (parsed.condition_id, parsed.tokens, parsed.start, parsed.end) == (
        window.condition_id,
        window.tokens,
        window.start,
        window.end,
    )
    market_ws = websocket.create_connection(server.ws_url + "market", timeout=5)
    user_ws = _user_socket(server, client)
    try:
        market_ws.send(json.dumps({"type": "market", "assets_ids": list(window.tokens)}))
        frames = [market_ws.recv()]
        _, ask = _best(client.get_order_book(window.up_token))
        answer = _post(client, window.up_token, ask, 10, "BUY")
        frames += [market_ws.recv() for _ in range(2)]  # last trade, price change
        user_frames = [user_ws.recv()]
    finally:
        market_ws.close()
        user_ws.close()
    for frame in frames:
        assert live_wire.parse_frame(frame).rejected_count == 0, frame
    (user_frame,) = user_frames
    trades = live_wire.parse_frame(user_frame, identity).events
    assert [(t.order_id, t.size, t.price) for t in trades] == [  # type: ignore[union-attr]
        (answer["orderID"], Decimal(10), ask)
    ]
    assert live_wire.parse_order_response(answer, "c1").order_id == answer["orderID"]
    (row,) = client.get_trades()
    assert live_wire.parse_trade(row, identity)[0].is_maker is False
    positions = httpx.get(f"{server.url}/data-api/positions", params={"user": wallet.address})
    (position,) = live_wire.parse_positions(positions.json())
    held = server.call(lambda state: state.exchange.holding(PaperAccount.US, window.up_token))
    assert Decimal(9) < held < Decimal(10)  # the taker fee is paid in shares
    assert (position.token_id, position.size, position.avg_price) == (window.up_token, held, ask)


def test_the_market_and_the_price_stream_move_on_their_own_at_the_configured_speed() -> None:
    with serve(_settings(speed=120.0, tick_interval_s=0.02)) as running:
        window = _window(running)
        prices = websocket.create_connection(running.rtds_url, timeout=5)
        market = websocket.create_connection(running.ws_url + "market", timeout=5)
        try:
            subscription = {
                "topic": "crypto_prices_chainlink",
                "type": "*",
                "filters": json.dumps({"symbol": "btc/usd"}),
            }
            prices.send(json.dumps({"action": "subscribe", "subscriptions": [subscription]}))
            dump = live_wire.parse_frame(prices.recv())
            assert dump.rejected_count == 0
            assert dump.events
            assert {e.asset for e in dump.events} == {"BTC"}  # type: ignore[union-attr]
            update = live_wire.parse_frame(prices.recv())
            assert update.events[0].timestamp >= dump.events[-1].timestamp
            prices.send("ping")
            while (text := prices.recv()) != "pong":
                assert json.loads(text)["type"] == "update"

            market.send(json.dumps({"type": "market", "assets_ids": list(window.tokens)}))
            market.recv()  # the book dump
            # Nobody trades here: whatever comes next is the simulated market moving.
            moved = live_wire.parse_frame(market.recv())
            assert moved.rejected_count == 0
            assert moved.events
        finally:
            prices.close()
            market.close()
        (event,) = httpx.get(f"{running.url}/gamma/events", params={"slug": window.slug}).json()
        assert event["eventMetadata"]["priceToBeat"] > 0


def test_a_raw_frame_can_be_sent_on_every_socket_as_a_fault(server: SandboxServer) -> None:
    window = _window(server)
    ws = websocket.create_connection(server.ws_url + "market", timeout=5)
    try:
        ws.send(json.dumps({"type": "market", "assets_ids": [window.up_token]}))
        assert json.loads(ws.recv())[0]["event_type"] == "book"
        server.send_raw('{"event_type": "book", "bids": [')
        assert ws.recv() == '{"event_type": "book", "bids": ['
    finally:
        ws.close()
