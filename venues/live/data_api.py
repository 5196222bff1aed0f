"""A small client of Polymarket's Data API: the wallet's open and closed positions.

Reconciliation reads positions here (the CLOB knows orders and trades, not holdings). The Data
API lags the CLOB by seconds, so callers never use it to check a balance right after a fill.
It pages with `limit` and `offset`; a page shorter than the limit is the last one. Errors are
the venue's typed errors (`venues.errors.classify`), so the gateway retries what is retryable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from venues.errors import VenueError
from venues.live import wire
from venues.live.http import get_json
from venues.types import ClosedPosition, VenuePosition

__all__ = ["PAGE_LIMIT", "DataApiClient"]

PAGE_LIMIT = 500
"""Rows asked per page (the Data API's largest page for /positions and /closed-positions)."""

MAX_PAGES = 100
"""A wallet with more than this many pages is a bug of ours or of the API, not a wallet."""

T = TypeVar("T")


class DataApiClient:
    """GET /positions and /closed-positions of one wallet (the funder/proxy address)."""

    def __init__(self, host: str, wallet: str, *, timeout_s: float) -> None:
        if not host.startswith(("http://", "https://")):
            msg = f"Data API host must be an http(s) URL, got {host!r}"
            raise ValueError(msg)
        if not wallet:
            msg = "the Data API needs the wallet address that holds the positions"
            raise ValueError(msg)
        self._host = host.rstrip("/")
        self._wallet = wallet
        self._timeout_s = timeout_s

    def positions(self) -> tuple[VenuePosition, ...]:
        rows = self._all_pages("/positions", wire.parse_positions)
        return tuple(wire.venue_position(row) for row in rows)

    def closed_positions(self) -> tuple[ClosedPosition, ...]:
        return self._all_pages("/closed-positions", wire.parse_closed_positions)

    def _all_pages(self, path: str, parse: Callable[[object, str], tuple[T, ...]]) -> tuple[T, ...]:
        rows: list[T] = []
        for page in range(MAX_PAGES):
            offset = page * PAGE_LIMIT
            params = {"user": self._wallet, "limit": str(PAGE_LIMIT), "offset": str(offset)}
            raw = get_json(self._host, path, params, timeout_s=self._timeout_s)
            chunk = parse(raw, f"{path}?offset={offset}")
            rows.extend(chunk)
            if len(chunk) < PAGE_LIMIT:
                return tuple(rows)
        msg = f"{path} of {self._wallet} has more than {MAX_PAGES} pages of {PAGE_LIMIT}"
        raise VenueError(rule="data_api_pages", value=MAX_PAGES, detail=msg)
