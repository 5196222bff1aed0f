"""The paper exchange: Polymarket's trading rules against the simulated market, behind the
venue port, with fault knobs for testing the bot against a misbehaving venue."""

from venues.paper.exchange import PaperExchange
from venues.paper.faults import FaultSettings, PeriodicMaintenance, StreamFaultSettings
from venues.paper.settings import PaperSettings

__all__ = [
    "FaultSettings",
    "PaperExchange",
    "PaperSettings",
    "PeriodicMaintenance",
    "StreamFaultSettings",
]
