"""L1/L2 verification against headers built by the real client's own signing code."""

from __future__ import annotations

import pytest
from eth_account import Account
from py_clob_client_v2.clob_types import ApiCreds, RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.signer import Signer

from venues.sandbox.auth import (
    INVALID_API_KEY,
    INVALID_L1_HEADERS,
    AuthError,
    derive_credentials,
    verify_l1,
    verify_l2,
)

NOW = 1_767_225_600


@pytest.fixture
def signer() -> Signer:
    return Signer(Account.create().key.hex(), 137)


def _l2_headers(signer: Signer, creds: ApiCreds, body: str, path: str = "/order") -> dict[str, str]:
    args = RequestArgs(method="POST", request_path=path, body=None, serialized_body=body)
    headers: dict[str, str] = create_level_2_headers(signer, creds, args, timestamp=NOW)
    return headers


def test_credentials_are_derived_the_same_way_every_time_and_differ_by_nonce() -> None:
    first = derive_credentials(server_salt=b"s", address="0xAbC", nonce=0)
    same = derive_credentials(server_salt=b"s", address="0xabc", nonce=0)
    assert (same.api_key, same.secret, same.passphrase) == (
        first.api_key,
        first.secret,
        first.passphrase,
    )
    assert derive_credentials(server_salt=b"s", address="0xabc", nonce=1).api_key != first.api_key
    assert derive_credentials(server_salt=b"t", address="0xabc", nonce=0).secret != first.secret
    assert first.secret not in repr(first)
    assert first.passphrase not in repr(first)


def test_an_l2_request_signed_by_the_client_verifies(signer: Signer) -> None:
    mine = derive_credentials(server_salt=b"s", address=signer.address(), nonce=0)
    creds = ApiCreds(mine.api_key, mine.secret, mine.passphrase)
    body = '{"orderID":"0xabc"}'
    headers = _l2_headers(signer, creds, body)
    verified = verify_l2(
        headers,
        method="POST",
        path="/order",
        body=body,
        keys={mine.api_key: mine},
        now=NOW + 5,
        max_skew_s=30,
    )
    assert verified == mine


@pytest.mark.parametrize(
    ("method", "path", "body", "now"),
    [
        ("DELETE", "/order", '{"orderID":"0xabc"}', NOW),  # another method
        ("POST", "/orders", '{"orderID":"0xabc"}', NOW),  # another path
        ("POST", "/order", '{"orderID":"0xabd"}', NOW),  # another body
        ("POST", "/order", '{"orderID":"0xabc"}', NOW + 31),  # stale timestamp
    ],
)
def test_an_l2_request_that_does_not_match_its_signature_is_unauthorized(
    signer: Signer, method: str, path: str, body: str, now: int
) -> None:
    mine = derive_credentials(server_salt=b"s", address=signer.address(), nonce=0)
    creds = ApiCreds(mine.api_key, mine.secret, mine.passphrase)
    headers = _l2_headers(signer, creds, '{"orderID":"0xabc"}')
    with pytest.raises(AuthError) as refused:
        verify_l2(
            headers,
            method=method,
            path=path,
            body=body,
            keys={mine.api_key: mine},
            now=now,
            max_skew_s=30,
        )
    assert refused.value.venue_text == INVALID_API_KEY


def test_an_unknown_api_key_is_unauthorized_and_named(signer: Signer) -> None:
    creds = ApiCreds("not-a-key", "c2VjcmV0", "p")
    with pytest.raises(AuthError, match="not-a-key"):
        verify_l2(
            _l2_headers(signer, creds, ""),
            method="POST",
            path="/order",
            body="",
            keys={},
            now=NOW,
            max_skew_s=30,
        )


def test_l1_headers_of_the_client_verify_to_its_address_and_nonce(signer: Signer) -> None:
    headers = create_level_1_headers(signer, nonce=7, timestamp=NOW)
    assert verify_l1(headers, chain_id=137, now=NOW, max_skew_s=30) == (signer.address(), 7)


def test_l1_headers_for_another_chain_or_address_are_refused(signer: Signer) -> None:
    headers = create_level_1_headers(signer, nonce=0, timestamp=NOW)
    with pytest.raises(AuthError) as wrong_chain:
        verify_l1(headers, chain_id=80002, now=NOW, max_skew_s=30)
    assert wrong_chain.value.venue_text == INVALID_L1_HEADERS
    headers["POLY_ADDRESS"] = Account.create().address
    with pytest.raises(AuthError, match="was signed by"):
        verify_l1(headers, chain_id=137, now=NOW, max_skew_s=30)
