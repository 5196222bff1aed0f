"""Secrets (invariant 12): refused in YAML, read from the environment or an owner-only file,
and masked wherever they are printed.

A secret value never appears in an error message, a repr or a log line: errors name the key
(or the file and line), never the value.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from pydantic import SecretStr

from config.errors import SecretsError, format_key_path
from config.settings import Mode, Settings

__all__ = [
    "SECRET_ENV_VARS",
    "Secrets",
    "find_secret_keys",
    "is_secret_key",
    "load_secrets",
    "missing_secrets",
    "read_secrets_file",
    "secret_in_yaml_error",
]

# A YAML key is a secret if it is one of these words or ends in `_<word>` (`telegram_token`).
_SECRET_WORDS = (
    "private_key",
    "secret_key",
    "secret",
    "api_secret",
    "passphrase",
    "api_key",
    "password",
    "token",
    "webhook",
    "webhook_url",
    "mnemonic",
    "seed_phrase",
)

# `Secrets` field -> the environment variable (and secrets-file key) it is read from.
SECRET_ENV_VARS: Mapping[str, str] = {
    "private_key": "POLYACTOR_PRIVATE_KEY",
    "api_key": "POLYACTOR_API_KEY",
    "api_secret": "POLYACTOR_API_SECRET",
    "api_passphrase": "POLYACTOR_API_PASSPHRASE",
    "telegram_token": "POLYACTOR_TELEGRAM_TOKEN",
    "discord_webhook": "POLYACTOR_DISCORD_WEBHOOK",
}

# YAML key spellings users reach for -> the `Secrets` field that holds that secret.
_ALIASES = {
    "private_key": "private_key",
    "secret_key": "private_key",
    "mnemonic": "private_key",
    "seed_phrase": "private_key",
    "api_key": "api_key",
    "secret": "api_secret",
    "api_secret": "api_secret",
    "passphrase": "api_passphrase",
    "api_passphrase": "api_passphrase",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Secrets:
    """Credentials, each a `SecretStr` (repr `'**********'`); `.get_secret_value()` reveals one."""

    private_key: SecretStr | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    telegram_token: SecretStr | None = None
    discord_webhook: SecretStr | None = None

    def present(self) -> tuple[str, ...]:
        """Names of the secrets that are set: safe to log."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)


def _normalized(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def is_secret_key(key: str) -> bool:
    name = _normalized(key)
    return any(name == word or name.endswith(f"_{word}") for word in _SECRET_WORDS)


def find_secret_keys(
    raw: object, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], ...]:
    """Key paths anywhere in a parsed YAML tree whose key names a secret."""
    return tuple(_walk_secret_keys(raw, path))


def _walk_secret_keys(raw: object, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            key_path = (*path, str(key))
            if is_secret_key(str(key)):
                yield key_path
            else:
                yield from _walk_secret_keys(value, key_path)
    elif isinstance(raw, list | tuple):
        for index, item in enumerate(raw):
            yield from _walk_secret_keys(item, (*path, index))


def _field_for(path: tuple[str | int, ...]) -> str | None:
    words = [_normalized(str(part)) for part in path]
    leaf, context = words[-1], "_".join(words)
    if "telegram" in context and "token" in leaf:
        return "telegram_token"
    if "discord" in context and "webhook" in leaf:
        return "discord_webhook"
    return next((field for alias, field in _ALIASES.items() if leaf.endswith(alias)), None)


def secret_in_yaml_error(path: tuple[str | int, ...]) -> str:
    """The error for a secret found in YAML: names the key and where the secret belongs instead."""
    key = format_key_path(path)
    field = _field_for(path)
    if field is not None:
        where = f"environment variable {SECRET_ENV_VARS[field]} or the file named by secrets_file"
        return f"{key}: secrets are not allowed in YAML; put it in {where}"
    known = ", ".join(SECRET_ENV_VARS.values())
    return (
        f"{key}: secrets are not allowed in YAML, and polyactor reads no secret of this name; "
        f"the secrets it reads come from {known} (environment or secrets_file)"
    )


def read_secrets_file(path: Path) -> dict[str, str]:
    """Read `KEY=VALUE` lines (keys as in `SECRET_ENV_VARS`) from an owner-only regular file.

    Returns:
        `Secrets` field name -> value. Raises `SecretsError` naming the file (never a value).
    """
    source = f"secrets_file {path}"
    try:
        # O_NONBLOCK: opening a FIFO placed there must not hang the start; checked via fstat on
        # the open descriptor, so the file checked is the file read.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise SecretsError([f"{path}: cannot open: {e.strerror}"], source=source) from e
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise SecretsError([f"{path}: is not a regular file"], source=source)
        mode = stat.S_IMODE(status.st_mode)
        if mode & 0o077:
            message = (
                f"{path}: mode {mode:04o} lets other users read it; it must be readable by "
                f"its owner only (chmod 600 {path})"
            )
            raise SecretsError([message], source=source)
        with os.fdopen(descriptor, encoding="utf-8", closefd=False) as handle:
            text = handle.read()
    except UnicodeDecodeError as e:
        raise SecretsError([f"{path}: is not UTF-8 text"], source=source) from e
    finally:
        os.close(descriptor)
    return _parse_secrets(text, path)


def _parse_secrets(text: str, path: Path) -> dict[str, str]:
    by_env_var = {env: field for field, env in SECRET_ENV_VARS.items()}
    values: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").strip()
        key, equals, value = stripped.partition("=")
        key = key.strip()
        if not equals:
            # The line may be a bare secret: say where it is, never what it is.
            errors.append(f"{path} line {number}: expected KEY=VALUE")
            continue
        field = by_env_var.get(key)
        if field is None:
            close = difflib.get_close_matches(key, by_env_var, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors.append(f"{path} line {number}: unknown key {key!r}{hint}")
            continue
        if field in values:
            errors.append(f"{path} line {number}: {key} is set twice")
            continue
        values[field] = _unquoted(value.strip())
    if errors:
        raise SecretsError(errors, source=f"secrets_file {path}")
    return values


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def missing_secrets(settings: Settings, secrets: Secrets) -> tuple[str, ...]:
    """What the configured features need but nobody provided."""
    needed: list[tuple[str, str]] = []
    if settings.mode is Mode.LIVE:
        # API credentials can be derived from the key; the key itself cannot be.
        needed.append(("private_key", "mode=live signs orders"))
    if settings.alerts.telegram_enabled:
        needed.append(("telegram_token", "alerts.telegram_enabled=true"))
    if settings.alerts.discord_enabled:
        needed.append(("discord_webhook", "alerts.discord_enabled=true"))
    return tuple(
        f"{why} but {SECRET_ENV_VARS[field]} is not set (environment or secrets_file)"
        for field, why in needed
        if getattr(secrets, field) is None
    )


def load_secrets(settings: Settings, environ: Mapping[str, str]) -> Secrets:
    """Secrets from `settings.secrets_file` (if any), then the environment, which wins.

    Raises `SecretsError` if the file is unsafe or malformed, or a configured feature lacks its
    secret. An empty environment variable counts as unset.
    """
    values: dict[str, str] = {}
    if settings.secrets_file is not None:
        values.update(read_secrets_file(settings.secrets_file))
    for field, env_var in SECRET_ENV_VARS.items():
        value = environ.get(env_var, "")
        if value:
            values[field] = value
    secrets = Secrets(**{field: SecretStr(value) for field, value in values.items() if value})
    missing = missing_secrets(settings, secrets)
    if missing:
        raise SecretsError(missing, source="secrets")
    return secrets
