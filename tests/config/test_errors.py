"""Config errors carry every problem and print them one per line."""

from config.errors import ConfigError, SecretsError, format_key_path


def test_key_paths_are_dotted_with_list_indexes_in_brackets():
    assert format_key_path(("risk", "max_position_pct")) == "risk.max_position_pct"
    assert format_key_path(("live", "wallets", 0, "name")) == "live.wallets[0].name"
    assert format_key_path(()) == "(top level)"


def test_a_config_error_lists_every_problem_under_its_source():
    error = ConfigError(["speed: bad", "mode: bad"], source="my.yaml")
    assert error.errors == ("speed: bad", "mode: bad")
    assert str(error) == "my.yaml: 2 errors\n  - speed: bad\n  - mode: bad"


def test_a_secrets_error_is_a_config_error():
    assert isinstance(SecretsError(["x"]), ConfigError)
    assert str(SecretsError(["x"], source="s")) == "s: 1 error\n  - x"
