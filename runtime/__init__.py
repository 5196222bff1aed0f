"""The runtime seam: actors, refs, clocks and the backends that host them.

Only this package imports pykka or ray (and only in the backend modules).
"""

from runtime.api import (
    AbandonedExit,
    Actor,
    ActorDead,
    Address,
    AskTimeout,
    ChildExited,
    Context,
    Crash,
    ExitReason,
    Factory,
    InitFailed,
    NameTaken,
    Normal,
    Ref,
    Reply,
    ReplyLost,
    Runtime,
    Shutdown,
    StartFailed,
    Timer,
    UnhandledMessage,
    is_normal_exit,
)
from runtime.clock import Clock, ManualClock, RealClock, SimulatedClock

__all__ = [
    "AbandonedExit",
    "Actor",
    "ActorDead",
    "Address",
    "AskTimeout",
    "ChildExited",
    "Clock",
    "Context",
    "Crash",
    "ExitReason",
    "Factory",
    "InitFailed",
    "ManualClock",
    "NameTaken",
    "Normal",
    "RealClock",
    "Ref",
    "Reply",
    "ReplyLost",
    "Runtime",
    "Shutdown",
    "SimulatedClock",
    "StartFailed",
    "Timer",
    "UnhandledMessage",
    "is_normal_exit",
    "make_runtime",
]


def make_runtime(kind: str, clock: Clock, **options: object) -> Runtime:
    """Build a backend by name; imports it lazily so pykka/ray load only when used."""
    match kind:
        case "pykka":
            from runtime.pykka_backend import PykkaRuntime

            return PykkaRuntime(clock)
        case "deterministic":
            from runtime.deterministic import DeterministicRuntime

            if not isinstance(clock, ManualClock):
                msg = f"the deterministic runtime needs a ManualClock, got {type(clock).__name__}"
                raise TypeError(msg)
            return DeterministicRuntime(clock)
        case "ray":
            from runtime.ray_backend import RayRuntime

            return RayRuntime(clock, **options)  # type: ignore[arg-type]
        case _:
            msg = f"unknown runtime {kind!r}: expected pykka, deterministic or ray"
            raise ValueError(msg)
