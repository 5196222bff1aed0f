"""Diff: changed keys as dotted paths, split into hot and restart-only."""

from decimal import Decimal
from pathlib import Path

import pytest

from config.diff import ConfigDiff, apply_hot, changed_keys, diff_settings, restart_keys
from config.settings import RiskSettings, Settings


def test_identical_settings_have_no_changes():
    assert changed_keys(Settings(), Settings()) == ()
    assert not diff_settings(Settings(), Settings())


def test_changed_keys_are_dotted_paths_in_declaration_order():
    old = Settings()
    new = Settings(
        status_interval_s=5,
        journal={"path": "other.duckdb"},
        risk={"max_position_pct": 10, "signal_cooldown_s": 1},
    )
    assert changed_keys(old, new) == (
        "status_interval_s",
        "journal.path",
        "risk.max_position_pct",
        "risk.signal_cooldown_s",
    )


def test_decimal_values_compare_by_value_not_spelling():
    assert changed_keys(RiskSettings(max_position_pct="25.0"), RiskSettings()) == ()


def test_diffing_different_models_is_refused():
    with pytest.raises(TypeError, match="RiskSettings"):
        changed_keys(Settings(), RiskSettings())


def test_the_diff_says_which_changed_keys_need_a_restart():
    diff = diff_settings(
        Settings(), Settings(mode="replay", logging={"level": "DEBUG", "dir": "elsewhere"})
    )
    assert diff == ConfigDiff(hot=("logging.level",), needs_restart=("mode", "logging.dir"))
    assert diff.changed == ("logging.level", "mode", "logging.dir")
    assert restart_keys(["risk.max_position_pct", "live.chain_id", "speed"]) == (
        "live.chain_id",
        "speed",
    )


def test_applying_an_edit_live_takes_hot_keys_and_holds_restart_keys_at_their_old_values():
    old = Settings()
    new = Settings(journal={"path": "moved.duckdb"}, risk={"max_position_pct": 10})
    in_force = apply_hot(old, new)
    assert in_force.risk.max_position_pct == Decimal(10)
    assert in_force.journal.path == Path("data/journal.duckdb")


def test_an_edit_with_only_hot_keys_is_applied_as_is():
    new = Settings(status_interval_s=1)
    assert apply_hot(Settings(), new) is new
