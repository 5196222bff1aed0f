"""API credentials: created or derived once from the key, cached owner-only, refused if exposed."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from py_clob_client_v2.clob_types import ApiCreds
from pydantic import SecretStr

from config.secrets import Secrets
from config.settings import LiveSettings
from runtime.clock import ManualClock
from tests.venues.live.conftest import START
from venues.live.clob import LiveVenue
from venues.live.credentials import (
    CredentialsError,
    read_credentials_file,
    write_credentials_file,
)
from venues.sandbox import SandboxServer

ADDRESS = "0x" + "ab" * 20
CREDS = ApiCreds(api_key="k", api_secret="c2VjcmV0", api_passphrase="p")


def test_the_first_start_derives_and_caches_them_0600_and_the_next_reads_the_file(
    server: SandboxServer, make_venue: Callable[..., LiveVenue], tmp_path: Path
) -> None:
    path = tmp_path / "clob_credentials.json"
    first = make_venue(server)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cached = read_credentials_file(path, first.address)
    assert cached is not None
    assert cached.api_key in first.identity.api_keys
    second = make_venue(server)  # from the file; the sandbox would answer the same anyway
    assert second.identity == first.identity
    assert second.balance() > 0  # and they authenticate (L2)


def test_a_file_others_can_read_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, ADDRESS, CREDS)
    os.chmod(path, 0o640)
    with pytest.raises(CredentialsError, match=r"mode 0640.*chmod 600") as refused:
        read_credentials_file(path, ADDRESS)
    assert str(path) in str(refused.value)
    assert CREDS.api_secret not in str(refused.value)


def test_another_wallets_file_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, ADDRESS, CREDS)
    assert read_credentials_file(path, ADDRESS.upper().replace("0X", "0x")) == CREDS
    assert read_credentials_file(path, "0x" + "cd" * 20) is None
    assert read_credentials_file(tmp_path / "absent.json", ADDRESS) is None


def test_credentials_given_as_secrets_win_and_must_come_together(
    server: SandboxServer, tmp_path: Path, private_key: str
) -> None:
    settings = LiveSettings(clob_host=server.url)
    partial = Secrets(private_key=SecretStr(private_key), api_key=SecretStr("only-the-key"))
    with pytest.raises(CredentialsError, match="must be set together"):
        LiveVenue(
            settings,
            partial,
            ManualClock(START),
            credentials_file=tmp_path / "c.json",
            heartbeat=False,
        )
    given = Secrets(
        private_key=SecretStr(private_key),
        api_key=SecretStr("given-key"),
        api_secret=SecretStr("c2VjcmV0"),
        api_passphrase=SecretStr("given-pass"),
    )
    venue = LiveVenue(
        settings, given, ManualClock(START), credentials_file=tmp_path / "c.json", heartbeat=False
    )
    assert venue.identity.api_keys == frozenset({"given-key"})
    assert not (tmp_path / "c.json").exists()


def test_no_private_key_is_a_clear_error(server: SandboxServer, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="POLYACTOR_PRIVATE_KEY"):
        LiveVenue(
            LiveSettings(clob_host=server.url),
            Secrets(),
            ManualClock(START),
            credentials_file=tmp_path / "c.json",
            heartbeat=False,
        )
