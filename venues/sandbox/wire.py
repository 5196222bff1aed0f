"""Domain values to Polymarket's JSON, field for field as the venue sends them (pure, no I/O).

Shapes follow polymarket_api.md 2.8 (REST) and 4.2-4.3 (websocket): numbers are strings
(except where the venue sends JSON numbers), timestamps are ms strings in websocket events,
books list bids ascending and asks descending so the best level is last, and open orders,
trades and pages carry every key the official clients index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from venues.port import CancelResult
from venues.types import (
    BookSnapshot,
    ClosedPosition,
    LastTrade,
    MarketResolved,
    MarketWindow,
    OrderId,
    OrderResult,
    OrderSnapshot,
    OrderUpdate,
    PriceChange,
    Side,
    SpotPrice,
    TickSizeChange,
    TokenId,
    TradeUpdate,
)

__all__ = [
    "END_CURSOR",
    "INITIAL_CURSOR",
    "BookContext",
    "OrderContext",
    "balance_json",
    "book_event",
    "book_json",
    "cancel_json",
    "clob_market_info_json",
    "closed_position_json",
    "decimal_text",
    "last_trade_event",
    "market_json",
    "market_resolved_event",
    "ms",
    "new_market_event",
    "open_order_json",
    "order_event",
    "order_response_json",
    "page_json",
    "price_change_event",
    "tick_size_change_event",
    "trade_event",
    "trade_json",
    "transaction_hash",
]

INITIAL_CURSOR = "MA=="  # base64("0")
END_CURSOR = "LTE="  # base64("-1"): the clients stop paging here
_UNITS = Decimal(1_000_000)


def decimal_text(value: Decimal) -> str:
    """'0.5', '150', '0.001': plain notation, no trailing zeros (as the venue prints)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def ms(epoch_seconds: float) -> str:
    """Epoch seconds to the venue's millisecond string."""
    return str(round(epoch_seconds * 1000))


