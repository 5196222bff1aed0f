"""Typed venue errors, and the classifier that maps the venue's HTTP answers onto them.

Every exchange implementation (paper now, live later) raises these and nothing else for a
refusal, so the venue gateway can decide retry / give up / treat-as-success by type alone:

    VenueError                  carries `rule` and `value`; its message names both
    ├── RetryableError          transient: try again later, with backoff
    │   ├── VenueTimeout        no answer in time. The request MAY have taken effect: look
    │   │                       before resubmitting (invariant 2), never resend blindly
    │   ├── ServerError         HTTP 5xx ("could not run the execution" near window ends)
    │   ├── Maintenance         HTTP 425 matching-engine restart; also the post-only,
    │   │                       cancel-only and "trading disabled" modes around it
    │   └── RateLimited         HTTP 429
    ├── RejectedError           this request is refused; resending it unchanged fails again
    │   ├── InvalidPrice        off the tick grid, or outside [tick, 1 - tick]
    │   ├── InvalidSize         size/amount not positive or too precise
    │   ├── BelowMinimumSize    fewer shares than the market's min_order_size
    │   ├── BelowMinimumNotional  a marketable BUY worth less than $1
    │   ├── InvalidExpiration   GTD expiry too soon, or an expiry on a non-GTD order
    │   ├── InvalidOrderType    e.g. post-only on FOK/FAK
    │   ├── InsufficientBalance
    │   ├── InsufficientAllowance
    │   ├── MarketClosed        unknown, not yet open, ended or resolved market
    │   ├── MarketNotResolved   redeem before resolution
    │   ├── PostOnlyWouldCross
    │   ├── OrderNotFilled      FOK killed, or FAK found nothing to match
    │   ├── BatchTooLarge       more than 15 orders in one placement batch
    │   └── Unauthorized        HTTP 401/403: bad or missing credentials
    └── OrderNotFound           the order is not (or no longer) on the venue. On a cancel it
                                means "already gone", which callers treat as success

Each class has a `kind` (snake_case, used as a key in fault settings) and a `venue_text`: the
venue's own wording for that refusal. A message always contains the venue text, so
`classify(400, str(error))` recovers the class of any error an exchange raised here; batch
legs carry their error as that string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

__all__ = [
    "ERRORS_BY_KIND",
    "BatchTooLarge",
    "BelowMinimumNotional",
    "BelowMinimumSize",
    "InsufficientAllowance",
    "InsufficientBalance",
    "InvalidExpiration",
    "InvalidOrderType",
    "InvalidPrice",
    "InvalidSize",
    "Maintenance",
    "MarketClosed",
    "MarketNotResolved",
    "OrderNotFilled",
    "OrderNotFound",
    "PostOnlyWouldCross",
    "RateLimited",
    "RejectedError",
    "RetryableError",
    "ServerError",
    "Unauthorized",
    "VenueError",
    "VenueTimeout",
    "classify",
    "is_retryable",
]


class VenueError(Exception):
    """A venue refused or failed a request. `rule` names what was violated, `value` the
    offending value; `detail` is free text, by default the venue's own wording."""

    kind: ClassVar[str] = "venue_error"
    venue_text: ClassVar[str] = "venue error"

    def __init__(self, *, rule: str, value: object, detail: str | None = None) -> None:
        self.rule = rule
        self.value = value
        # The venue's wording always appears, so `classify` can read the class back.
        if detail is None:
            self.detail = self.venue_text
        elif self.venue_text.lower() in detail.lower():
            self.detail = detail
        else:
            self.detail = f"{self.venue_text}: {detail}"
        super().__init__(f"{rule} violated by {value}: {self.detail}")

    def __reduce__(self) -> tuple[object, tuple[type[VenueError], str, object, str]]:
        # Errors cross process boundaries (Ray); default pickling would replay positional args.
        return (_rebuild, (type(self), self.rule, self.value, self.detail))


def _rebuild(error_class: type[VenueError], rule: str, value: object, detail: str) -> VenueError:
    return error_class(rule=rule, value=value, detail=detail)


class RetryableError(VenueError):
    """Transient: the same request may succeed later."""

    kind = "retryable"


