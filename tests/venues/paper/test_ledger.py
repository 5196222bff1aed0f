"""The paper exchange's double-entry books: transfers, complete sets, redemption, audit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from venues.paper.ledger import COLLATERAL, Account, Ledger, LedgerError, locked_in
from venues.types import ConditionId, TokenId

D = Decimal
MARKET = ConditionId("0xm")
UP = TokenId("up")
DOWN = TokenId("down")


@pytest.fixture
def ledger() -> Ledger:
    books = Ledger({Account.US: D(100), Account.HOUSE: D(1000)})
    books.register_market(MARKET, UP, DOWN)
    return books


def test_a_transfer_moves_the_amount_between_accounts(ledger: Ledger) -> None:
    ledger.transfer(COLLATERAL, Account.US, Account.HOUSE, D(40))
    assert ledger.balance(Account.US, COLLATERAL) == 60
    assert ledger.balance(Account.HOUSE, COLLATERAL) == 1040
    assert ledger.audit() == ()


def test_an_overdraft_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="us cannot give 101 collateral: holds 100"):
        ledger.transfer(COLLATERAL, Account.US, Account.HOUSE, D(101))
    assert ledger.balance(Account.US, COLLATERAL) == 100


def test_a_negative_transfer_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="negative"):
        ledger.transfer(COLLATERAL, Account.US, Account.HOUSE, D(-1))


def test_splitting_locks_collateral_and_mints_as_many_of_each_token(ledger: Ledger) -> None:
    ledger.split(Account.HOUSE, MARKET, D(30))
    assert ledger.balance(locked_in(MARKET), COLLATERAL) == 30
    assert ledger.balance(Account.HOUSE, UP) == ledger.balance(Account.HOUSE, DOWN) == 30
    assert ledger.audit() == ()


def test_redeeming_pays_one_per_winning_token_and_burns_both_sides(ledger: Ledger) -> None:
    ledger.split(Account.HOUSE, MARKET, D(30))
    ledger.transfer(UP, Account.HOUSE, Account.US, D(10))
    ledger.transfer(DOWN, Account.HOUSE, Account.US, D(4))
    ledger.resolve(MARKET, UP)
    assert ledger.redeem(Account.US, MARKET) == 10
    assert ledger.balance(Account.US, COLLATERAL) == 110
    assert ledger.balance(Account.US, UP) == ledger.balance(Account.US, DOWN) == 0
    assert ledger.audit() == ()


def test_an_unresolved_market_cannot_be_redeemed(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="unresolved"):
        ledger.redeem(Account.US, MARKET)


def test_the_audit_reports_collateral_created_from_nothing(ledger: Ledger) -> None:
    ledger._credit(Account.US, COLLATERAL, D(5))
    assert ledger.audit() == ("collateral total 1105 != opening total 1100",)


def test_the_audit_reports_tokens_without_backing(ledger: Ledger) -> None:
    ledger.split(Account.HOUSE, MARKET, D(3))
    ledger._credit(Account.US, UP, D(1))
    (problem,) = ledger.audit()
    assert "supply of up is 4" in problem


def test_the_audit_reports_a_negative_balance(ledger: Ledger) -> None:
    ledger._balances[(Account.FEES, COLLATERAL)] = D(-1)
    ledger._balances[(Account.US, COLLATERAL)] = D(101)
    assert ledger.audit() == ("fees holds -1 collateral",)


def test_the_winner_must_belong_to_the_market(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="not a token"):
        ledger.resolve(MARKET, TokenId("other"))
