"""The venue error hierarchy and the classifier of the venue's HTTP answers."""

from __future__ import annotations

import pickle

import pytest

from venues import errors
from venues.errors import (
    ERRORS_BY_KIND,
    BatchTooLarge,
    BelowMinimumNotional,
    BelowMinimumSize,
    InsufficientAllowance,
    InsufficientBalance,
    InvalidExpiration,
    InvalidOrderType,
    InvalidPrice,
    InvalidSize,
    Maintenance,
    MarketClosed,
    MarketNotResolved,
    OrderNotFilled,
    OrderNotFound,
    PostOnlyWouldCross,
    RateLimited,
    RejectedError,
    RetryableError,
    ServerError,
    Unauthorized,
    VenueError,
    VenueTimeout,
    classify,
    is_retryable,
)

RETRYABLE = (VenueTimeout, ServerError, Maintenance, RateLimited)
REJECTED = (
    InvalidPrice,
    InvalidSize,
    BelowMinimumSize,
    BelowMinimumNotional,
    InvalidExpiration,
    InvalidOrderType,
    InsufficientBalance,
    InsufficientAllowance,
    MarketClosed,
    MarketNotResolved,
    PostOnlyWouldCross,
    OrderNotFilled,
    BatchTooLarge,
    Unauthorized,
)


@pytest.mark.parametrize("error_class", RETRYABLE)
def test_transient_errors_are_retryable(error_class: type[VenueError]) -> None:
    error = error_class(rule="r", value=1)
    assert isinstance(error, RetryableError)
    assert is_retryable(error)


@pytest.mark.parametrize("error_class", [*REJECTED, OrderNotFound])
def test_refusals_and_not_found_are_not_retryable(error_class: type[VenueError]) -> None:
    error = error_class(rule="r", value=1)
    assert not is_retryable(error)
    assert isinstance(error, VenueError)


def test_not_found_is_its_own_kind_not_a_rejection() -> None:
    error = OrderNotFound(rule="order_gone", value="0xabc")
    assert not isinstance(error, RejectedError | RetryableError)


def test_a_plain_exception_is_not_retryable() -> None:
    assert not is_retryable(ValueError("x"))


def test_the_message_names_the_rule_the_value_and_the_venue_wording() -> None:
    error = InvalidPrice(rule="tick_grid", value="0.555", detail="price 0.555 is off the 0.01 grid")
    text = str(error)
    assert "tick_grid" in text
    assert "0.555" in text
    assert "invalid price" in text  # the venue's wording is added when the detail lacks it
    assert (error.rule, error.value) == ("tick_grid", "0.555")


def test_the_venue_wording_is_not_repeated_when_the_detail_has_it() -> None:
    error = InsufficientBalance(rule="balance", value=5, detail="not enough balance / allowance: x")
    assert str(error).count("not enough balance") == 1


@pytest.mark.parametrize("error_class", [*RETRYABLE, *REJECTED, OrderNotFound])
def test_errors_survive_pickling_with_their_rule_and_value(error_class: type[VenueError]) -> None:
    error = error_class(rule="some_rule", value=42, detail="why")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is error_class
    assert (copy.rule, copy.value, copy.detail, str(copy)) == (
        error.rule,
        error.value,
        error.detail,
        str(error),
    )


@pytest.mark.parametrize("error_class", [*RETRYABLE, *REJECTED, OrderNotFound])
def test_classify_reads_back_the_class_of_any_error_from_its_message(
    error_class: type[VenueError],
) -> None:
    error = error_class(rule="some_rule", value=7)
    assert type(classify(400, str(error))) is error_class


def test_every_concrete_error_is_listed_by_kind() -> None:
    for error_class in (*RETRYABLE, *REJECTED, OrderNotFound):
        assert ERRORS_BY_KIND[error_class.kind] is error_class


def test_the_module_docstring_draws_every_error_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    for error_class in (*RETRYABLE, *REJECTED, OrderNotFound, RetryableError, RejectedError):
        assert error_class.__name__ in tree


