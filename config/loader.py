"""YAML file + command-line overrides -> validated `Settings`, or every problem at once.

Each error names the key path and the offending value (secrets excepted: their values are never
repeated), so `python run.py check-config FILE` tells the user exactly what to fix, and the
program stops before anything trades.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.errors import ConfigError, SecretsError, format_key_path
from config.secrets import find_secret_keys, read_secrets_file, secret_in_yaml_error
from config.settings import INCONSISTENT_THRESHOLDS, RELOAD_POLICY, Settings

__all__ = [
    "check_config",
    "load_settings",
    "parse_settings",
    "parse_yaml",
    "read_yaml",
    "settings_from_text",
]

_NO_OVERRIDES: Mapping[str, object] = MappingProxyType({})


def load_settings(path: Path | None, overrides: Mapping[str, object] = _NO_OVERRIDES) -> Settings:
    """Load `path` (None: defaults only) with dotted-key `overrides` winning over the file.

    Raises `ConfigError` listing every problem, each naming its key path.
    """
    raw = read_yaml(path) if path is not None else {}
    return parse_settings(raw, overrides, source=str(path) if path is not None else "settings")


def settings_from_text(
    text: str, overrides: Mapping[str, object] = _NO_OVERRIDES, *, source: str = "config"
) -> Settings:
    """Like `load_settings`, for YAML already read (the config actor hashes what it parses)."""
    return parse_settings(parse_yaml(text, source=source), overrides, source=source)


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping (an empty file is an empty mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror}"], source=str(path)) from e
    except UnicodeDecodeError as e:
        raise ConfigError([f"not UTF-8 text: {e.reason}"], source=str(path)) from e
    return parse_yaml(text, source=str(path))


def parse_yaml(text: str, *, source: str = "config") -> dict[str, Any]:
    """YAML text -> its top-level mapping; duplicate keys and syntax errors give `ConfigError`."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise ConfigError([f"invalid YAML at {where}: {e.problem}"], source=source) from e
    except yaml.YAMLError as e:
        raise ConfigError([f"invalid YAML: {e}"], source=source) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        message = f"(top level): expected a mapping of keys, got {type(data).__name__} {data!r}"
        raise ConfigError([message], source=source)
    return data


def parse_settings(
    raw: Mapping[str, Any],
    overrides: Mapping[str, object] = _NO_OVERRIDES,
    *,
    source: str = "config",
) -> Settings:
    """Validate an already-parsed YAML tree plus dotted-key overrides."""
    tree = copy.deepcopy(dict(raw))
    _empty_sections_as_mappings(tree, Settings)
    errors = _apply_overrides(tree, overrides)
    secret_paths = find_secret_keys(tree)
    errors.extend(secret_in_yaml_error(key_path) for key_path in secret_paths)
    for key_path in secret_paths:
        _remove(tree, key_path)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as e:
        errors.extend(line for error in e.errors() for line in _describe(error))
        settings = None
    if errors:
        error_class = SecretsError if secret_paths else ConfigError
        raise error_class(errors, source=source)
    assert settings is not None  # no errors means validation returned
    return settings


def check_config(path: Path) -> tuple[int, str]:
    """For `run.py check-config FILE`: (0, "ok ...") or (2, every error, one per line)."""
    try:
        settings = load_settings(path)
        if settings.secrets_file is not None:
            read_secrets_file(settings.secrets_file)
    except ConfigError as e:
        return 2, str(e)
    restart_keys = sum(1 for reload in RELOAD_POLICY.values() if reload == "restart")
    return 0, (
        f"ok: {path} is a valid {settings.mode} configuration "
        f"({len(RELOAD_POLICY)} keys, {restart_keys} need a restart to change)"
    )


# --- YAML -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML keeps the last one silently, so a second
    `risk:` section would quietly replace the first."""


def _construct_mapping_without_duplicates(
    loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_without_duplicates
)


def _empty_sections_as_mappings(tree: dict[str, Any], model: type[BaseModel]) -> None:
    # `risk:` with every key commented out parses as None; it means "all defaults".
    for name, field in model.model_fields.items():
        section = field.annotation
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        if name in tree and tree[name] is None:
            tree[name] = {}
        if isinstance(tree.get(name), dict):
            _empty_sections_as_mappings(tree[name], section)


# --- overrides ------------------------------------------------------------------------------


def _apply_overrides(tree: dict[str, Any], overrides: Mapping[str, object]) -> list[str]:
    errors: list[str] = []
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if not all(parts):
            errors.append(f"{dotted!r}: override key is not a dotted key path")
            continue
        node: dict[str, Any] = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                section = ".".join(parts[: depth + 1])
                errors.append(f"{dotted}: {section} is a value ({child!r}), not a section")
                break
            node = child
        else:
            node[parts[-1]] = value
    return errors


def _remove(tree: dict[str, Any], key_path: tuple[str | int, ...]) -> None:
    node: Any = tree
    for part in key_path[:-1]:
        node = node[part]
    del node[key_path[-1]]


# --- pydantic errors -> one line each, naming key path and value ------------------------------

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "path_type": "a path",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "finite_number": "a finite number",
}

_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _describe(error: ErrorDetails) -> list[str]:
    kind, context = error["type"], error.get("ctx", {})
    key = format_key_path(error["loc"])
    value = error.get("input")
    if kind == INCONSISTENT_THRESHOLDS:
        return list(context["problems"])
    if kind == "extra_forbidden":
        return [f"{key}: unknown key{_did_you_mean(error['loc'])}"]
    if kind in _EXPECTED:
        return [f"{key}: expected {_EXPECTED[kind]}, got {value!r}"]
    if kind in _BOUNDS:
        name, symbol = _BOUNDS[kind]
        return [f"{key}: must be {symbol} {context[name]}, got {value!r}"]
    if kind == "enum":
        return [f"{key}: expected one of {context['expected']}, got {value!r}"]
    if kind == "string_pattern_mismatch":
        return [f"{key}: {value!r} does not match the pattern {context['pattern']}"]
    if kind == "missing":
        return [f"{key}: required key is missing"]
    if kind == "too_short":
        return [f"{key}: expected at least {context['min_length']} valid item(s)"]
    if kind in {"value_error", "assertion_error"}:
        # A section's own validator: its message names the keys and values involved, and the
        # input is the whole section, too long to repeat.
        return [f"{key}: {context.get('error', error['msg'])}"]
    return [f"{key}: {error['msg']}, got {value!r}"]


def _did_you_mean(loc: tuple[str | int, ...]) -> str:
    *parents, unknown = (str(part) for part in loc)
    section: type[BaseModel] = Settings
    for parent in parents:
        annotation = section.model_fields[parent].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        section = annotation
    close = difflib.get_close_matches(unknown, section.model_fields, n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    # A right key in the wrong section: `max_position_pct` at the top level.
    elsewhere = [path for path in RELOAD_POLICY if path.rsplit(".", 1)[-1] == unknown]
    return f" (it belongs at {elsewhere[0]})" if elsewhere else ""
