"""Messages of the config actor's protocol, importable by subscribers without importing actors."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings

__all__ = ["ConfigChanged", "ConfigCommand", "GetSettings", "Subscribe", "Unsubscribe"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """Send me `ConfigChanged` from now on. `name` is my actor name, re-resolved on every send
    so the subscription survives my restarts. An ask replies with the current `Settings`."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSettings:
    """Reply: the `Settings` in force now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChanged:
    """The config file changed and validated.

    `settings` is what is now in force: the edit's hot keys applied, restart-only keys still at
    their old values. `changed` lists the hot keys applied; `needs_restart` the keys that were
    edited but wait for a restart (unchanged in `settings`).
    """

    settings: Settings
    changed: tuple[str, ...]
    needs_restart: tuple[str, ...]


ConfigCommand = Subscribe | Unsubscribe | GetSettings
