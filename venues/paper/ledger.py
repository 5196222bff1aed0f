"""Double-entry books of the paper exchange: who holds how much collateral and which tokens.

Money and shares only ever move between accounts, are minted as complete sets (1 collateral
locks into the market and creates 1 UP + 1 DOWN), or are redeemed after resolution (each
winning token takes 1 collateral back out of the market; losing tokens are burned). So:

- total collateral over all accounts (ours, the house's, the fee pool, escrow and what is
  locked in markets) never changes;
- in an unresolved market, the supply of UP equals the supply of DOWN equals the collateral
  locked in it; after resolution the supply of the winner equals the collateral locked;
- no balance is ever negative (a transfer that would overdraw raises `LedgerError`: that is a
  bug in the exchange, never a refusal to a client).

`audit()` checks all three and returns what is wrong, so tests can assert it is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from venues.types import ZERO, ConditionId, TokenId

__all__ = ["COLLATERAL", "Account", "Ledger", "LedgerError", "locked_in"]

COLLATERAL: Final = "collateral"
"""The asset name of collateral (pUSD); every other asset is a token id."""


class Account(StrEnum):
    US = "us"
    HOUSE = "house"  # the simulated counterparty of every trade we make
    FEES = "fees"  # taker fees collected by the operator
    ESCROW = "escrow"  # both legs of a matched trade until it is confirmed or fails


def locked_in(condition_id: ConditionId) -> str:
    """The account holding the collateral that backs one market's complete sets."""
    return f"market:{condition_id}"


class LedgerError(Exception):
    """The exchange tried to move what an account does not hold: a bug, not a refusal."""


@dataclass(slots=True)
class _Market:
    up: TokenId
    down: TokenId
    winner: TokenId | None = None


class Ledger:
    """Balances per (account, asset); see the module docstring for what it conserves."""

    def __init__(self, opening_collateral: Mapping[str, Decimal]) -> None:
        self._balances: dict[tuple[str, str], Decimal] = {}
        self._markets: dict[ConditionId, _Market] = {}
        for account, amount in opening_collateral.items():
            if amount < 0:
                msg = f"opening collateral of {account!r} is negative: {amount}"
                raise LedgerError(msg)
            self._balances[(account, COLLATERAL)] = amount
        self._total_collateral = sum(opening_collateral.values(), ZERO)

    def balance(self, account: str, asset: str) -> Decimal:
        return self._balances.get((account, asset), ZERO)

    def transfer(self, asset: str, source: str, destination: str, amount: Decimal) -> None:
        if amount < 0:
            msg = f"cannot transfer a negative amount {amount} of {asset} from {source}"
            raise LedgerError(msg)
        self._debit(source, asset, amount)
        self._credit(destination, asset, amount)

    def register_market(self, condition_id: ConditionId, up: TokenId, down: TokenId) -> None:
        self._markets.setdefault(condition_id, _Market(up=up, down=down))

    def split(self, account: str, condition_id: ConditionId, amount: Decimal) -> None:
        """Lock `amount` collateral of `account` into the market; mint it as many UP and DOWN."""
        market = self._market(condition_id)
        if market.winner is not None:
            msg = f"cannot mint sets of resolved market {condition_id}"
            raise LedgerError(msg)
        self.transfer(COLLATERAL, account, locked_in(condition_id), amount)
        self._credit(account, market.up, amount)
        self._credit(account, market.down, amount)

    def resolve(self, condition_id: ConditionId, winner: TokenId) -> None:
        market = self._market(condition_id)
        if winner not in (market.up, market.down):
            msg = f"winner {winner} is not a token of market {condition_id}"
            raise LedgerError(msg)
        market.winner = winner

    def redeem(self, account: str, condition_id: ConditionId) -> Decimal:
        """Burn `account`'s tokens of a resolved market; pay 1 collateral per winning token."""
        market = self._market(condition_id)
        if market.winner is None:
            msg = f"cannot redeem unresolved market {condition_id}"
            raise LedgerError(msg)
        payout = self.balance(account, market.winner)
        for token in (market.up, market.down):
            self._debit(account, token, self.balance(account, token))
        self.transfer(COLLATERAL, locked_in(condition_id), account, payout)
        return payout

    def supply(self, token: str) -> Decimal:
        return sum(
            (amount for (_, asset), amount in self._balances.items() if asset == token), ZERO
        )

    def audit(self) -> tuple[str, ...]:
        """Every conservation or non-negativity violation; empty when the books are sound."""
        problems = [
            f"{account} holds {amount} {asset}"
            for (account, asset), amount in self._balances.items()
            if amount < 0
        ]
        total = self.supply(COLLATERAL)
        if total != self._total_collateral:
            problems.append(f"collateral total {total} != opening total {self._total_collateral}")
        for condition_id, market in self._markets.items():
            locked = self.balance(locked_in(condition_id), COLLATERAL)
            tokens = (market.up, market.down) if market.winner is None else (market.winner,)
            problems.extend(
                f"market {condition_id}: supply of {token} is {self.supply(token)}, "
                f"collateral locked is {locked}"
                for token in tokens
                if self.supply(token) != locked
            )
        return tuple(problems)

    def _market(self, condition_id: ConditionId) -> _Market:
        market = self._markets.get(condition_id)
        if market is None:
            msg = f"unknown market {condition_id}"
            raise LedgerError(msg)
        return market

    def _debit(self, account: str, asset: str, amount: Decimal) -> None:
        held = self.balance(account, asset)
        if held < amount:
            msg = f"{account} cannot give {amount} {asset}: holds {held}"
            raise LedgerError(msg)
        self._balances[(account, asset)] = held - amount

    def _credit(self, account: str, asset: str, amount: Decimal) -> None:
        self._balances[(account, asset)] = self.balance(account, asset) + amount