class VenueTimeout(RetryableError):
    kind = "timeout"
    venue_text = "request timed out"


class ServerError(RetryableError):
    kind = "server_error"
    venue_text = "internal server error"


class Maintenance(RetryableError):
    kind = "maintenance"
    venue_text = "venue under maintenance"


class RateLimited(RetryableError):
    kind = "rate_limited"
    venue_text = "Too Many Requests"


class RejectedError(VenueError):
    """The venue refused this request for a reason that resending will not change."""

    kind = "rejected"
    venue_text = "order rejected"


class InvalidPrice(RejectedError):
    kind = "invalid_price"
    venue_text = "invalid price"


class InvalidSize(RejectedError):
    kind = "invalid_size"
    venue_text = "invalid order size"


class BelowMinimumSize(RejectedError):
    kind = "below_minimum_size"
    venue_text = "size lower than the minimum"


class BelowMinimumNotional(RejectedError):
    kind = "below_minimum_notional"
    venue_text = "invalid amount for a marketable BUY order"


class InvalidExpiration(RejectedError):
    kind = "invalid_expiration"
    venue_text = "invalid expiration"


class InvalidOrderType(RejectedError):
    kind = "invalid_order_type"
    venue_text = "invalid order type"


class InsufficientBalance(RejectedError):
    kind = "insufficient_balance"
    venue_text = "not enough balance / allowance"


class InsufficientAllowance(RejectedError):
    kind = "insufficient_allowance"
    venue_text = "not enough allowance"


class MarketClosed(RejectedError):
    kind = "market_closed"
    venue_text = "market is closed"


class MarketNotResolved(RejectedError):
    kind = "market_not_resolved"
    venue_text = "market is not resolved"


class PostOnlyWouldCross(RejectedError):
    kind = "post_only_would_cross"
    venue_text = "invalid post-only order: order crosses book"


class OrderNotFilled(RejectedError):
    kind = "order_not_filled"
    venue_text = "order not filled"


class BatchTooLarge(RejectedError):
    kind = "batch_too_large"
    venue_text = "too many orders in one batch"


class Unauthorized(RejectedError):
    kind = "unauthorized"
    venue_text = "Unauthorized/Invalid api key"


class OrderNotFound(VenueError):
    """Not (or no longer) on the venue. On cancel: already cancelled or matched, i.e. done."""

    kind = "order_not_found"
    venue_text = "order not found"


def _all_subclasses(root: type[VenueError]) -> tuple[type[VenueError], ...]:
    found: list[type[VenueError]] = []
    for child in root.__subclasses__():
        found.append(child)
        found.extend(_all_subclasses(child))
    return tuple(found)


ERRORS_BY_KIND: Mapping[str, type[VenueError]] = MappingProxyType(
    {cls.kind: cls for cls in _all_subclasses(VenueError)}
)
"""Every concrete error class by its `kind`, e.g. `"server_error" -> ServerError`."""


def is_retryable(error: BaseException) -> bool:
    """True when retrying the same request later can succeed (with backoff)."""
    return isinstance(error, RetryableError)


# --- classification of the venue's answers ----------------------------------------------------

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_SIZE_BELOW_MINIMUM = re.compile(rf"size \({_NUMBER}\) lower than the minimum: {_NUMBER}")
_PRICE_OUT_OF_RANGE = re.compile(rf"price \({_NUMBER}\)")
_BALANCE_AND_AMOUNT = re.compile(rf"balance: {_NUMBER}, order amount: {_NUMBER}")

