"""Settings schema: defaults, immutability, cross-field checks and the reload policy."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from config.settings import (
    RELOAD_POLICY,
    Mode,
    Reload,
    RiskSettings,
    RuntimeKind,
    Settings,
    risk_threshold_problems,
    settings_problems,
)


def test_defaults_are_a_paper_configuration_on_pykka_at_real_speed():
    settings = Settings()
    assert settings.mode is Mode.PAPER
    assert settings.runtime is RuntimeKind.PYKKA
    assert settings.speed == 1.0
    assert settings.duration_s is None
    assert settings.secrets_file is None
    assert settings.risk.max_position_pct == Decimal(25)
    assert settings.risk.daily_loss_warning_fraction == Decimal("0.7")


def test_settings_cannot_be_mutated_after_loading():
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.speed = 2.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.risk.max_position_pct = Decimal(99)  # type: ignore[misc]


def test_money_and_percentages_are_decimals_parsed_without_float_noise():
    risk = RiskSettings(min_balance_to_trade=0.1, max_position_pct=12.5)
    assert risk.min_balance_to_trade == Decimal("0.1")
    assert risk.max_position_pct == Decimal("12.5")


def test_infinite_and_nan_numbers_are_refused_even_where_bounds_would_pass():
    with pytest.raises(ValidationError):
        Settings(speed=float("inf"))
    with pytest.raises(ValidationError):
        RiskSettings(max_position_pct="NaN")


def test_log_level_is_accepted_in_any_case():
    assert Settings(logging={"level": "debug"}).logging.level == "DEBUG"


def test_the_allocation_ceiling_cannot_exceed_all_of_equity():
    with pytest.raises(ValidationError, match="max_total_exposure_pct"):
        RiskSettings(max_total_exposure_pct=120)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"max_position_pct": 45}, ("risk.max_position_pct=45", "risk.max_window_pct=40")),
        ({"max_window_pct": 60}, ("risk.max_window_pct=60", "risk.max_asset_pct=50")),
        ({"max_asset_pct": 90}, ("risk.max_asset_pct=90", "risk.max_total_exposure_pct=80")),
        ({"halt_drawdown_pct": 8}, ("risk.halt_drawdown_pct=8", "risk.degraded_drawdown_pct=8")),
        (
            {"daily_loss_limit_pct": 12},
            ("risk.daily_loss_limit_pct=12", "risk.halt_drawdown_pct=12"),
        ),
        (
            {"recovery_cooldown_s": 0},
            ("risk.recovery_cooldown_s=0", "risk.max_recoveries_per_day=2"),
        ),
    ],
)
def test_each_inverted_threshold_is_refused_naming_both_keys_and_values(changes, named):
    with pytest.raises(ValidationError) as caught:
        RiskSettings(**changes)
    problems = caught.value.errors()[0]["ctx"]["problems"]
    assert len(problems) == 1
    for text in named:
        assert text in problems[0]


def test_nested_caps_may_be_equal():
    risk = RiskSettings(
        max_position_pct=50, max_window_pct=50, max_asset_pct=50, max_total_exposure_pct=50
    )
    assert risk_threshold_problems(risk) == ()


def test_no_automatic_recovery_needs_no_cooldown():
    risk = RiskSettings(max_recoveries_per_day=0, recovery_cooldown_s=0)
    assert risk_threshold_problems(risk) == ()


def test_every_problem_of_one_section_is_reported_together():
    with pytest.raises(ValidationError) as caught:
        RiskSettings(max_position_pct=90, halt_drawdown_pct=1)
    problems = caught.value.errors()[0]["ctx"]["problems"]
    assert [p.split(" ", 1)[0] for p in problems] == [
        "risk.max_position_pct=90",  # above the window cap
        "risk.halt_drawdown_pct=1",  # not above degraded
        "risk.daily_loss_limit_pct=5",  # not below halt
    ]


def test_live_mode_refuses_the_deterministic_runtime_and_a_sped_up_clock():
    with pytest.raises(ValidationError, match="runtime=deterministic cannot run mode=live"):
        Settings(mode="live", runtime="deterministic")
    with pytest.raises(ValidationError, match=r"speed=60\.0 cannot apply to mode=live"):
        Settings(mode="live", speed=60)
    assert settings_problems(Settings(mode="paper", speed=60, runtime="deterministic")) == ()


def test_reload_policy_covers_every_leaf_key_exactly_once():
    def leaves(model, prefix=""):
        for name, field in model.model_fields.items():
            section = field.annotation
            if isinstance(section, type) and hasattr(section, "model_fields"):
                yield from leaves(section, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    assert list(RELOAD_POLICY) == list(leaves(Settings))


@pytest.mark.parametrize(
    "key",
    [
        "mode",
        "runtime",
        "speed",
        "data_dir",
        "secrets_file",
        "journal.path",
        "logging.dir",
        "supervision.intensity",
        "live.clob_host",
        "live.ws_user_url",
        "live.orders_per_second",
        "sim.step_s",
        "sim.book.levels",
        "paper.starting_collateral",
        "paper.faults.user_stream.drop_rate",
    ],
)
def test_keys_fixed_at_start_need_a_restart(key):
    assert RELOAD_POLICY[key] is Reload.RESTART


@pytest.mark.parametrize(
    "key",
    [
        "status_interval_s",
        "logging.level",
        "logging.repeat_window_s",
        "risk.max_position_pct",
        "risk.halt_drawdown_pct",
        "risk.signal_cooldown_s",
        "alerts.min_interval_s",
    ],
)
def test_limits_and_intervals_are_hot(key):
    assert RELOAD_POLICY[key] is Reload.HOT
