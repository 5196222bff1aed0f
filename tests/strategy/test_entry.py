"""One decision point put together: score a market view, then enter the favoured side or skip,
and decide reversals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Outcome
from strategy.entry import (
    Enter,
    MarketView,
    Skip,
    choose_entry,
    choose_reversal,
    market_prior_up,
    score_market,
)
from strategy.fair_value import sigma_from_annual
from strategy.settings import ConfidenceModel, StrategySettings
from venues.types import BookLevel, BookSnapshot, ConditionId, TokenId

D = Decimal
SETTINGS = StrategySettings()
NOW, END = 1300.0, 1900.0
BANKROLL = D(1000)
LOSING_SIZE = D(40)


def book(token: str, bid: str | None, ask: str | None, tick: str = "0.01") -> BookSnapshot:
    return BookSnapshot(
        condition_id=ConditionId("0xc"),
        token_id=TokenId(token),
        bids=() if bid is None else (BookLevel(D(bid), D(100)),),
        asks=() if ask is None else (BookLevel(D(ask), D(100)),),
        tick_size=D(tick),
        timestamp=NOW,
    )


def view(
    *,
    spot: str = "100",
    up: tuple[str | None, str | None] = ("0.49", "0.51"),
    down: tuple[str | None, str | None] = ("0.49", "0.51"),
    open_mid_up: str = "0.50",
    sigma: float = sigma_from_annual(0.6),
) -> MarketView:
    return MarketView(
        now=NOW,
        end=END,
        spot=D(spot),
        price_to_beat=D(100),
        open_mid_up=D(open_mid_up),
        up_book=book("up", *up),
        down_book=book("down", *down),
        sigma_per_sqrt_s=sigma,
    )


def entry(market: MarketView, *, taken=frozenset(), bankroll=BANKROLL, settings=SETTINGS):
    return choose_entry(
        scored=score_market(market, settings),
        view=market,
        taken=taken,
        bankroll=bankroll,
        min_size=D(5),
        settings=settings,
    )


# A strong UP move: the reference price is 0.2 % above the price to beat with 10 minutes left,
# the market has only half followed (UP at 0.62 from 0.50).
STRONG_UP = view(spot="100.2", up=("0.61", "0.62"), down=("0.38", "0.39"))


def test_a_strong_up_move_enters_up_at_the_best_ask():
    decision = entry(STRONG_UP)
    assert isinstance(decision, Enter)
    assert decision.outcome is Outcome.UP
    assert decision.price == D("0.62")
    assert decision.confidence >= SETTINGS.min_confidence
    assert decision.fair_value > decision.price
    assert decision.size >= 5
    assert decision.size * decision.price <= D(1000) * SETTINGS.kelly_fraction


def test_a_strong_down_move_enters_down():
    market = view(spot="99.8", up=("0.38", "0.39"), down=("0.61", "0.62"), open_mid_up="0.5")
    decision = entry(market)
    assert isinstance(decision, Enter)
    assert decision.outcome is Outcome.DOWN


def test_a_side_already_taken_is_not_entered_again():
    decision = entry(STRONG_UP, taken=frozenset({Outcome.UP}))
    assert decision == Skip(reason="side_taken", detail="UP already entered in this window")


def test_no_move_is_skipped_for_low_confidence():
    decision = entry(view())
    assert isinstance(decision, Skip)
    assert decision.reason == "low_confidence"


def test_a_wide_spread_is_skipped():
    decision = entry(view(spot="100.2", up=("0.50", "0.62"), down=("0.38", "0.50")))
    assert isinstance(decision, Skip)
    assert decision.reason == "wide_spread"


def test_no_edge_is_skipped_even_with_high_confidence():
    # The market already prices UP above what the fair value says.
    decision = entry(view(spot="100.2", up=("0.97", "0.98"), down=("0.02", "0.03")))
    assert isinstance(decision, Skip)
    assert decision.reason == "no_edge"


def test_a_small_bankroll_is_skipped_below_the_minimum_size():
    decision = entry(STRONG_UP, bankroll=D(5))
    assert isinstance(decision, Skip)
    assert decision.reason == "below_min_size"


def test_the_underdog_rule_applies_to_the_chosen_side():
    # The reference says UP strongly (additive confidence about 0.78) while the market still
    # prices UP as the underdog at 0.30: 0.30 + 0.40 passes, 0.30 + 0.60 does not.
    settings = StrategySettings(underdog_margin=D("0.60"))
    market = view(spot="100.2", up=("0.29", "0.30"), down=("0.70", "0.71"), open_mid_up="0.3")
    decision = entry(market, settings=settings)
    assert isinstance(decision, Skip)
    assert decision.reason == "underdog"
    assert isinstance(entry(market), Enter)


def test_the_bayesian_model_can_drive_the_gates():
    settings = StrategySettings(confidence_model=ConfidenceModel.BAYESIAN)
    # The market prior (0.92) carries the Bayesian confidence; the additive score is flat.
    market = view(spot="100", up=("0.91", "0.92"), down=("0.08", "0.09"), open_mid_up="0.915")
    scored = score_market(market, settings)
    assert scored.confidence.additive == D("0.5")
    assert scored.confidence.bayesian == D("0.915")
    decision = entry(market, settings=settings)
    assert isinstance(decision, Skip)
    assert decision.reason == "no_edge"  # gates passed on confidence; fair value says 0.5


def test_the_score_carries_both_models_fair_value_and_mid():
    scored = score_market(STRONG_UP, SETTINGS)
    assert scored.mid_up == D("0.615")
    assert scored.confidence.additive > D("0.5")
    assert scored.confidence.bayesian > D("0.615")
    assert scored.fair_value(Outcome.DOWN) == 1 - scored.fair_value_up


def test_the_entry_price_sits_on_the_books_tick_grid():
    market = view(spot="100.2", up=("0.614", "0.615", "0.001"), down=("0.385", "0.386", "0.001"))
    decision = entry(market)
    assert isinstance(decision, Enter)
    assert decision.price == D("0.615")


@given(spot=st.decimals(min_value=D("99.5"), max_value=D("100.5"), places=2))
def test_an_entry_always_passes_every_gate(spot):
    market = view(spot=str(spot), up=("0.55", "0.56"), down=("0.44", "0.45"))
    decision = entry(market)
    if isinstance(decision, Enter):
        side_book = market.book(decision.outcome)
        assert decision.confidence >= SETTINGS.min_confidence
        assert decision.price == side_book.best_ask
        assert decision.fair_value > decision.price
        if decision.price < SETTINGS.underdog_price:
            assert decision.confidence >= decision.price + SETTINGS.underdog_margin


# --- reversals ---------------------------------------------------------------------------------


def reversal(market: MarketView, *, losing=Outcome.UP, size=LOSING_SIZE, settings=SETTINGS):
    return choose_reversal(
        scored=score_market(market, settings),
        view=market,
        losing=losing,
        losing_size=size,
        min_size=D(5),
        settings=settings,
    )


REVERSED = view(spot="99.7", up=("0.25", "0.26"), down=("0.74", "0.75"), open_mid_up="0.6")


def test_a_reversal_buys_the_other_side_with_as_many_shares():
    decision = reversal(REVERSED)
    assert isinstance(decision, Enter)
    assert decision.outcome is Outcome.DOWN
    assert decision.price == D("0.75")
    assert decision.size == D(40)


def test_a_reversal_is_refused_when_the_confidence_does_not_favour_it():
    decision = reversal(view(spot="100.3", up=("0.25", "0.26"), down=("0.74", "0.75")))
    assert isinstance(decision, Skip)
    assert decision.reason == "confidence_against_reversal"


@pytest.mark.parametrize(("ratio", "size"), [(D("0.5"), D("20.12")), (D(1), D("40.25"))])
def test_the_reversal_size_follows_the_ratio_truncated(ratio, size):
    settings = StrategySettings(reversal_size_ratio=ratio)
    decision = reversal(REVERSED, size=D("40.25"), settings=settings)
    assert isinstance(decision, Enter)
    assert decision.size == size


def test_a_reversal_below_the_minimum_size_is_skipped():
    decision = reversal(REVERSED, size=D("4.99"))
    assert isinstance(decision, Skip)
    assert decision.reason == "below_min_size"


def test_a_reversal_needs_a_tradeable_book():
    market = view(spot="99.7", up=("0.25", "0.26"), down=(None, "0.75"), open_mid_up="0.6")
    decision = reversal(market)
    assert isinstance(decision, Skip)
    assert decision.reason == "one_sided_book"


@pytest.mark.parametrize(
    ("up", "down", "prior"),
    [
        (("0.40", "0.42"), ("0.58", "0.60"), D("0.41")),
        ((None, "0.42"), ("0.58", "0.60"), D("0.41")),
        ((None, "0.42"), (None, "0.60"), None),
    ],
)
def test_the_market_prior_is_the_up_mid_else_the_down_mids_complement(up, down, prior):
    assert market_prior_up(book("up", *up), book("down", *down)) == prior
