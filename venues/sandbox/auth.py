"""Polymarket's request authentication, checked the way the venue checks it (pure, no I/O).

L1 (`/auth/api-key`, `/auth/derive-api-key`): an EIP-712 `ClobAuth` signature by the wallet
over (address, timestamp, nonce, fixed message) in the `ClobAuthDomain` domain.
L2 (every private endpoint): `POLY_SIGNATURE` = urlsafe-base64 HMAC-SHA256, keyed with the
urlsafe-base64-decoded API secret, over `timestamp + METHOD + path-without-query + body`
(polymarket_api.md 2.3, 9.2). API credentials are derived deterministically from the wallet
address and nonce, so "derive" returns what "create" returned, as on the venue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data

__all__ = [
    "CLOB_AUTH_MESSAGE",
    "INVALID_API_KEY",
    "INVALID_L1_HEADERS",
    "ApiCredentials",
    "AuthError",
    "clob_auth_message",
    "derive_credentials",
    "hmac_signature",
    "verify_l1",
    "verify_l2",
]

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
INVALID_API_KEY = "Unauthorized/Invalid api key"
INVALID_L1_HEADERS = "Invalid L1 Request headers"

_L1_HEADERS = ("POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP")
_L2_HEADERS = (
    "POLY_ADDRESS",
    "POLY_SIGNATURE",
    "POLY_TIMESTAMP",
    "POLY_API_KEY",
    "POLY_PASSPHRASE",
)


class AuthError(Exception):
    """A request failed authentication; `venue_text` is what the venue answers (HTTP 401)."""

    def __init__(self, venue_text: str, reason: str) -> None:
        self.venue_text = venue_text
        self.reason = reason
        super().__init__(f"{venue_text}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCredentials:
    """One wallet's API key. `secret` is urlsafe base64, as the client expects."""

    address: str
    api_key: str
    secret: str
    passphrase: str

    def __repr__(self) -> str:
        # Secrets never reach logs or exception messages through a repr.
        return f"ApiCredentials(address={self.address!r}, api_key={self.api_key!r}, ...)"


def derive_credentials(*, server_salt: bytes, address: str, nonce: int) -> ApiCredentials:
    """The API credentials of `address` at `nonce`: the same on every call and restart."""
    seed = hmac.new(server_salt, f"{address.lower()}:{nonce}".encode(), hashlib.sha256).digest()
    api_key = str(uuid.UUID(bytes=hashlib.sha256(b"key" + seed).digest()[:16], version=4))
    secret = base64.urlsafe_b64encode(hashlib.sha256(b"secret" + seed).digest()).decode()
    passphrase = hashlib.sha256(b"passphrase" + seed).hexdigest()
    return ApiCredentials(address=address, api_key=api_key, secret=secret, passphrase=passphrase)


def hmac_signature(*, secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 signature the client computes (py_clob_client_v2.signing.hmac)."""
    try:
        key = base64.urlsafe_b64decode(secret)
    except (binascii.Error, ValueError) as e:
        msg = "api secret is not urlsafe base64"
        raise AuthError(INVALID_API_KEY, msg) from e
    # The client replaces single quotes in the body before hashing; the bytes sent keep them.
    message = timestamp + method + path + body.replace("'", '"')
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("utf-8")


def _header(headers: Mapping[str, str], name: str, venue_text: str) -> str:
    value = headers.get(name)
    if not value:
        msg = f"missing header {name}"
        raise AuthError(venue_text, msg)
    return value


def _check_timestamp(timestamp: str, *, now: float, max_skew_s: float | None, text: str) -> None:
    try:
        seconds = int(timestamp)
    except ValueError as e:
        msg = f"POLY_TIMESTAMP {timestamp!r} is not integer seconds"
        raise AuthError(text, msg) from e
    if max_skew_s is not None and abs(now - seconds) > max_skew_s:
        msg = f"POLY_TIMESTAMP {seconds} is more than {max_skew_s} s from server time {now:.0f}"
        raise AuthError(text, msg)


def verify_l2(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: str,
    keys: Mapping[str, ApiCredentials],
    now: float,
    max_skew_s: float | None,
) -> ApiCredentials:
    """The credentials that signed this request, or `AuthError` (HTTP 401)."""
    for name in _L2_HEADERS:
        _header(headers, name, INVALID_API_KEY)
    api_key = headers["POLY_API_KEY"]
    credentials = keys.get(api_key)
    if credentials is None:
        msg = f"unknown POLY_API_KEY {api_key!r}"
        raise AuthError(INVALID_API_KEY, msg)
    if not hmac.compare_digest(headers["POLY_PASSPHRASE"], credentials.passphrase):
        msg = f"POLY_PASSPHRASE does not belong to api key {api_key!r}"
        raise AuthError(INVALID_API_KEY, msg)
    if headers["POLY_ADDRESS"].lower() != credentials.address.lower():
        msg = f"POLY_ADDRESS {headers['POLY_ADDRESS']} does not own api key {api_key!r}"
        raise AuthError(INVALID_API_KEY, msg)
    timestamp = headers["POLY_TIMESTAMP"]
    _check_timestamp(timestamp, now=now, max_skew_s=max_skew_s, text=INVALID_API_KEY)
    expected = hmac_signature(
        secret=credentials.secret, timestamp=timestamp, method=method, path=path, body=body
    )
    if not hmac.compare_digest(headers["POLY_SIGNATURE"], expected):
        msg = f"POLY_SIGNATURE does not match {method} {path} for api key {api_key!r}"
        raise AuthError(INVALID_API_KEY, msg)
    return credentials


def clob_auth_message(
    *, address: str, timestamp: str, nonce: int, chain_id: int
) -> SignableMessage:
    """The EIP-712 message an L1 header signs (domain ClobAuthDomain v1, struct ClobAuth)."""
    typed = {
        "primaryType": "ClobAuth",
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {
            "address": address,
            "timestamp": timestamp,
            "nonce": nonce,
            "message": CLOB_AUTH_MESSAGE,
        },
    }
    return encode_typed_data(full_message=typed)


def verify_l1(
    headers: Mapping[str, str], *, chain_id: int, now: float, max_skew_s: float | None
) -> tuple[str, int]:
    """(address, nonce) of a correctly signed L1 request, or `AuthError` (HTTP 401)."""
    for name in _L1_HEADERS:
        _header(headers, name, INVALID_L1_HEADERS)
    address = headers["POLY_ADDRESS"]
    timestamp = headers["POLY_TIMESTAMP"]
    _check_timestamp(timestamp, now=now, max_skew_s=max_skew_s, text=INVALID_L1_HEADERS)
    nonce_text = headers.get("POLY_NONCE") or "0"
    try:
        nonce = int(nonce_text)
        signable = clob_auth_message(
            address=address, timestamp=timestamp, nonce=nonce, chain_id=chain_id
        )
        recovered = Account.recover_message(signable, signature=headers["POLY_SIGNATURE"])
    except (ValueError, TypeError, binascii.Error) as e:
        msg = f"L1 headers of {address} cannot be verified: {type(e).__name__}"
        raise AuthError(INVALID_L1_HEADERS, msg) from e
    if recovered.lower() != address.lower():
        msg = f"POLY_SIGNATURE was signed by {recovered}, not POLY_ADDRESS {address}"
        raise AuthError(INVALID_L1_HEADERS, msg)
    return address, nonce
