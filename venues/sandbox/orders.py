"""CLOB V2 signed orders off the wire: parse, verify the EIP-712 signature, derive the order id,
and turn them into the project's `OrderRequest` (pure, no I/O).

The signed struct is V2's 11 fields (polymarket_api.md 3): `expiration` is sent but not signed.
The domain is "Polymarket CTF Exchange" version "2" with the V2 exchange (or the neg-risk V2
exchange) as verifying contract. The order id is the EIP-712 digest, as on the venue. Price and
size come back from the amounts (6 decimals): BUY price = maker/taker and size = taker; SELL
price = taker/maker and size = maker; a market BUY (FOK/FAK) spends `makerAmount` collateral.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.crypto import keccak

from venues.types import OrderId, OrderRequest, OrderType, Side, TokenId

__all__ = [
    "EXCHANGE_V2",
    "INVALID_SIGNATURE",
    "NEG_RISK_EXCHANGE_V2",
    "InvalidOrderPayload",
    "SignedOrder",
    "WireOrder",
    "order_digest",
    "parse_wire_order",
    "to_request",
    "verify_signature",
]

# The same on Polygon (137) and Amoy (80002), per py_clob_client_v2.config.
EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"

INVALID_SIGNATURE = "invalid signature"
_UNITS = Decimal(1_000_000)
_SIDES = {"BUY": (Side.BUY, 0), "SELL": (Side.SELL, 1)}
# POLY_1271 (deposit wallets) signs a Solady-wrapped digest; the sandbox does not take it.
_SIGNATURE_TYPES = frozenset({0, 1, 2})

_ORDER_STRUCT = (
    ("salt", "uint256"),
    ("maker", "address"),
    ("signer", "address"),
    ("tokenId", "uint256"),
    ("makerAmount", "uint256"),
    ("takerAmount", "uint256"),
    ("side", "uint8"),
    ("signatureType", "uint8"),
    ("timestamp", "uint256"),
    ("metadata", "bytes32"),
    ("builder", "bytes32"),
)
_DOMAIN_STRUCT = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


class InvalidOrderPayload(ValueError):
    """The body is not a well-formed V2 order; the message names the offending field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedOrder:
    """The `order` object of a POST /order body, typed."""

    salt: int
    maker: str
    signer: str
    token_id: TokenId
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WireOrder:
    """One POST /order body (or one element of POST /orders)."""

    order: SignedOrder
    owner: str
    order_type: OrderType
    post_only: bool
    defer_exec: bool


def _field(source: Mapping[str, Any], name: str) -> Any:
    if name not in source:
        msg = f"order field {name!r} is missing"
        raise InvalidOrderPayload(msg)
    return source[name]


def _integer(source: Mapping[str, Any], name: str) -> int:
    value = _field(source, name)
    if isinstance(value, bool) or not isinstance(value, int | str):
        msg = f"order field {name!r} must be an integer or a decimal string, not {value!r}"
        raise InvalidOrderPayload(msg)
    try:
        number = int(value)
    except ValueError as e:
        msg = f"order field {name!r} is not an integer: {value!r}"
        raise InvalidOrderPayload(msg) from e
    if number < 0:
        msg = f"order field {name!r} must not be negative: {value!r}"
        raise InvalidOrderPayload(msg)
    return number


def _text(source: Mapping[str, Any], name: str) -> str:
    value = _field(source, name)
    if not isinstance(value, str):
        msg = f"order field {name!r} must be a string, not {value!r}"
        raise InvalidOrderPayload(msg)
    return value


