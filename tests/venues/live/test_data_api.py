"""The Data API client against the local wire-compatible exchange (venues/sandbox) over
127.0.0.1: positions and closed positions of one wallet, page by page."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from runtime.clock import ManualClock
from venues.errors import RejectedError
from venues.live import data_api
from venues.live import wire as live_wire
from venues.live.data_api import DataApiClient
from venues.sandbox import SandboxServer, SandboxSettings, serve
from venues.sandbox import wire as sandbox_wire
from venues.sandbox.state import SandboxState
from venues.sim.settings import SimAsset, SimSettings
from venues.types import ClosedPosition, ConditionId, MarketWindow, TokenId

START = 1_767_225_600.0 + 120
WALLET = "0x56687bf447db6ffa42ffe2204a05edaa20f55839"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    sim = SimSettings(
        assets=(SimAsset(symbol="BTC", start_price=Decimal(95_000), annual_volatility=0.5),),
    )
    with serve(SandboxSettings(sim=sim, start_time=START), clock=ManualClock(START)) as running:
        yield running


def _window(server: SandboxServer) -> MarketWindow:
    windows = server.call(lambda state: list(state.windows.values()))
    assert windows
    return windows[0]


def _client(server: SandboxServer) -> DataApiClient:
    return DataApiClient(f"{server.url}/data-api", WALLET, timeout_s=5.0)


def test_positions_come_back_as_the_ports_values_with_their_market(server: SandboxServer) -> None:
    window = _window(server)
    server.call(
        lambda s: s.exchange.seed_position(window, window.down_token, Decimal(12), Decimal("0.4"))
    )
    (position,) = _client(server).positions()
    assert (position.condition_id, position.token_id) == (window.condition_id, window.down_token)
    assert (position.size, position.avg_price, position.redeemable) == (
        Decimal(12),
        Decimal("0.4"),
        False,
    )
    assert (position.outcome, position.outcome_index) == ("Down", 1)
    assert position.opposite_token == window.up_token
    assert position.slug == window.slug
    assert position.end_date == window.end


def test_every_page_is_read_until_a_short_one(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = _window(server)

    def seed_both(state: SandboxState) -> None:
        for token in window.tokens:
            state.exchange.seed_position(window, token, Decimal(5), Decimal("0.5"))

    server.call(seed_both)
    monkeypatch.setattr(data_api, "PAGE_LIMIT", 1)
    positions = _client(server).positions()
    assert {p.token_id for p in positions} == set(window.tokens)


def test_no_closed_positions_is_an_empty_answer(server: SandboxServer) -> None:
    assert _client(server).closed_positions() == ()


def test_a_missing_wallet_is_the_venues_refusal(server: SandboxServer) -> None:
    client = DataApiClient(f"{server.url}/data-api", WALLET, timeout_s=5.0)
    client._wallet = ""  # what the venue answers to a request without `user`
    with pytest.raises(RejectedError):
        client.positions()


def test_a_closed_position_row_parses_back_exactly() -> None:
    window = MarketWindow(
        asset="BTC",
        timeframe_s=900,
        start=START - 120,
        end=START + 780,
        condition_id=ConditionId("0xabc"),
        up_token=TokenId("1"),
        down_token=TokenId("2"),
        slug="btc-updown-15m-1767225600",
    )
    closed = ClosedPosition(
        condition_id=window.condition_id,
        token_id=TokenId("2"),
        size=Decimal("10.5"),
        avg_price=Decimal("0.42"),
        realized_pnl=Decimal("6.09"),
        current_price=Decimal(1),
        outcome="Down",
        slug=window.slug,
        timestamp=1_767_226_600.0,
    )
    row = sandbox_wire.closed_position_json(window, wallet=WALLET, closed=closed)
    assert live_wire.parse_closed_positions([row]) == (closed,)


def test_a_closed_positions_answer_that_is_not_an_array_is_a_wire_error() -> None:
    with pytest.raises(live_wire.WireError, match="expected a JSON array"):
        live_wire.parse_closed_positions({"data": []})


def test_the_client_refuses_a_host_that_is_not_a_url() -> None:
    with pytest.raises(ValueError, match="http"):
        DataApiClient("data-api.example", WALLET, timeout_s=1.0)
