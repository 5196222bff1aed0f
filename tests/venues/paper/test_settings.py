"""PaperSettings and FaultSettings validate the `paper:` YAML section and are frozen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from venues.paper import FaultSettings, PaperSettings


def test_the_defaults_follow_the_current_crypto_fee_schedule_and_gtd_rule() -> None:
    settings = PaperSettings()
    assert (settings.fee_rate, settings.fee_exponent) == (Decimal("0.072"), 1)
    assert settings.gtd_min_lead_s == 180
    assert settings.min_notional == 1
    assert settings.starting_collateral == 1000


def test_a_yaml_section_loads_with_decimals_kept_exact() -> None:
    settings = PaperSettings.model_validate(
        {
            "starting_collateral": 250.5,
            "fee_rate": 0.25,
            "fee_exponent": 2,
            "faults": {
                "seed": 3,
                "reject_rates": {"server_error": 0.1},
                "user_stream": {"drop_rate": 0.01},
                "maintenance_windows": [[10, 20]],
                "maintenance_every": {"period_s": 604800, "duration_s": 90, "offset_s": 471600},
            },
        }
    )
    assert settings.starting_collateral == Decimal("250.5")
    assert settings.fee_rate == Decimal("0.25")
    assert settings.faults.maintenance_windows == ((10.0, 20.0),)
    assert settings.faults.user_stream.drop_rate == 0.01


@pytest.mark.parametrize(
    ("section", "names"),
    [
        ({"fees": 1}, "fees"),
        ({"fee_rate": 1.5}, "fee_rate"),
        ({"fee_exponent": 0}, "fee_exponent"),
        ({"starting_collateral": -1}, "starting_collateral"),
        ({"gtd_min_lead_s": 30, "gtd_expiry_early_s": 60}, "gtd_expiry_early_s"),
        ({"faults": {"latency": 1}}, "latency"),
        ({"faults": {"latency_s": -1}}, "latency_s"),
        ({"faults": {"reject_rates": {"server_eror": 0.1}}}, "server_eror"),
        ({"faults": {"reject_rates": {"order_not_found": 0.1}}}, "order_not_found"),
        ({"faults": {"reject_rates": {"server_error": 2}}}, "reject_rates"),
        ({"faults": {"trade_failure_rate": 1.1}}, "trade_failure_rate"),
        ({"faults": {"market_stream": {"drop_rate": -0.1}}}, "drop_rate"),
        ({"faults": {"maintenance_windows": [[20, 10]]}}, "(20.0, 10.0)"),
        ({"faults": {"maintenance_every": {"period_s": 60, "duration_s": 60}}}, "duration_s"),
        ({"faults": {"confirmation_delay_s": float("inf")}}, "confirmation_delay_s"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(section: dict[str, Any], names: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PaperSettings.model_validate(section)
    assert names in str(refused.value)


def test_settings_are_frozen() -> None:
    settings = PaperSettings()
    with pytest.raises(ValidationError):
        settings.fee_rate = Decimal(0)
    with pytest.raises(ValidationError):
        settings.faults.latency_s = 1


def test_fault_settings_stand_alone_with_every_knob_off() -> None:
    assert FaultSettings() == PaperSettings().faults