def transaction_hash(trade_id: str) -> str:
    """A settlement transaction hash for a simulated trade, stable per trade."""
    return "0x" + hashlib.sha256(f"sandbox-tx:{trade_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderContext:
    """What the venue knows about an order beyond the paper exchange's snapshot."""

    order_id: OrderId  # the EIP-712 digest, the id on the wire
    owner: str  # api key that posted it
    maker_address: str
    outcome: str  # "Up" / "Down"
    order_type: str
    expiration: int  # unix seconds, 0 for none


@dataclass(frozen=True, slots=True, kw_only=True)
class BookContext:
    """Market facts a book carries besides its levels."""

    min_order_size: Decimal
    last_trade_price: Decimal | None
    neg_risk: bool = False


def _levels(levels: Sequence[Any], *, reverse: bool) -> list[dict[str, str]]:
    ordered = list(reversed(levels)) if reverse else list(levels)
    return [{"price": decimal_text(lv.price), "size": decimal_text(lv.size)} for lv in ordered]


def book_json(book: BookSnapshot, context: BookContext) -> dict[str, Any]:
    """GET /book: all ten keys, best levels last, with the hash the client recomputes."""
    last = context.last_trade_price
    payload: dict[str, Any] = {
        "market": book.condition_id,
        "asset_id": book.token_id,
        "timestamp": ms(book.timestamp),
        "hash": "",
        # Domain books are best-first; the wire lists the best level last.
        "bids": _levels(book.bids, reverse=True),
        "asks": _levels(book.asks, reverse=True),
        "min_order_size": decimal_text(context.min_order_size),
        "tick_size": decimal_text(book.tick_size),
        "neg_risk": context.neg_risk,
        "last_trade_price": decimal_text(last) if last is not None else "",
    }
    serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    payload["hash"] = hashlib.sha1(serialized.encode("utf-8")).hexdigest()
    return payload


def book_event(book: BookSnapshot, context: BookContext) -> dict[str, Any]:
    """Websocket `book` event: the REST book with `event_type` first."""
    return {"event_type": "book", **book_json(book, context)}


def price_change_event(
    event: PriceChange, assets: frozenset[TokenId] | None = None
) -> dict[str, Any] | None:
    """The current (post Sept 2025) `price_change` form; only `assets`' levels, None if none."""
    changes = [
        {
            "asset_id": change.token_id,
            "price": decimal_text(change.price),
            "size": decimal_text(change.size),
            "side": change.side.value,
            "hash": hashlib.sha1(
                f"{change.token_id}:{change.price}:{change.size}:{event.timestamp}".encode()
            ).hexdigest(),
            "best_bid": decimal_text(change.best_bid) if change.best_bid is not None else "0",
            "best_ask": decimal_text(change.best_ask) if change.best_ask is not None else "1",
        }
        for change in event.changes
        if assets is None or change.token_id in assets
    ]
    if not changes:
        return None
    return {
        "event_type": "price_change",
        "market": event.condition_id,
        "price_changes": changes,
        "timestamp": ms(event.timestamp),
    }


def last_trade_event(trade: LastTrade) -> dict[str, Any]:
    return {
        "event_type": "last_trade_price",
        "market": trade.condition_id,
        "asset_id": trade.token_id,
        "price": decimal_text(trade.price),
        "side": trade.side.value,
        "size": decimal_text(trade.size),
        "fee_rate_bps": "0",
        "timestamp": ms(trade.timestamp),
    }


def tick_size_change_event(change: TickSizeChange) -> dict[str, Any]:
    return {
        "event_type": "tick_size_change",
        "market": change.condition_id,
        "asset_id": change.token_id,
        "old_tick_size": decimal_text(change.old_tick_size),
        "new_tick_size": decimal_text(change.new_tick_size),
        "timestamp": ms(change.timestamp),
    }


def market_resolved_event(resolved: MarketResolved, window: MarketWindow) -> dict[str, Any]:
    return {
        "event_type": "market_resolved",
        "id": resolved.condition_id,
        "market": resolved.condition_id,
        "assets_ids": list(window.tokens),
        "winning_asset_id": resolved.winning_token,
        "winning_outcome": resolved.winning_outcome,
        "timestamp": ms(resolved.timestamp),
        "tags": ["crypto", "up-or-down"],
    }


def new_market_event(window: MarketWindow, timestamp: float) -> dict[str, Any]:
    return {
        "event_type": "new_market",
        "id": window.condition_id,
        "question": f"{window.asset} Up or Down",
        "market": window.condition_id,
        "slug": window.slug,
        "description": f"{window.asset} Up or Down over {window.timeframe_s} s",
        "assets_ids": list(window.tokens),
        "outcomes": ["Up", "Down"],
        "timestamp": ms(timestamp),
        "condition_id": window.condition_id,
        "active": True,
        "clob_token_ids": list(window.tokens),
        "order_price_min_tick_size": decimal_text(window.tick_size),
    }


def market_json(
    window: MarketWindow, *, tick_size: Decimal, winner: TokenId | None, is_closed: bool
) -> dict[str, Any]:
    """GET /markets/{condition_id}: the CLOB market, `tokens[].winner` set once resolved."""
    return {
        "accepting_orders": not is_closed,
        "accepting_order_timestamp": None,
        "active": True,
        "archived": False,
        "closed": is_closed,
        "condition_id": window.condition_id,
        "question_id": window.condition_id,
        "question": f"{window.asset} Up or Down",
        "description": f"{window.asset} Up or Down over {window.timeframe_s} s",
        "market_slug": window.slug,
        "end_date_iso": _iso(window.end),
        "game_start_time": _iso(window.start),
        "enable_order_book": True,
        "minimum_order_size": float(window.min_order_size),  # the venue sends a JSON number
        "minimum_tick_size": float(tick_size),
        "neg_risk": False,
        "neg_risk_market_id": "",
        "neg_risk_request_id": "",
        "maker_base_fee": 0,
        "taker_base_fee": 1000,
        "seconds_delay": 0,
        "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
        "tags": ["crypto", "up-or-down"],
        "icon": "",
        "image": "",
        "fpmm": "",
        "is_50_50_outcome": False,
        "notifications_enabled": True,
        "tokens": [
            {"token_id": token, "outcome": outcome, "price": 0, "winner": token == winner}
            for token, outcome in ((window.up_token, "Up"), (window.down_token, "Down"))
        ],
    }


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clob_market_info_json(
    window: MarketWindow, *, tick_size: Decimal, fee_rate: Decimal, fee_exponent: int
) -> dict[str, Any]:
    """GET /clob-markets/{condition_id}: the compact V2 form (`t`, `mts`, `nr`, `fd`)."""
    return {
        "c": window.condition_id,
        "t": [{"t": window.up_token, "o": "Up"}, {"t": window.down_token, "o": "Down"}],
        "mts": float(tick_size),  # JSON numbers on the wire; the client str()s them
        "nr": False,
        "fd": {"r": float(fee_rate), "e": fee_exponent},
    }


def _open_order_fields(
    *,
    context: OrderContext,
    condition_id: str,
    token_id: str,
    side: Side,
    price: Decimal,
    original_size: Decimal,
    size_matched: Decimal,
    status: str,
) -> dict[str, Any]:
    return {
        "id": context.order_id,
        "status": status,
        "owner": context.owner,
        "maker_address": context.maker_address,
        "market": condition_id,
        "asset_id": token_id,
        "side": side.value,
        "original_size": decimal_text(original_size),
        "size_matched": decimal_text(size_matched),
        "price": decimal_text(price),
        "outcome": context.outcome,
        "expiration": str(context.expiration),
        "order_type": context.order_type,
    }


def open_order_json(
    order: OrderSnapshot, context: OrderContext, trade_ids: Sequence[str]
) -> dict[str, Any]:
    """One open order of /data/orders and /data/order/{id} (`created_at` integer seconds)."""
    return {
        **_open_order_fields(
            context=context,
            condition_id=order.condition_id,
            token_id=order.token_id,
            side=order.side,
            price=order.price,
            original_size=order.original_size,
            size_matched=order.size_matched,
            status=order.status,
        ),
        "associate_trades": list(trade_ids) or None,
        "created_at": int(order.created_at),
    }


def order_event(
    update: OrderUpdate, context: OrderContext, trade_ids: Sequence[str], created_at: float
) -> dict[str, Any]:
    """User-channel `order` event (PLACEMENT / UPDATE / CANCELLATION)."""
    return {
        "event_type": "order",
        "type": update.kind.value,
        **_open_order_fields(
            context=context,
            condition_id=update.condition_id,
            token_id=update.token_id,
            side=update.side,
            price=update.price,
            original_size=update.original_size,
            size_matched=update.size_matched,
            status=update.status,
        ),
        "order_owner": context.owner,
        "associate_trades": list(trade_ids) or None,
        "created_at": str(int(created_at)),
        "timestamp": ms(update.timestamp),
    }


def trade_json(
    trade: TradeUpdate, context: OrderContext, *, matched_at: float, house_address: str
) -> dict[str, Any]:
    """One /data/trades row. As maker, the top level describes the (simulated) taker and our
    fill is the `maker_orders` entry with our address, as on the venue."""
    our_fill = {
        "order_id": context.order_id,
        "owner": context.owner,
        "maker_address": context.maker_address,
        "matched_amount": decimal_text(trade.size),
        "price": decimal_text(trade.price),
        "fee_rate_bps": "0",
        "asset_id": trade.token_id,
        "outcome": context.outcome,
        "side": trade.side.value,
    }
    if trade.is_maker:
        taker_side = Side.SELL if trade.side is Side.BUY else Side.BUY
        top = {
            "taker_order_id": "0x" + hashlib.sha256(f"house:{trade.trade_id}".encode()).hexdigest(),
            "side": taker_side.value,
            "owner": "",
            "maker_address": house_address,
            "trader_side": "MAKER",
            "maker_orders": [our_fill],
        }
    else:
        top = {
            "taker_order_id": context.order_id,
            "side": trade.side.value,
            "owner": context.owner,
            "maker_address": context.maker_address,
            "trader_side": "TAKER",
            "maker_orders": [],
        }
    return {
        "id": trade.trade_id,
        "taker_order_id": top["taker_order_id"],
        "market": trade.condition_id,
        "asset_id": trade.token_id,
        "side": top["side"],
        "size": decimal_text(trade.size),
        "fee_rate_bps": "0",
        "price": decimal_text(trade.price),
        "status": trade.status.value,
        "match_time": str(int(matched_at)),
        "last_update": str(int(trade.timestamp)),
        "outcome": context.outcome,
        "bucket_index": 0,
        "owner": top["owner"] or context.owner,
        "maker_address": top["maker_address"],
        "transaction_hash": transaction_hash(trade.trade_id),
        "trader_side": top["trader_side"],
        "maker_orders": top["maker_orders"],
    }


def trade_event(
    trade: TradeUpdate, context: OrderContext, *, matched_at: float, house_address: str
) -> dict[str, Any]:
    """User-channel `trade` event: the /data/trades row plus the event fields."""
    row = trade_json(trade, context, matched_at=matched_at, house_address=house_address)
    return {
        "event_type": "trade",
        "type": "TRADE",
        **row,
        "trade_owner": context.owner,
        "timestamp": ms(trade.timestamp),
    }


def order_response_json(result: OrderResult, trade_ids: Sequence[str]) -> dict[str, Any]:
    """POST /order answer (one leg of POST /orders). A refused batch leg is `success: true`
    with an empty `orderID` and the reason in `errorMsg`, as the venue answers it.
    `transactionsHashes` is always set with the trades, so the client never polls for it."""
    is_matched = result.making_amount > 0 or result.taking_amount > 0
    return {
        "success": True,
        "errorMsg": result.error or "",
        "orderID": result.order_id or "",
        "status": result.status.value if result.status is not None else "",
        "makingAmount": decimal_text(result.making_amount) if is_matched else "",
        "takingAmount": decimal_text(result.taking_amount) if is_matched else "",
        "transactionsHashes": [transaction_hash(trade_id) for trade_id in trade_ids],
        "tradeIDs": list(trade_ids),
    }


def cancel_json(result: CancelResult) -> dict[str, Any]:
    return {"canceled": list(result.canceled), "not_canceled": dict(result.not_canceled)}


def balance_json(balance: Decimal, allowance: Decimal, spenders: Sequence[str]) -> dict[str, Any]:
    """GET /balance-allowance: base units (6 decimals) as integer strings."""
    return {
        "balance": str(int(balance * _UNITS)),
        "allowances": {spender: str(int(allowance * _UNITS)) for spender in spenders},
    }


def _offset_of(cursor: str) -> int:
    if cursor in ("", INITIAL_CURSOR):
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        msg = f"invalid next_cursor {cursor!r}"
        raise ValueError(msg) from e
    if offset < 0:
        msg = f"invalid next_cursor {cursor!r}: paging has ended"
        raise ValueError(msg)
    return offset


def page_json(items: Sequence[dict[str, Any]], *, cursor: str, limit: int) -> dict[str, Any]:
    """One page of a cursor-paged list; the last page says `next_cursor: "LTE="`."""
    offset = _offset_of(cursor)
    chunk = list(items[offset : offset + limit])
    end = offset + len(chunk)
    next_cursor = END_CURSOR if end >= len(items) else base64.b64encode(str(end).encode()).decode()
    return {"data": chunk, "next_cursor": next_cursor, "limit": limit, "count": len(chunk)}


# --- Gamma and Data API (served under /gamma and /data-api of the sandbox) ----------------------


def gamma_market_json(
    window: MarketWindow,
    *,
    tick_size: Decimal,
    outcome_prices: tuple[Decimal, Decimal],
    is_closed: bool,
    is_resolved: bool,
    is_hydrated: bool = True,
) -> dict[str, Any]:
    """A Gamma market: `outcomes`, `clobTokenIds` and `outcomePrices` are JSON inside strings.
    Not hydrated yet, its token ids are empty strings, as Gamma shows a market just listed."""
    up, down = outcome_prices
    return {
        "id": str(int(window.condition_id[2:14], 16)),
        "question": f"{window.asset} Up or Down",
        "conditionId": window.condition_id,
        "questionID": window.condition_id,
        "slug": window.slug,
        "version": "v1",
        "outcomes": json.dumps(["Up", "Down"]),
        "clobTokenIds": json.dumps(list(window.tokens) if is_hydrated else ["", ""]),
        "outcomePrices": json.dumps([decimal_text(up), decimal_text(down)]),
        "eventStartTime": _iso(window.start),
        "endDate": _iso(window.end),
        "active": True,
        "closed": is_resolved,
        "archived": False,
        "acceptingOrders": not is_closed,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(tick_size),  # JSON numbers on Gamma
        "orderMinSize": float(window.min_order_size),
        "negRisk": False,
        "feesEnabled": True,
    }


def gamma_event_json(
    window: MarketWindow,
    market: dict[str, Any],
    *,
    price_to_beat: Decimal | None,
    final_price: Decimal | None,
) -> dict[str, Any]:
    """A Gamma event: one per window, holding its one market; `eventMetadata` carries the
    reference prices the window resolves on, once known."""
    metadata: dict[str, float] = {}
    if price_to_beat is not None:
        metadata["priceToBeat"] = float(price_to_beat)
    if final_price is not None:
        metadata["finalPrice"] = float(final_price)
    series = f"{window.asset.lower()}-up-or-down-{window.slug.split('-')[2]}"
    return {
        "id": market["id"],
        "slug": window.slug,
        "title": market["question"],
        "seriesSlug": series,
        "startTime": _iso(window.start),
        "endDate": _iso(window.end),
        "active": True,
        "closed": market["closed"],
        "eventMetadata": metadata,
        "markets": [market],
    }


def data_position_json(
    window: MarketWindow,
    *,
    wallet: str,
    token: TokenId,
    size: Decimal,
    avg_price: Decimal,
    current_price: Decimal,
    is_redeemable: bool,
) -> dict[str, Any]:
    """One row of the Data API's /positions (numbers are JSON numbers there)."""
    index = window.tokens.index(token)
    outcome, opposite = ("Up", "Down") if index == 0 else ("Down", "Up")
    return {
        "proxyWallet": wallet,
        "asset": token,
        "conditionId": window.condition_id,
        "size": float(size),
        "avgPrice": float(avg_price),
        "initialValue": float(size * avg_price),
        "currentValue": float(size * current_price),
        "curPrice": float(current_price),
        "redeemable": is_redeemable,
        "mergeable": False,
        "title": f"{window.asset} Up or Down",
        "slug": window.slug,
        "eventSlug": window.slug,
        "outcome": outcome,
        "outcomeIndex": index,
        "oppositeOutcome": opposite,
        "oppositeAsset": window.tokens[1 - index],
        "endDate": _iso(window.end),
        "negativeRisk": False,
    }


def closed_position_json(
    window: MarketWindow, *, wallet: str, closed: ClosedPosition
) -> dict[str, Any]:
    """One row of the Data API's /closed-positions (numbers are JSON numbers there)."""
    index = window.tokens.index(closed.token_id)
    outcome, opposite = ("Up", "Down") if index == 0 else ("Down", "Up")
    return {
        "proxyWallet": wallet,
        "asset": closed.token_id,
        "conditionId": window.condition_id,
        "avgPrice": float(closed.avg_price),
        "totalBought": float(closed.size),
        "realizedPnl": float(closed.realized_pnl),
        "curPrice": float(closed.current_price),
        "timestamp": int(closed.timestamp),
        "title": f"{window.asset} Up or Down",
        "slug": window.slug,
        "eventSlug": window.slug,
        "outcome": outcome,
        "outcomeIndex": index,
        "oppositeOutcome": opposite,
        "oppositeAsset": window.tokens[1 - index],
        "endDate": _iso(window.end),
    }


# --- RTDS (the real-time price stream, served at /rtds) -----------------------------------------

CHAINLINK_TOPIC = "crypto_prices_chainlink"
BINANCE_TOPIC = "crypto_prices"


def rtds_symbol(asset: str, topic: str) -> str:
    """The stream's symbol of an asset: "btc/usd" on Chainlink, "btcusdt" on Binance."""
    return f"{asset.lower()}usdt" if topic == BINANCE_TOPIC else f"{asset.lower()}/usd"


def rtds_update(spot: SpotPrice, topic: str) -> dict[str, Any]:
    """One price update; `value` is a JSON float on the wire, `full_accuracy_value` exact."""
    return {
        "topic": topic,
        "type": "update",
        "timestamp": round(spot.timestamp * 1000),
        "payload": {
            "symbol": rtds_symbol(spot.asset, topic),
            "timestamp": round(spot.timestamp * 1000),
            "value": float(spot.price),
            "full_accuracy_value": decimal_text(spot.price),
        },
    }


def rtds_dump(points: Sequence[SpotPrice], topic: str, asset: str) -> dict[str, Any]:
    """What a new subscription gets first: the recent points of one symbol."""
    return {
        "topic": topic,
        "type": "subscribe",
        "timestamp": round(points[-1].timestamp * 1000) if points else 0,
        "payload": {
            "symbol": rtds_symbol(asset, topic),
            "data": [
                {"timestamp": round(p.timestamp * 1000), "value": float(p.price)} for p in points
            ],
        },
    }
