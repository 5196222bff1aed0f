"""OTP supervisors over the runtime seam: specs, intensity, strategies, dynamic children."""

from supervisors.dynamic import DynamicSupervisor
from supervisors.spec import AutoShutdown, ChildKind, ChildSpec, Flags, Restart, SpecError, Strategy
from supervisors.supervisor import (
    ChildInfo,
    DeleteChild,
    GetStats,
    RestartChild,
    StartChild,
    StartRefused,
    Supervisor,
    SupervisorStats,
    TerminateChild,
    WhichChildren,
    tree_stats,
)

__all__ = [
    "AutoShutdown",
    "ChildInfo",
    "ChildKind",
    "ChildSpec",
    "DeleteChild",
    "DynamicSupervisor",
    "Flags",
    "GetStats",
    "Restart",
    "RestartChild",
    "SpecError",
    "StartChild",
    "StartRefused",
    "Strategy",
    "Supervisor",
    "SupervisorStats",
    "TerminateChild",
    "WhichChildren",
    "tree_stats",
]
