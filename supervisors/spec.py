"""Supervision policy as data: child specs and supervisor flags, validated before anything starts.

Follows Erlang/OTP's `supervisor` (reference/aesthetics_supervision.md, part B1): the defaults
are OTP's, and invalid combinations are rejected with a message naming the child and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from runtime.api import Factory

__all__ = [
    "AutoShutdown",
    "ChildKind",
    "ChildSpec",
    "Flags",
    "Restart",
    "ShutdownSpec",
    "SpecError",
    "Strategy",
    "validate_children",
]


class SpecError(ValueError):
    """A child spec or supervisor flag is invalid; the message names the child and the field."""


class Restart(StrEnum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after an abnormal exit
    TEMPORARY = "temporary"  # never restarted; its spec is deleted when it exits


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class ChildKind(StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class AutoShutdown(StrEnum):
    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


ShutdownSpec = float | Literal["brutal_kill", "infinity"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    """One child: `id` is also the actor's name in the runtime, so it must be unique there."""

    id: str
    start: Factory
    restart: Restart = Restart.PERMANENT
    shutdown: ShutdownSpec | None = None  # None: 5 s for workers, "infinity" for supervisors
    kind: ChildKind = ChildKind.WORKER
    significant: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            msg = "child spec id must be a non-empty string"
            raise SpecError(msg)
        if not callable(self.start):
            msg = f"child {self.id!r}: start must be callable, got {self.start!r}"
            raise SpecError(msg)
        match self.shutdown:
            case None | "brutal_kill" | "infinity":
                pass
            case float() | int() if self.shutdown > 0:
                pass
            case _:
                msg = (
                    f"child {self.id!r}: shutdown must be seconds > 0, 'brutal_kill' or "
                    f"'infinity', got {self.shutdown!r}"
                )
                raise SpecError(msg)
        if self.significant and self.restart is Restart.PERMANENT:
            msg = (
                f"child {self.id!r}: a significant child cannot be permanent (OTP bad_combination)"
            )
            raise SpecError(msg)

    @property
    def shutdown_timeout_s(self) -> float | None:
        """Seconds to wait for an orderly stop; 0.0 means kill at once; None means wait forever."""
        match self.shutdown:
            case None:
                return None if self.kind is ChildKind.SUPERVISOR else 5.0
            case "brutal_kill":
                return 0.0
            case "infinity":
                return None
            case seconds:
                return float(seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Flags:
    """At most `intensity` restarts in any `period_s` seconds, else the supervisor gives up."""

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 1
    period_s: float = 5.0
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER

    def __post_init__(self) -> None:
        if self.intensity < 0:
            msg = f"intensity must be >= 0, got {self.intensity!r}"
            raise SpecError(msg)
        if self.period_s <= 0:
            msg = f"period_s must be > 0, got {self.period_s!r}"
            raise SpecError(msg)


def validate_children(flags: Flags, children: tuple[ChildSpec, ...]) -> None:
    """OTP's check_childspecs: unique ids, and significance only where auto_shutdown uses it."""
    seen: set[str] = set()
    for spec in children:
        if spec.id in seen:
            msg = f"duplicate child id {spec.id!r}"
            raise SpecError(msg)
        seen.add(spec.id)
        if spec.significant and flags.auto_shutdown is AutoShutdown.NEVER:
            msg = f"child {spec.id!r} is significant but the supervisor's auto_shutdown is never"
            raise SpecError(msg)
