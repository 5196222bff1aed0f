"""Loader: YAML + overrides -> Settings, with every error naming its key path and value."""

import os
from decimal import Decimal
from pathlib import Path

import pytest

from config.errors import ConfigError, SecretsError
from config.loader import check_config, load_settings, settings_from_text
from config.settings import Mode, Settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, overrides=None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), overrides or {})
    return caught.value.errors


def test_a_missing_path_means_all_defaults():
    assert load_settings(None) == Settings()


def test_an_empty_file_is_a_valid_paper_configuration(tmp_path):
    assert load_settings(write(tmp_path, "")) == Settings()


def test_a_section_with_every_key_commented_out_means_its_defaults(tmp_path):
    settings = load_settings(write(tmp_path, "risk:\n  # max_position_pct: 10\nspeed: 2\n"))
    assert settings.risk == Settings().risk
    assert settings.speed == 2.0


def test_yaml_values_are_loaded_into_typed_fields(tmp_path):
    text = (
        "mode: replay\nspeed: 60\nrisk:\n  min_balance_to_trade: 0.1\njournal:\n  path: x.duckdb\n"
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.mode is Mode.REPLAY
    assert settings.speed == 60.0
    assert settings.risk.min_balance_to_trade == Decimal("0.1")
    assert settings.journal.path == Path("x.duckdb")


def test_a_misspelled_key_is_rejected_with_its_path_and_a_suggestion(tmp_path):
    errors = errors_of(tmp_path, "risk:\n  max_positon_pct: 30\n")
    assert errors == ("risk.max_positon_pct: unknown key (did you mean max_position_pct?)",)


def test_a_key_in_the_wrong_section_is_pointed_to_its_section(tmp_path):
    errors = errors_of(tmp_path, "max_window_pct: 30\n")
    assert errors == ("max_window_pct: unknown key (it belongs at risk.max_window_pct)",)


def test_a_wrong_type_is_rejected_naming_the_key_and_the_value(tmp_path):
    errors = errors_of(tmp_path, "journal:\n  batch_size: lots\n")
    assert errors == ("journal.batch_size: expected an integer, got 'lots'",)


def test_a_choice_outside_its_options_lists_the_options(tmp_path):
    errors = errors_of(tmp_path, "mode: papr\n")
    assert errors == ("mode: expected one of 'paper', 'live' or 'replay', got 'papr'",)


def test_an_out_of_range_value_names_its_bound(tmp_path):
    errors = errors_of(tmp_path, "speed: -1\n")
    assert errors == ("speed: must be > 0.0, got -1",)


def test_a_value_where_a_section_belongs_is_rejected(tmp_path):
    errors = errors_of(tmp_path, "risk: 5\n")
    assert errors == ("risk: expected a mapping of keys, got 5",)


def test_an_inverted_threshold_is_rejected_naming_both_keys_and_values(tmp_path):
    errors = errors_of(tmp_path, "risk:\n  halt_drawdown_pct: 6\n  degraded_drawdown_pct: 7\n")
    assert len(errors) == 1
    assert "risk.halt_drawdown_pct=6" in errors[0]
    assert "risk.degraded_drawdown_pct=7" in errors[0]


def test_a_secret_in_yaml_is_rejected_by_key_path_without_repeating_it(tmp_path):
    with pytest.raises(SecretsError) as caught:
        load_settings(write(tmp_path, "alerts:\n  telegram_token: 12345:SECRETVALUE\n"))
    (error,) = caught.value.errors
    assert error.startswith("alerts.telegram_token: secrets are not allowed in YAML")
    assert "POLYACTOR_TELEGRAM_TOKEN" in error
    assert "SECRETVALUE" not in str(caught.value)


def test_a_secret_is_found_at_any_depth_even_inside_a_list(tmp_path):
    text = "live:\n  wallets:\n    - name: main\n      private_key: 0xdeadbeef\n"
    with pytest.raises(SecretsError) as caught:
        load_settings(write(tmp_path, text))
    secret_errors = [e for e in caught.value.errors if "secrets are not allowed" in e]
    assert secret_errors == [
        "live.wallets[0].private_key: secrets are not allowed in YAML; put it in environment "
        "variable POLYACTOR_PRIVATE_KEY or the file named by secrets_file"
    ]
    assert "deadbeef" not in str(caught.value)


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    text = "mode: papr\njournal:\n  batch_size: lots\nlive:\n  passphrase: hunter2\n"
    errors = errors_of(tmp_path, text)
    assert [e.split(":", 1)[0] for e in errors] == ["live.passphrase", "mode", "journal.batch_size"]


def test_overrides_win_over_the_yaml(tmp_path):
    path = write(tmp_path, "mode: replay\nspeed: 2\nrisk:\n  max_position_pct: 10\n")
    settings = load_settings(path, {"mode": "paper", "speed": 60.0, "risk.max_position_pct": "20"})
    assert settings.mode is Mode.PAPER
    assert settings.speed == 60.0
    assert settings.risk.max_position_pct == Decimal(20)


def test_overrides_are_validated_like_the_file(tmp_path):
    errors = errors_of(tmp_path, "", {"risk.max_positon_pct": 1, "speed.x": 1, "a..b": 1})
    assert errors == (
        "'a..b': override key is not a dotted key path",
        "speed: expected a number, got {'x': 1}",
        "risk.max_positon_pct: unknown key (did you mean max_position_pct?)",
    )


def test_an_override_below_a_plain_value_is_rejected(tmp_path):
    errors = errors_of(tmp_path, "speed: 3\n", {"speed.x": 1})
    assert errors == ("speed.x: speed is a value (3), not a section",)


def test_a_duplicated_key_is_rejected_instead_of_silently_keeping_the_last(tmp_path):
    errors = errors_of(tmp_path, "risk:\n  max_position_pct: 10\nrisk:\n  max_window_pct: 20\n")
    assert len(errors) == 1
    assert "duplicate key 'risk'" in errors[0]
    assert "line 3" in errors[0]


def test_broken_yaml_syntax_names_the_line(tmp_path):
    errors = errors_of(tmp_path, "mode: paper\nrisk: [unclosed\n")
    assert len(errors) == 1
    assert errors[0].startswith("invalid YAML at line ")


def test_a_file_that_is_not_a_mapping_is_rejected(tmp_path):
    assert errors_of(tmp_path, "- mode\n") == (
        "(top level): expected a mapping of keys, got list ['mode']",
    )


def test_an_unreadable_file_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_settings(tmp_path / "missing.yaml")


def test_text_already_read_validates_the_same_way():
    assert settings_from_text("speed: 5\n", {"speed": 6}).speed == 6.0
    with pytest.raises(ConfigError, match="speed"):
        settings_from_text("speed: fast\n")


def test_check_config_exits_0_for_a_good_file(tmp_path):
    code, text = check_config(write(tmp_path, "mode: paper\n"))
    assert code == 0
    assert text.startswith("ok: ")


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("risk:\n  max_positon_pct: 1\n", "risk.max_positon_pct"),
        ("journal:\n  batch_size: lots\n", "journal.batch_size"),
        ("risk:\n  halt_drawdown_pct: 3\n", "risk.halt_drawdown_pct"),
        ("api_secret: abc\n", "api_secret"),
    ],
)
def test_check_config_exits_2_naming_the_bad_key(tmp_path, yaml_text, key):
    code, text = check_config(write(tmp_path, yaml_text))
    assert code == 2
    assert f"  - {key}" in text


def test_check_config_refuses_a_secrets_file_others_can_read(tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("POLYACTOR_PRIVATE_KEY=0xabc\n")
    os.chmod(secrets, 0o644)
    code, text = check_config(write(tmp_path, f"secrets_file: {secrets}\n"))
    assert code == 2
    assert "mode 0644" in text
    assert "0xabc" not in text


def test_a_section_validator_message_is_reported_without_dumping_the_section():
    from config.loader import _describe

    error = {
        "type": "value_error",
        "loc": ("sim",),
        "msg": "Value error, step_s=7 must divide every timeframe",
        "input": {"step_s": 7, "assets": ["...long..."]},
        "ctx": {"error": ValueError("step_s=7 must divide every timeframe")},
    }
    assert _describe(error) == ["sim: step_s=7 must divide every timeframe"]


def test_errors_inside_a_list_of_items_name_the_item_index(tmp_path):
    errors = errors_of(tmp_path, "sim:\n  assets:\n    - symbol: btc\n      start_price: 1\n")
    assert "sim.assets[0].annual_volatility: required key is missing" in errors
    assert any(e.startswith("sim.assets[0].symbol: 'btc' does not match") for e in errors)