# (needle in the lower-cased message, class, rule). First match wins, so the more specific
# needles come first: "post-only mode" before "post-only order", allowance-only before balance.
_MESSAGE_RULES: tuple[tuple[str, type[VenueError], str], ...] = (
    ("post-only mode", Maintenance, "post_only_mode"),
    ("cancel-only", Maintenance, "cancel_only_mode"),
    ("trading is currently disabled", Maintenance, "trading_disabled"),
    ("venue under maintenance", Maintenance, "maintenance"),
    ("too many requests", RateLimited, "rate_limit"),
    ("could not run the execution", ServerError, "execution_failed"),
    ("internal server error", ServerError, "server_error"),
    ("timed out", VenueTimeout, "timeout"),
    ("timeout", VenueTimeout, "timeout"),
    ("unauthorized", Unauthorized, "credentials"),
    ("invalid api key", Unauthorized, "credentials"),
    ("invalid l1 request headers", Unauthorized, "credentials"),
    ("invalid post-only order", PostOnlyWouldCross, "post_only"),
    ("crosses book", PostOnlyWouldCross, "post_only"),
    ("fok orders are fully filled or killed", OrderNotFilled, "fok_fill_or_kill"),
    ("couldn't be fully filled", OrderNotFilled, "fok_fill_or_kill"),
    ("no orders found to match with fak", OrderNotFilled, "fak_no_match"),
    ("order not filled", OrderNotFilled, "not_filled"),
    ("already canceled or matched", OrderNotFound, "order_gone"),
    ("order not found", OrderNotFound, "order_gone"),
    ("not yet ready to process new orders", MarketClosed, "market_not_ready"),
    ("market not found", MarketClosed, "market_not_found"),
    ("market is closed", MarketClosed, "market_closed"),
    ("market is not resolved", MarketNotResolved, "market_not_resolved"),
    ("invalid token id", MarketClosed, "market_not_found"),
    ("not enough allowance", InsufficientAllowance, "allowance"),
    ("not enough balance", InsufficientBalance, "balance"),
    ("insufficient balance", InsufficientBalance, "balance"),
    ("invalid expiration", InvalidExpiration, "expiration"),
    ("lower than the minimum", BelowMinimumSize, "min_order_size"),
    ("invalid amount for a marketable", BelowMinimumNotional, "min_notional"),
    ("invalid amounts", InvalidSize, "amount_precision"),
    ("invalid order size", InvalidSize, "size"),
    ("invalid tick size", InvalidPrice, "tick_size"),
    ("invalid price", InvalidPrice, "price_range"),
    ("invalid order type", InvalidOrderType, "order_type"),
    ("too many orders", BatchTooLarge, "batch_limit"),
    ("order_version_mismatch", RejectedError, "order_version"),
    ("invalid order version", RejectedError, "order_version"),
    ("invalid nonce", RejectedError, "nonce"),
)


def classify(status_code: int | None, message: str) -> VenueError:
    """Map one venue answer (HTTP status, `error`/`errorMsg` text) to a typed error.

    `status_code` None means no HTTP answer arrived at all (a transport timeout). Batch legs
    that failed inside a 200 response are classified with 400. The exact venue strings are
    listed in polymarket_api.md 2.8 and 8; unknown 4xx texts become a plain `RejectedError`
    (rule "rejected") rather than being guessed at.
    """
    if status_code == 425:
        return Maintenance(rule="maintenance", value=status_code, detail=message)
    if status_code == 429:
        return RateLimited(rule="rate_limit", value=status_code, detail=message)
    lowered = message.lower()
    for needle, error_class, rule in _MESSAGE_RULES:
        if needle in lowered:
            return error_class(
                rule=rule, value=_value_named_in(lowered, error_class, status_code), detail=message
            )
    if status_code is None or status_code in (408, 504):
        return VenueTimeout(rule="timeout", value=status_code, detail=message)
    if status_code >= 500:
        return ServerError(rule="server_error", value=status_code, detail=message)
    if status_code == 404:
        return OrderNotFound(rule="order_gone", value=status_code, detail=message)
    if status_code in (401, 403):
        return Unauthorized(rule="credentials", value=status_code, detail=message)
    return RejectedError(rule="rejected", value=status_code, detail=message)


def _value_named_in(lowered: str, error_class: type[VenueError], status_code: int | None) -> object:
    """The offending value the venue quoted in its message, else the HTTP status."""
    if error_class is BelowMinimumSize and (match := _SIZE_BELOW_MINIMUM.search(lowered)):
        return match.group(1)
    if error_class is InvalidPrice and (match := _PRICE_OUT_OF_RANGE.search(lowered)):
        return match.group(1)
    if error_class is InsufficientBalance and (match := _BALANCE_AND_AMOUNT.search(lowered)):
        return match.group(2)
    return status_code
