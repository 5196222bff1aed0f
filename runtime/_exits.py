"""Telling a watcher that an actor exited: shared by every backend."""

from __future__ import annotations

import logging

from runtime.api import ActorDead, ChildExited, Crash, ExitReason, Ref

log = logging.getLogger("runtime")


def report_exit(name: str, incarnation: int, reason: ExitReason, watcher: Ref | None) -> None:
    """Tell `watcher` once. With no watcher a crash is logged here, else the supervisor logs it."""
    if watcher is None:
        if isinstance(reason, Crash):
            log.error("actor %s#%d crashed with no supervisor: %s\n%s",
                      name, incarnation, reason.error, reason.traceback)
        return
    try:
        watcher.tell(ChildExited(name=name, incarnation=incarnation, reason=reason))
    except ActorDead:
        log.warning("actor %s#%d exited (%s) but its watcher %s is gone",
                    name, incarnation, type(reason).__name__, watcher.name)