# Exact strings the venue sends (polymarket_api.md 2.8 and 8, and recorded fixtures).
VENUE_ANSWERS = [
    (400, "not enough balance / allowance", InsufficientBalance, "balance"),
    (
        400,
        "not enough balance / allowance: the balance is not enough -> balance: 3.2, order amount: 5.5",
        InsufficientBalance,
        "balance",
    ),
    (200, "Insufficient balance", InsufficientBalance, "balance"),
    (
        400,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
        OrderNotFilled,
        "fok_fill_or_kill",
    ),
    (
        400,
        "no orders found to match with FAK order. FAK orders are partially filled or killed if no "
        "match is found.",
        OrderNotFilled,
        "fak_no_match",
    ),
    (400, "invalid post-only order: order crosses book", PostOnlyWouldCross, "post_only"),
    (
        400,
        "post-only mode: only post-only orders and cancels are allowed",
        Maintenance,
        "post_only_mode",
    ),
    (400, "the market is not yet ready to process new orders", MarketClosed, "market_not_ready"),
    (400, "invalid expiration", InvalidExpiration, "expiration"),
    (
        400,
        "order 0xabc is invalid. Size (0.1) lower than the minimum: 5",
        BelowMinimumSize,
        "min_order_size",
    ),
    (
        400,
        "invalid amount for a marketable BUY order ($0.5), min size: $1",
        BelowMinimumNotional,
        "min_notional",
    ),
    (
        400,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
        "decimals, taker amount a max of 4 decimals",
        InvalidSize,
        "amount_precision",
    ),
    (400, "invalid price (0.999), min: 0.01 - max: 0.99", InvalidPrice, "price_range"),
    (400, "invalid tick size (0.001), minimum for the market is 0.01", InvalidPrice, "tick_size"),
    (400, "order_version_mismatch", RejectedError, "order_version"),
    (400, "invalid nonce", RejectedError, "nonce"),
    (500, "could not run the execution", ServerError, "execution_failed"),
    (500, "Internal server error", ServerError, "server_error"),
    (
        503,
        "Trading is currently disabled. Check polymarket.com for updates",
        Maintenance,
        "trading_disabled",
    ),
    (503, "Trading is currently cancel-only", Maintenance, "cancel_only_mode"),
    (425, "Too Early", Maintenance, "maintenance"),
    (429, "Too Many Requests", RateLimited, "rate_limit"),
    (401, "Unauthorized/Invalid api key", Unauthorized, "credentials"),
    (401, "Invalid L1 Request headers", Unauthorized, "credentials"),
    (200, "already canceled or matched", OrderNotFound, "order_gone"),
    (404, "market not found", MarketClosed, "market_not_found"),
    (400, "Invalid token id", MarketClosed, "market_not_found"),
]


@pytest.mark.parametrize(("status", "message", "error_class", "rule"), VENUE_ANSWERS)
def test_classify_maps_the_venues_exact_answers(
    status: int, message: str, error_class: type[VenueError], rule: str
) -> None:
    error = classify(status, message)
    assert type(error) is error_class
    assert error.rule == rule
    assert message in str(error)


def test_classify_picks_the_quoted_value_out_of_the_venues_message() -> None:
    assert (
        classify(400, "order 0x1 is invalid. Size (0.1) lower than the minimum: 5").value == "0.1"
    )
    assert classify(400, "invalid price (0.999), min: 0.01 - max: 0.99").value == "0.999"
    balance = (
        "not enough balance / allowance: the balance is not enough -> balance: 3, order amount: 5.5"
    )
    assert classify(400, balance).value == "5.5"


@pytest.mark.parametrize(
    ("status", "error_class", "rule"),
    [
        (None, VenueTimeout, "timeout"),
        (408, VenueTimeout, "timeout"),
        (504, VenueTimeout, "timeout"),
        (502, ServerError, "server_error"),
        (404, OrderNotFound, "order_gone"),
        (403, Unauthorized, "credentials"),
        (400, RejectedError, "rejected"),
    ],
)
def test_classify_falls_back_on_the_status_for_unknown_messages(
    status: int | None, error_class: type[VenueError], rule: str
) -> None:
    error = classify(status, "something nobody has seen before")
    assert type(error) is error_class
    assert error.rule == rule
    assert error.value == status
