"""Secrets: from the environment or an owner-only file, masked wherever printed."""

import logging
import os

import pytest
from pydantic import SecretStr

from config.errors import SecretsError
from config.secrets import (
    Secrets,
    find_secret_keys,
    is_secret_key,
    load_secrets,
    read_secrets_file,
)
from config.settings import Settings

KEY = "0x4c0883a69102937d6231471b5dbb6204fe512961708279f3c5e7f2d8a1b9c0de"


def secrets_file(tmp_path, text, mode=0o600):
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    "key",
    [
        "private_key",
        "api_secret",
        "passphrase",
        "token",
        "telegram_token",
        "webhook_url",
        "discord_webhook",
        "Password",
        "clob-api-key",
        "mnemonic",
        "secret",
    ],
)
def test_keys_that_name_a_secret_are_recognised(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["secrets_file", "token_id", "max_position_pct", "funder_address", "min_interval_s"]
)
def test_ordinary_keys_are_not_mistaken_for_secrets(key):
    assert not is_secret_key(key)


def test_secret_keys_are_found_by_path_and_not_descended_into():
    raw = {"alerts": {"telegram_token": "x"}, "live": [{"api_key": {"nested": 1}}], "mode": "paper"}
    assert find_secret_keys(raw) == (("alerts", "telegram_token"), ("live", 0, "api_key"))


def test_secrets_come_from_the_environment():
    secrets = load_secrets(
        Settings(), {"POLYACTOR_PRIVATE_KEY": KEY, "POLYACTOR_API_KEY": "", "HOME": "/root"}
    )
    assert secrets.private_key is not None
    assert secrets.private_key.get_secret_value() == KEY
    assert secrets.api_key is None  # an empty variable counts as unset
    assert secrets.present() == ("private_key",)


def test_secrets_come_from_an_owner_only_file_and_the_environment_wins(tmp_path):
    path = secrets_file(
        tmp_path,
        "# wallet\nPOLYACTOR_PRIVATE_KEY=from-file\nexport POLYACTOR_API_SECRET='quoted'\n\n",
    )
    secrets = load_secrets(Settings(secrets_file=path), {"POLYACTOR_PRIVATE_KEY": "from-env"})
    assert secrets.private_key == SecretStr("from-env")
    assert secrets.api_secret == SecretStr("quoted")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secrets_file_readable_by_others_is_refused_naming_path_and_mode(tmp_path, mode):
    path = secrets_file(tmp_path, f"POLYACTOR_PRIVATE_KEY={KEY}\n", mode)
    with pytest.raises(SecretsError) as caught:
        load_secrets(Settings(secrets_file=path), {})
    (error,) = caught.value.errors
    assert str(path) in error
    assert f"mode {mode:04o}" in error
    assert KEY not in str(caught.value)


def test_a_secrets_path_that_is_not_a_regular_file_is_refused(tmp_path):
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(SecretsError, match="is not a regular file"):
        read_secrets_file(directory)


def test_a_missing_secrets_file_is_refused_naming_it(tmp_path):
    with pytest.raises(SecretsError, match=r"nope\.env: cannot open"):
        read_secrets_file(tmp_path / "nope.env")


def test_malformed_secrets_file_lines_are_reported_without_their_content(tmp_path):
    path = secrets_file(
        tmp_path, f"{KEY}\nPOLYACTOR_PRIVATE_KEI=x\nPOLYACTOR_API_KEY=a\nPOLYACTOR_API_KEY=b\n"
    )
    with pytest.raises(SecretsError) as caught:
        read_secrets_file(path)
    assert caught.value.errors == (
        f"{path} line 1: expected KEY=VALUE",
        f"{path} line 2: unknown key 'POLYACTOR_PRIVATE_KEI' (did you mean POLYACTOR_PRIVATE_KEY?)",
        f"{path} line 4: POLYACTOR_API_KEY is set twice",
    )
    assert KEY not in str(caught.value)


def test_live_mode_without_a_private_key_is_refused_before_anything_trades():
    with pytest.raises(SecretsError, match="POLYACTOR_PRIVATE_KEY is not set"):
        load_secrets(Settings(mode="live"), {})


def test_enabled_alerts_without_their_tokens_are_refused():
    settings = Settings(alerts={"telegram_enabled": True, "discord_enabled": True})
    with pytest.raises(SecretsError) as caught:
        load_secrets(settings, {})
    assert [e.split(" ", 1)[0] for e in caught.value.errors] == [
        "alerts.telegram_enabled=true",
        "alerts.discord_enabled=true",
    ]


def test_secret_values_never_appear_in_repr_str_format_or_logs(caplog):
    secrets = load_secrets(
        Settings(), {"POLYACTOR_PRIVATE_KEY": KEY, "POLYACTOR_DISCORD_WEBHOOK": "https://hook/xyz"}
    )
    logger = logging.getLogger("test.secrets")
    with caplog.at_level(logging.INFO, logger="test.secrets"):
        logger.info("loaded %s / %r", secrets, secrets.private_key)
        logger.info(f"{secrets} {secrets.discord_webhook}")
    rendered = [repr(secrets), str(secrets), f"{secrets}", caplog.text]
    for text in rendered:
        assert KEY not in text
        assert "hook/xyz" not in text
    assert "private_key=SecretStr('**********')" in repr(secrets)


def test_secrets_default_to_none():
    assert Secrets().present() == ()
