"""What a reload changed, which of it may be applied live, and the settings that result.

Pure: compares two `Settings` values; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from config.settings import RELOAD_POLICY, Reload, Settings

__all__ = ["ConfigDiff", "apply_hot", "changed_keys", "diff_settings", "restart_keys"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigDiff:
    """Changed keys as dotted paths, split by reload policy (both in declaration order)."""

    hot: tuple[str, ...]
    needs_restart: tuple[str, ...]

    @property
    def changed(self) -> tuple[str, ...]:
        return self.hot + self.needs_restart

    def __bool__(self) -> bool:
        return bool(self.hot or self.needs_restart)


def changed_keys(old: BaseModel, new: BaseModel) -> tuple[str, ...]:
    """Dotted paths of every leaf key whose value differs, in declaration order."""
    if type(old) is not type(new):
        msg = f"cannot diff a {type(old).__name__} against a {type(new).__name__}"
        raise TypeError(msg)
    return tuple(_walk_changes(old, new, ""))


def _walk_changes(old: BaseModel, new: BaseModel, prefix: str) -> Iterable[str]:
    for name in type(old).model_fields:
        old_value, new_value = getattr(old, name), getattr(new, name)
        if isinstance(old_value, BaseModel) and isinstance(new_value, BaseModel):
            yield from _walk_changes(old_value, new_value, f"{prefix}{name}.")
        elif old_value != new_value:
            yield f"{prefix}{name}"


def restart_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Those of `keys` that take effect only after a restart."""
    return tuple(key for key in keys if RELOAD_POLICY[key] is Reload.RESTART)


def diff_settings(old: Settings, new: Settings) -> ConfigDiff:
    changed = changed_keys(old, new)
    needs_restart = restart_keys(changed)
    return ConfigDiff(
        hot=tuple(key for key in changed if key not in needs_restart),
        needs_restart=needs_restart,
    )


def apply_hot(old: Settings, new: Settings) -> Settings:
    """`new`, except that restart-only keys keep their `old` values: what a running bot obeys.

    Re-validated, so the cross-field checks hold for the combination too; raises
    `pydantic.ValidationError` if they do not.
    """
    held_back = restart_keys(changed_keys(old, new))
    if not held_back:
        return new
    merged = new.model_dump()
    for key in held_back:
        _set(merged, key, _get(old, key))
    return Settings.model_validate(merged)


def _get(settings: BaseModel, key: str) -> Any:
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _set(tree: dict[str, Any], key: str, value: object) -> None:
    *sections, leaf = key.split(".")
    for section in sections:
        tree = tree[section]
    tree[leaf] = value