def _bytes32(value: str, name: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x").zfill(64))
    except ValueError as e:
        msg = f"order field {name!r} is not hex: {value!r}"
        raise InvalidOrderPayload(msg) from e
    if len(raw) != 32:
        msg = f"order field {name!r} is not 32 bytes: {value!r}"
        raise InvalidOrderPayload(msg)
    return raw


def parse_wire_order(body: object) -> WireOrder:
    """A POST /order body as the client sends it, checked field by field."""
    if not isinstance(body, Mapping):
        msg = f"order body must be a JSON object, not {type(body).__name__}"
        raise InvalidOrderPayload(msg)
    raw = _field(body, "order")
    if not isinstance(raw, Mapping):
        msg = "order field 'order' must be a JSON object"
        raise InvalidOrderPayload(msg)
    side_text = _text(raw, "side")
    if side_text not in _SIDES:
        msg = f"order field 'side' must be BUY or SELL, not {side_text!r}"
        raise InvalidOrderPayload(msg)
    metadata = _text(raw, "metadata")
    builder = _text(raw, "builder")
    _bytes32(metadata, "metadata")
    _bytes32(builder, "builder")
    order_type_text = _text(body, "orderType")
    try:
        order_type = OrderType(order_type_text)
    except ValueError as e:
        msg = f"invalid order type {order_type_text!r}"
        raise InvalidOrderPayload(msg) from e
    order = SignedOrder(
        salt=_integer(raw, "salt"),
        maker=_text(raw, "maker"),
        signer=_text(raw, "signer"),
        token_id=TokenId(str(_integer(raw, "tokenId"))),
        maker_amount=_integer(raw, "makerAmount"),
        taker_amount=_integer(raw, "takerAmount"),
        side=_SIDES[side_text][0],
        signature_type=_integer(raw, "signatureType"),
        timestamp_ms=_integer(raw, "timestamp"),
        metadata=metadata,
        builder=builder,
        expiration=int(raw.get("expiration") or 0),
        signature=_text(raw, "signature"),
    )
    return WireOrder(
        order=order,
        owner=str(body.get("owner", "")),
        order_type=order_type,
        post_only=bool(body.get("postOnly", False)),
        defer_exec=bool(body.get("deferExec", False)),
    )


def _typed_data(order: SignedOrder, *, chain_id: int, exchange: str) -> dict[str, Any]:
    return {
        "primaryType": "Order",
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in _DOMAIN_STRUCT],
            "Order": [{"name": n, "type": t} for n, t in _ORDER_STRUCT],
        },
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": "2",
            "chainId": chain_id,
            "verifyingContract": exchange,
        },
        "message": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": int(order.token_id),
            "makerAmount": order.maker_amount,
            "takerAmount": order.taker_amount,
            "side": _SIDES[order.side.value][1],
            "signatureType": order.signature_type,
            "timestamp": order.timestamp_ms,
            "metadata": _bytes32(order.metadata, "metadata"),
            "builder": _bytes32(order.builder, "builder"),
        },
    }


def _signable(order: SignedOrder, *, chain_id: int, neg_risk: bool) -> SignableMessage:
    exchange = NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2
    try:
        return encode_typed_data(
            full_message=_typed_data(order, chain_id=chain_id, exchange=exchange)
        )
    except (ValueError, TypeError, OverflowError) as e:
        msg = f"order cannot be EIP-712 encoded: {e}"
        raise InvalidOrderPayload(msg) from e


def order_digest(order: SignedOrder, *, chain_id: int, neg_risk: bool = False) -> bytes:
    """The EIP-712 digest of the order: what is signed, and (hex) the venue's order id."""
    signable = _signable(order, chain_id=chain_id, neg_risk=neg_risk)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def verify_signature(order: SignedOrder, *, chain_id: int, neg_risk: bool = False) -> OrderId:
    """The order id, if `signature` was made by `signer`; else `InvalidOrderPayload` whose
    message starts with the venue's "invalid signature"."""
    if order.signature_type not in _SIGNATURE_TYPES:
        msg = f"{INVALID_SIGNATURE}: signatureType {order.signature_type} is not supported"
        raise InvalidOrderPayload(msg)
    signable = _signable(order, chain_id=chain_id, neg_risk=neg_risk)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    try:
        recovered = Account.recover_message(signable, signature=order.signature)
    except (ValueError, TypeError, binascii.Error) as e:
        msg = f"{INVALID_SIGNATURE}: the signature of an order by {order.signer} is malformed"
        raise InvalidOrderPayload(msg) from e
    if recovered.lower() != order.signer.lower():
        msg = f"{INVALID_SIGNATURE}: order recovers to {recovered}, not its signer {order.signer}"
        raise InvalidOrderPayload(msg)
    if order.signature_type == 0 and order.maker.lower() != order.signer.lower():
        msg = f"{INVALID_SIGNATURE}: an EOA order's maker {order.maker} must be its signer"
        raise InvalidOrderPayload(msg)
    return OrderId("0x" + digest.hex())


def to_request(wire: WireOrder, *, order_id: OrderId, tick_size: Decimal) -> OrderRequest:
    """The order as the paper exchange takes it; `client_id` is the venue's order id."""
    order = wire.order
    if order.maker_amount == 0 or order.taker_amount == 0:
        msg = (
            f"invalid amounts, makerAmount {order.maker_amount} and takerAmount "
            f"{order.taker_amount} must both be positive"
        )
        raise InvalidOrderPayload(msg)
    maker = Decimal(order.maker_amount) / _UNITS
    taker = Decimal(order.taker_amount) / _UNITS
    try:
        if order.side is Side.BUY:
            ratio, shares = maker / taker, taker
        else:
            ratio, shares = taker / maker, maker
        # The client rounds amounts, so the ratio can sit a hair off the grid.
        price = (ratio / tick_size).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick_size
    except (InvalidOperation, ZeroDivisionError) as e:
        msg = f"invalid amounts: {order.maker_amount}/{order.taker_amount}"
        raise InvalidOrderPayload(msg) from e
    is_market_buy = wire.order_type in (OrderType.FOK, OrderType.FAK) and order.side is Side.BUY
    expiration = float(order.expiration) if order.expiration else None
    return OrderRequest(
        client_id=order_id,
        token_id=order.token_id,
        side=order.side,
        price=price,
        size=shares,
        order_type=wire.order_type,
        amount=maker if is_market_buy else None,
        expiration=expiration,
        post_only=wire.post_only,
    )
