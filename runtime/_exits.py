"""Telling a watcher that an actor exited: shared by every backend."""

from __future__ import annotations

import logging

from runtime.api import Actor, ActorDead, ChildExited, Crash, ExitReason, Ref, is_normal_exit

log = logging.getLogger("runtime")


def report_exit(name: str, incarnation: int, reason: ExitReason, watcher: Ref | None) -> None:
    """Tell `watcher` once. With no watcher a crash is logged here, else the supervisor logs it."""
    if watcher is None:
        if isinstance(reason, Crash):
            log.error(
                "actor %s#%d crashed with no supervisor: %s\n%s",
                name,
                incarnation,
                reason.error,
                reason.traceback,
            )
        return
    try:
        watcher.tell(ChildExited(name=name, incarnation=incarnation, reason=reason))
    except ActorDead:
        # A supervisor stopping its children is already gone when their notices arrive.
        level = logging.DEBUG if is_normal_exit(reason) else logging.WARNING
        log.log(
            level,
            "actor %s#%d exited (%s) but its watcher %s is gone",
            name,
            incarnation,
            type(reason).__name__,
            watcher.name,
        )


def run_on_crash(actor: Actor, name: str) -> None:
    """Run the actor's crash hook; its own failure is logged, never raised (the crash is reported)."""
    try:
        actor.on_crash()
    except Exception:
        log.exception("on_crash of %s raised; its crash is still reported", name)
