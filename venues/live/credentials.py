"""The signing CLOB client, and the API credentials it authenticates with.

API credentials (key, secret, passphrase) come from the secrets (`POLYACTOR_API_*`) when all
three are set; otherwise from an owner-only cache file; otherwise the venue creates or derives
them from the private key (L1 auth) and they are written to that file (mode 0600), so the next
start does not ask again. A file that other users can read is refused, never used: it holds a
secret. Errors name the file and the problem, never a value.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import ApiCreds
from py_clob_client_v2.http_helpers import helpers as clob_http

from config.secrets import Secrets

__all__ = [
    "CredentialsError",
    "apply_request_timeout",
    "load_or_create_credentials",
    "read_credentials_file",
    "signing_key",
    "write_credentials_file",
]

_FIELDS = ("api_key", "api_secret", "api_passphrase")


class CredentialsError(Exception):
    """The API credentials cannot be had safely; the message names the file or the secret."""


def signing_key(secrets: Secrets) -> str:
    if secrets.private_key is None:
        msg = "live trading signs orders but POLYACTOR_PRIVATE_KEY is not set"
        raise CredentialsError(msg)
    return secrets.private_key.get_secret_value()


def apply_request_timeout(timeout_s: float) -> None:
    """Bound every request of py-clob-client-v2 by `timeout_s` (connect, read, write, pool).

    The client sends everything through one module-global `httpx.Client` with httpx's 5 s
    default and takes no timeout argument; httpx lets a client's timeout be replaced, so this
    sets it there. It is process-wide: one live venue per process."""
    clob_http._http_client.timeout = httpx.Timeout(timeout_s)  # noqa: SLF001 - see docstring


def _from_secrets(secrets: Secrets) -> ApiCreds | None:
    given = (secrets.api_key, secrets.api_secret, secrets.api_passphrase)
    if all(value is None for value in given):
        return None
    if any(value is None for value in given):
        msg = (
            "POLYACTOR_API_KEY, POLYACTOR_API_SECRET and POLYACTOR_API_PASSPHRASE must be set "
            "together (or none of them, to create or derive the credentials)"
        )
        raise CredentialsError(msg)
    api_key, api_secret, api_passphrase = (v.get_secret_value() for v in given if v is not None)
    return ApiCreds(api_key=api_key, api_secret=api_secret, api_passphrase=api_passphrase)


def read_credentials_file(path: Path, address: str) -> ApiCreds | None:
    """The credentials cached for `address` in `path`; None if there is no file, or it holds
    another wallet's credentials. Raises `CredentialsError` if others may read it."""
    try:
        # O_NONBLOCK: a FIFO placed there must not hang the start; fstat checks what was opened.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        msg = f"credentials file {path}: cannot open: {e.strerror}"
        raise CredentialsError(msg) from e
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            msg = f"credentials file {path}: is not a regular file"
            raise CredentialsError(msg)
        mode = stat.S_IMODE(status.st_mode)
        if mode & 0o077:
            msg = (
                f"credentials file {path}: mode {mode:04o} lets other users read it; it must "
                f"be readable by its owner only (chmod 600 {path})"
            )
            raise CredentialsError(msg)
        with os.fdopen(descriptor, encoding="utf-8", closefd=False) as handle:
            text = handle.read()
    finally:
        os.close(descriptor)
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"credentials file {path}: not JSON (line {e.lineno}); delete it to derive again"
        raise CredentialsError(msg) from None
    if not isinstance(stored, dict) or not all(isinstance(stored.get(f), str) for f in _FIELDS):
        msg = f"credentials file {path}: expected {', '.join(_FIELDS)}; delete it to derive again"
        raise CredentialsError(msg)
    if str(stored.get("address", "")).lower() != address.lower():
        return None  # another wallet's: the key changed, so derive for this one
    return ApiCreds(**{field: stored[field] for field in _FIELDS})


def write_credentials_file(path: Path, address: str, credentials: ApiCreds) -> None:
    """Write atomically, created 0600 (never readable by others, not even for an instant)."""
    body = json.dumps(
        {
            "address": address,
            "api_key": credentials.api_key,
            "api_secret": credentials.api_secret,
            "api_passphrase": credentials.api_passphrase,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_or_create_credentials(client: ClobClient, secrets: Secrets, path: Path) -> ApiCreds:
    """The API credentials of `client`'s wallet (see the module docstring for the order)."""
    given = _from_secrets(secrets)
    if given is not None:
        return given
    address = client.get_address()
    cached = read_credentials_file(path, address)
    if cached is not None:
        return cached
    created = client.create_or_derive_api_key()
    write_credentials_file(path, address, created)
    return created
