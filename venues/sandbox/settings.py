"""Settings of the local wire-compatible exchange (the `sandbox:` section of the YAML config).

It embeds the simulated market's and the paper exchange's settings, so every fault knob of
the paper exchange (`paper.faults`: latency, injected 5xx/425/timeouts, maintenance windows,
balance lag, stream drops, trade failures...) is reachable through the sandbox.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from venues.paper.settings import PaperSettings
from venues.sim.settings import SimSettings

__all__ = ["SandboxSettings"]


class SandboxSettings(BaseModel):
    """How the sandbox runs: its market, its exchange, its clock and its protocol limits."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    sim: SimSettings = SimSettings()
    paper: PaperSettings = PaperSettings()
    # 137 (Polygon) or 80002 (Amoy): part of every EIP-712 domain the clients sign.
    chain_id: int = Field(default=137, gt=0)
    # Simulated seconds per real second; 1 is wall-clock time.
    speed: float = Field(default=1.0, gt=0, le=10_000)
    # Epoch seconds the simulation starts at; None starts it now.
    start_time: float | None = Field(default=None, ge=0)
    # Real seconds between two steps of the market (each runs every step that is due).
    tick_interval_s: float = Field(default=0.05, gt=0, le=5)
    # Auth headers whose POLY_TIMESTAMP is further than this from the wall clock and from the
    # simulated clock are refused (the venue's skew check); None turns the check off.
    auth_max_skew_s: float | None = Field(default=30.0, gt=0)
    # Rows per page of /data/orders and /data/trades (the venue pages by 100 or more).
    page_size: int = Field(default=100, ge=1, le=1000)
    # Real seconds after the last POST /v1/heartbeats before every open order is cancelled
    # (the venue's dead-man switch, armed by the first heartbeat).
    heartbeat_timeout_s: float = Field(default=10.0, gt=0)
    # Keys the derivation of API credentials: the same wallet gets the same credentials on
    # every start of a sandbox with the same salt.
    # Simulated seconds after a listing during which Gamma shows the market with empty token
    # ids, as Polymarket does before the CLOB hydrates a new market (discovery must ask again).
    hydration_delay_s: float = Field(default=0.0, ge=0)
    credential_salt: str = Field(default="polyactor-sandbox", min_length=1)
