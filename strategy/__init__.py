"""The strategy: pure functions that score a window and decide entries, reversals and sizes.

- `settings`: `StrategySettings`, every threshold below, validated;
- `signals`: momentum signals and the two confidence scores (additive, Bayesian), and the
  reversal confidence the position's hedged stop loss uses;
- `fair_value`: the fair probability of UP and the online volatility estimate it needs;
- `gates`: entry time band, minimum confidence, underdog rule, maximum spread;
- `sizing`: fractional Kelly on the edge, truncated sizes, prices on the tick grid;
- `entry`: one decision point put together (score, then enter or skip).

Nothing here reads a clock, does I/O or starts a thread: time and state are arguments.
"""
