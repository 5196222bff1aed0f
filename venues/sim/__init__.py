"""The simulated Polymarket market: spot walks, Up-or-Down windows, mirrored books and trades.

Pure code (no threads, no I/O, no wall clock): time comes in as an argument to
`SimMarket.advance`. `actors/sim_market.py` is the thin shell that runs it on a runtime clock.
"""

from venues.sim.market import SimMarket, SimMarketStats, SimWindow, WindowPhase
from venues.sim.settings import SimAsset, SimBookShape, SimSettings

__all__ = [
    "SimAsset",
    "SimBookShape",
    "SimMarket",
    "SimMarketStats",
    "SimSettings",
    "SimWindow",
    "WindowPhase",
]
