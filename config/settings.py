"""The typed, frozen schema of polyactor's configuration, and each key's reload policy.

YAML is validated into `Settings` (see `config.loader`); nothing else in the program reads the
file. Every value is immutable once loaded: a reload builds a new `Settings`, it never mutates
the old one, so an actor holding settings can never see half of an edit.

Reload policy: every key is hot (a running actor that subscribed to the config actor applies it)
unless it is declared with `restart_required(...)`, or sits in a section declared that way.
`RELOAD_POLICY` maps every dotted key path to `Reload.HOT` or `Reload.RESTART`.

Cross-field checks (invariant 8) live with the model they constrain, so a `Settings` with
inconsistent thresholds cannot be built, whichever way it is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

from state.position import PositionSettings
from state.reconcile import ReconcileSettings
from strategy.settings import StrategySettings
from venues.paper.settings import PaperSettings
from venues.settings import VenueSettings
from venues.sim.settings import SimSettings

__all__ = [
    "INCONSISTENT_THRESHOLDS",
    "RELOAD_POLICY",
    "AlertsSettings",
    "JournalSettings",
    "LiveSettings",
    "LogLevel",
    "LoggingSettings",
    "Mode",
    "PriceSource",
    "Reload",
    "RiskSettings",
    "RuntimeKind",
    "Settings",
    "SupervisionSettings",
    "key_reloads",
    "restart_required",
    "risk_threshold_problems",
    "settings_problems",
]

# The pydantic error type our cross-field validators raise; the loader expands its `problems`.
INCONSISTENT_THRESHOLDS = "inconsistent_thresholds"


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"
    REPLAY = "replay"


class RuntimeKind(StrEnum):
    PYKKA = "pykka"
    RAY = "ray"
    DETERMINISTIC = "deterministic"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Reload(StrEnum):
    """How a changed key takes effect in a running bot."""

    HOT = "hot"
    RESTART = "restart"


def restart_required(default: Any = PydanticUndefined, **kwargs: Any) -> Any:
    """A `Field` whose change takes effect only after a restart (the default is hot)."""
    return Field(default, json_schema_extra={"reload": Reload.RESTART.value}, **kwargs)


class _Section(BaseModel):
    # allow_inf_nan=False: `.inf` or `.nan` in YAML would pass every `gt`/`le` bound silently.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class JournalSettings(_Section):
    # The journal is the single writer (invariant 1): it opens its file and fixes its batching
    # once at start, so none of these can change under it.
    path: Path = restart_required(Path("data/journal.duckdb"))
    flush_interval_s: float = restart_required(0.2, gt=0)
    batch_size: int = restart_required(500, ge=1)


class LoggingSettings(_Section):
    dir: Path = restart_required(Path("logs"))
    level: LogLevel = LogLevel.INFO
    repeat_window_s: float = Field(default=10.0, ge=0)
    per_window_files: bool = restart_required(True)

    @field_validator("level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class SupervisionSettings(_Section):
    intensity: int = Field(default=3, ge=0)
    period_s: float = Field(default=30.0, gt=0)
    root_intensity: int = Field(default=1, ge=0)
    root_period_s: float = Field(default=5.0, gt=0)


class RiskSettings(_Section):
    """Capital limits (issue 4). Percentages are of equity; all hot, so risk can be tightened live."""

    min_balance_to_trade: Decimal = Field(default=Decimal("1.0"), ge=0)
    max_position_pct: Decimal = Field(default=Decimal(25), gt=0, le=100)
    max_window_pct: Decimal = Field(default=Decimal(40), gt=0, le=100)
    max_asset_pct: Decimal = Field(default=Decimal(50), gt=0, le=100)
    # <= 100: outcome shares are fully collateralised, there is no leverage to allocate.
    max_total_exposure_pct: Decimal = Field(default=Decimal(80), gt=0, le=100)
    max_concurrent_positions: int = Field(default=10, ge=1)
    daily_loss_limit_pct: Decimal = Field(default=Decimal(5), gt=0, le=100)
    daily_loss_warning_fraction: Decimal = Field(default=Decimal("0.7"), gt=0, lt=1)
    degraded_drawdown_pct: Decimal = Field(default=Decimal(8), gt=0, le=100)
    halt_drawdown_pct: Decimal = Field(default=Decimal(12), gt=0, le=100)
    recovery_cooldown_s: float = Field(default=1800.0, ge=0)
    max_recoveries_per_day: int = Field(default=2, ge=0)
    signal_cooldown_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _thresholds_are_consistent(self) -> Self:
        _raise_if_any(risk_threshold_problems(self))
        return self


def risk_threshold_problems(risk: RiskSettings) -> tuple[str, ...]:
    """Every pair of risk limits where the safety limit is tighter than what it guards."""
    problems: list[str] = []
    # Caps nest: a window holds positions, an asset holds windows, the aggregate holds all. An
    # outer cap below an inner one means the inner limit the operator set can never be reached.
    nested = (
        ("max_position_pct", "max_window_pct", "a window holds its positions"),
        ("max_window_pct", "max_asset_pct", "an asset holds its windows"),
        ("max_asset_pct", "max_total_exposure_pct", "the total holds every asset"),
    )
    for inner, outer, why in nested:
        inner_value, outer_value = getattr(risk, inner), getattr(risk, outer)
        if inner_value > outer_value:
            problems.append(
                f"risk.{inner}={inner_value} is above risk.{outer}={outer_value}: "
                f"{why}, so its cap must be at least as large"
            )
    # DEGRADED (no new entries) exists to trip before HALTED (kill switch); the other way round
    # the bot would halt without ever having stopped adding risk.
    if risk.halt_drawdown_pct <= risk.degraded_drawdown_pct:
        problems.append(
            f"risk.halt_drawdown_pct={risk.halt_drawdown_pct} must be above "
            f"risk.degraded_drawdown_pct={risk.degraded_drawdown_pct}: "
            "the bot must stop entering before the kill switch fires"
        )
    # The daily loss limit is the pre-trade gate matching the halt alarm (invariant 3): a day's
    # losses must close the gate before they reach the halt level.
    if risk.daily_loss_limit_pct >= risk.halt_drawdown_pct:
        problems.append(
            f"risk.daily_loss_limit_pct={risk.daily_loss_limit_pct} must be below "
            f"risk.halt_drawdown_pct={risk.halt_drawdown_pct}: "
            "the daily loss gate must refuse entries before the kill switch fires"
        )
    # With no cooldown an automatic recovery could undo a halt in the instant it happened.
    if risk.max_recoveries_per_day > 0 and risk.recovery_cooldown_s <= 0:
        problems.append(
            f"risk.recovery_cooldown_s={risk.recovery_cooldown_s} must be above 0 when "
            f"risk.max_recoveries_per_day={risk.max_recoveries_per_day}: "
            "a halt would be undone the moment it fired"
        )
    return tuple(problems)


def _raise_if_any(problems: tuple[str, ...]) -> None:
    if problems:
        raise PydanticCustomError(
            INCONSISTENT_THRESHOLDS,
            "{summary}",
            {"summary": "; ".join(problems), "problems": problems},
        )


class AlertsSettings(_Section):
    # Tokens and webhooks are secrets: POLYACTOR_TELEGRAM_TOKEN / POLYACTOR_DISCORD_WEBHOOK.
    telegram_enabled: bool = False
    discord_enabled: bool = False
    min_interval_s: float = Field(default=60.0, ge=0)


_HTTP_URL = r"^https?://\S+$"
_WS_URL = r"^wss?://\S+$"


class LiveDiscoverySettings(_Section):
    """Which Up-or-Down windows live mode looks for on Gamma, and how often."""

    assets: tuple[str, ...] = Field(default=("BTC", "ETH", "SOL", "XRP"), min_length=1)
    # Window lengths in seconds: 300 (5m), 900 (15m), 3600 (1h), 14400 (4h).
    timeframes_s: tuple[int, ...] = Field(default=(900,), min_length=1)
    # Windows starting within this many seconds are looked up (Polymarket lists them ahead).
    lookahead_s: float = Field(default=900.0, ge=0)
    # Seconds between two Gamma polls.
    interval_s: float = Field(default=30.0, gt=0)
    # After a window ends, seconds to wait for the market channel's resolution before asking
    # Gamma whether it resolved.
    resolution_check_after_s: float = Field(default=120.0, ge=0)

    @field_validator("assets")
    @classmethod
    def _assets_are_symbols(cls, assets: tuple[str, ...]) -> tuple[str, ...]:
        for asset in assets:
            if not re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", asset):
                msg = f"asset {asset!r} is not a ticker symbol such as BTC"
                raise ValueError(msg)
        return assets


class PriceSource(StrEnum):
    """Where the reference spot price comes from: Polymarket's real-time data stream (RTDS),
    on its Chainlink topic (what Up/Down windows resolve on) or its Binance topic."""

    RTDS_CHAINLINK = "rtds_chainlink"
    RTDS_BINANCE = "rtds_binance"


class LiveSettings(_Section):
    """Exchange endpoints, account shape, discovery, and the connections to Polymarket."""

    discovery: LiveDiscoverySettings = LiveDiscoverySettings()

    clob_host: str = Field(default="https://clob.polymarket.com", pattern=_HTTP_URL)
    gamma_host: str = Field(default="https://gamma-api.polymarket.com", pattern=_HTTP_URL)
    data_host: str = Field(default="https://data-api.polymarket.com", pattern=_HTTP_URL)
    ws_market_url: str = Field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws/market", pattern=_WS_URL
    )
    ws_user_url: str = Field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws/user", pattern=_WS_URL
    )
    chain_id: int = Field(default=137, ge=1)
    # 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271 (CLOB V2).
    signature_type: int = Field(default=0, ge=0, le=3)
    # The wallet that holds the funds; an address is public, not a secret.
    funder_address: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    request_timeout_s: float = Field(default=10.0, gt=0)
    orders_per_second: float = Field(default=5.0, gt=0)
    # Order requests that may go out back to back before `orders_per_second` paces them.
    order_burst: int = Field(default=10, ge=1)
    # POST /v1/heartbeats period. The venue cancels every order ~10 s after the last one.
    heartbeat_interval_s: float = Field(default=5.0, gt=0, lt=10)

    # --- websocket feeds (venues/live/streams.py) ---
    ws_ping_interval_s: float = Field(default=10.0, gt=0)
    ws_silent_timeout_s: float = Field(default=30.0, gt=0)
    ws_reconnect_base_s: float = Field(default=0.5, gt=0)
    ws_reconnect_cap_s: float = Field(default=30.0, gt=0)
    # The venue stops sending book snapshots beyond about 500 tokens on one connection.
    ws_max_assets_per_connection: int = Field(default=200, ge=1, le=500)
    ws_custom_features: bool = True
    price_source: PriceSource = PriceSource.RTDS_CHAINLINK
    rtds_url: str = Field(default="wss://ws-live-data.polymarket.com", pattern=_WS_URL)
    rtds_ping_interval_s: float = Field(default=5.0, gt=0)
    record_path: Path | None = None

    @model_validator(mode="after")
    def _reconnect_backoff_is_consistent(self) -> Self:
        if self.ws_reconnect_cap_s < self.ws_reconnect_base_s:
            _raise_if_any(
                (
                    f"live.ws_reconnect_cap_s={self.ws_reconnect_cap_s} is below "
                    f"live.ws_reconnect_base_s={self.ws_reconnect_base_s}: the longest wait "
                    "between reconnects must be at least the first one",
                )
            )
        return self


class Settings(_Section):
    """The whole configuration. `Settings()` is a valid paper-mode configuration."""

    mode: Mode = restart_required(Mode.PAPER)
    runtime: RuntimeKind = restart_required(RuntimeKind.PYKKA)
    # The simulated clock is built once at start; changing its rate mid-run would jump time.
    speed: float = restart_required(1.0, gt=0)
    duration_s: float | None = restart_required(None, gt=0)
    data_dir: Path = restart_required(Path("data"))
    secrets_file: Path | None = restart_required(None)
    status_interval_s: float = Field(default=60.0, gt=0)

    journal: JournalSettings = JournalSettings()
    logging: LoggingSettings = LoggingSettings()
    # Supervisor flags are fixed when a supervisor starts, like OTP's.
    supervision: SupervisionSettings = restart_required(SupervisionSettings())
    risk: RiskSettings = RiskSettings()
    alerts: AlertsSettings = AlertsSettings()
    # Connections and the signing client are built once from these.
    live: LiveSettings = restart_required(LiveSettings())

    # --- the simulated market and the paper exchange (issue 3), owned by venues/ -------------
    # Both are built once at start from these sections. Add a section here and its keys,
    # commented, to config/default.yaml (a test checks it).
    sim: SimSettings = restart_required(SimSettings())
    paper: PaperSettings = restart_required(PaperSettings())

    # --- trading (issue 4), owned by strategy/, state/position.py and actors/venue.py ---------
    # A window keeps the strategy it started with, so strategy edits wait for a restart.
    strategy: StrategySettings = restart_required(StrategySettings())
    # Position actors subscribe to config and apply edits to their rules as they come.
    position: PositionSettings = PositionSettings()
    # The gateway's pacing and retries are fixed when it starts.
    venue: VenueSettings = restart_required(VenueSettings())
    # The reconciler reads its thresholds when it starts.
    reconcile: ReconcileSettings = restart_required(ReconcileSettings())

    @model_validator(mode="after")
    def _settings_are_consistent(self) -> Self:
        _raise_if_any(settings_problems(self))
        return self


def settings_problems(settings: Settings) -> tuple[str, ...]:
    """Cross-section combinations that cannot run as the user expects."""
    problems: list[str] = []
    if settings.mode is Mode.LIVE and settings.runtime is RuntimeKind.DETERMINISTIC:
        # The deterministic runtime only moves time when driven; real orders need real time.
        problems.append(
            "runtime=deterministic cannot run mode=live: it is for tests and replay; "
            "use runtime pykka or ray"
        )
    if settings.mode is Mode.LIVE and settings.runtime is RuntimeKind.RAY:
        # The live venue (signing client, heartbeat thread, order map) is built once in the
        # main process and shared by the gateway's incarnations; Ray would copy it into
        # another process, where a restarted gateway would get a second one.
        problems.append(
            "runtime=ray cannot run mode=live in this version: the live venue lives in the "
            "main process; use runtime pykka for live trading (Ray runs paper mode)"
        )
    if settings.mode is Mode.LIVE and settings.speed != 1.0 and not _is_local(settings.live):
        # Only a local exchange (the sandbox) can run its market faster than real time.
        problems.append(
            f"speed={settings.speed} cannot apply to mode=live against {settings.live.clob_host}, "
            "which runs on real time; set speed to 1, or point live.clob_host at a local "
            "sandbox (`python run.py sandbox --speed X`) to dry-run faster"
        )
    return tuple(problems)


def _is_local(live: LiveSettings) -> bool:
    return all(
        re.match(r"^[a-z]+://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", url) is not None
        for url in (live.clob_host, live.gamma_host, live.data_host, live.ws_market_url)
    )


# --- reload policy -------------------------------------------------------------------------


def _section_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _declared_restart(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("reload") == Reload.RESTART.value


def key_reloads(model: type[BaseModel], prefix: str = "") -> dict[str, Reload]:
    """Every leaf key of `model` as a dotted path, with its reload policy, in declaration order.

    A section declared `restart_required` makes all its keys restart-only, including keys that
    later issues add to it.
    """
    return _walk_reloads(model, prefix, inherited=Reload.HOT)


def _walk_reloads(model: type[BaseModel], prefix: str, inherited: Reload) -> dict[str, Reload]:
    policy: dict[str, Reload] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        reload = Reload.RESTART if _declared_restart(field) else inherited
        section = _section_model(field)
        if section is None:
            policy[path] = reload
        else:
            policy.update(_walk_reloads(section, f"{path}.", reload))
    return policy


RELOAD_POLICY: Mapping[str, Reload] = MappingProxyType(key_reloads(Settings))
