"""The config package's errors: every problem is collected and reported at once, by key path.

ConfigError          the YAML, the overrides or the secrets are not a valid configuration
└── SecretsError     a secret is in the wrong place, or its file is readable by others
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ConfigError", "SecretsError", "format_key_path"]


class ConfigError(Exception):
    """Invalid configuration. `errors` holds one line per problem, each naming its key path.

    The whole list is gathered before raising, so the user fixes a file in one pass instead of
    one error per run.
    """

    def __init__(self, errors: Iterable[str], *, source: str = "config") -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        self.source = source
        noun = "error" if len(self.errors) == 1 else "errors"
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{source}: {len(self.errors)} {noun}\n{lines}")


class SecretsError(ConfigError):
    """A secret in YAML, or a secrets file that others can read. Never carries a secret value."""


def format_key_path(path: Iterable[str | int]) -> str:
    """`("risk", "max_position_pct")` -> `risk.max_position_pct`; list indexes as `[2]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"
