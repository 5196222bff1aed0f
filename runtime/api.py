"""The runtime seam: what actor code may use, whatever backend hosts it.

Actor code subclasses `Actor` and talks to the world only through `self.ctx` (a `Context`)
and `Ref`s. Backends (pykka threads, the deterministic scheduler, Ray) implement `Runtime`.
No module outside `runtime/` imports pykka or ray.

Semantics every backend keeps:

- `tell` is fire-and-forget and FIFO per sender/receiver pair.
- `ask` waits at most `timeout_s`; a timed-out ask is *not* cancelled (the message still runs).
  A handler may answer it later instead of on return (`Context.defer_reply`, OTP's
  `{noreply, State}` then `gen_server:reply/2`) where the backend allows it.
- Any exception escaping `on_start`, `receive` or `on_stop` crashes the actor ("let it crash"):
  the asker, if any, gets the exception, later messages are refused, `on_crash` runs instead of
  `on_stop`, and the actor's watcher (its supervisor) receives
  `ChildExited(name, incarnation, Crash(...))` exactly once.
  Domain refusals are return values, never exceptions.
- A name is held by at most one live actor: spawning a name whose holder is alive raises
  `NameTaken`. Supervisors rely on this for "never two incarnations at once".
- `Runtime.address(name)` returns an `Address` that re-resolves the name on every send, so a
  sender keeps working across restarts (a pykka restart yields a new ref).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runtime.clock import Clock

__all__ = [
    "AbandonedExit",
    "Actor",
    "ActorDead",
    "Address",
    "AskTimeout",
    "ChildExited",
    "Context",
    "Crash",
    "ExitReason",
    "Factory",
    "InitFailed",
    "NameTaken",
    "Normal",
    "Ref",
    "Reply",
    "ReplyLost",
    "Runtime",
    "RuntimeErrorBase",
    "Shutdown",
    "StartFailed",
    "Timer",
    "UnhandledMessage",
    "is_normal_exit",
]


class RuntimeErrorBase(Exception):
    """Root of the runtime seam's errors.

    RuntimeErrorBase
    ├── ActorDead         the target is not alive; re-resolve its address and retry, or give up
    ├── AskTimeout        no reply in time; the message may still be processed later
    │   └── ReplyLost     the target became unreachable mid-ask: it may or may not have run it
    ├── NameTaken         a live actor already holds that name
    ├── StartFailed       `on_start` raised; carries the InitFailed reason
    └── UnhandledMessage  an actor received a message it has no case for (a programming error)
    """


class ActorDead(RuntimeErrorBase):
    """The actor is stopped, crashed or never existed."""


class AskTimeout(RuntimeErrorBase):
    """An ask got no reply within its timeout. The request was not cancelled."""


class ReplyLost(AskTimeout):
    """The target became unreachable while an ask was in flight (Ray's ActorUnavailableError):
    the message may or may not have run. Like a timeout, the outcome is unknown, so an order
    sender reconciles with the venue and never resends blindly."""


class NameTaken(RuntimeErrorBase):
    """Another live actor holds this name."""


class UnhandledMessage(RuntimeErrorBase):
    """A message reached an actor that has no case for it."""


class StartFailed(RuntimeErrorBase):
    """`on_start` raised (or hung), or the name's previous holder never let go of it: the actor
    never ran. Its watcher is not told; the spawner is."""

    def __init__(self, reason: InitFailed) -> None:
        super().__init__(reason.error)
        self.reason = reason


# --- exit reasons -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Normal:
    """The actor finished by itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    """The actor was asked to stop (by its supervisor, or the supervisor gave up)."""

    cause: str = "requested"


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash:
    """An exception escaped a handler. Text, not the exception: it must cross processes."""

    error: str
    traceback: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InitFailed:
    """An exception escaped `on_start`."""

    error: str
    traceback: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AbandonedExit:
    """The actor did not stop within its shutdown time; it is poisoned and left behind."""


ExitReason = Normal | Shutdown | Crash | InitFailed | AbandonedExit


def is_normal_exit(reason: ExitReason) -> bool:
    """OTP: `normal` and `shutdown` are normal exits; everything else is abnormal."""
    return isinstance(reason, Normal | Shutdown)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildExited:
    """Sent to an actor's watcher when it exits, exactly once per incarnation."""

    name: str
    incarnation: int
    reason: ExitReason


# --- refs, timers, context ------------------------------------------------------------------


class Ref(Protocol):
    """A handle on one incarnation of an actor (or, for `Address`, on whoever holds a name)."""

    @property
    def name(self) -> str: ...

    def tell(self, message: object) -> None:
        """Send without waiting. Raises `ActorDead` if the target is known to be gone."""
        ...

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        """Send and wait for the reply; re-raises the handler's exception."""
        ...

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        """Ask the actor to stop after the messages already queued; True once it has stopped."""
        ...

    def is_alive(self) -> bool: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Reply(Protocol):
    """An ask to answer later, from `Context.defer_reply`. Answer it once, on the actor's own
    thread (in a later message): the asker, still inside its `ask`, gets the value or the error
    raised, within the timeout it asked with."""

    def send(self, value: object) -> None: ...

    def fail(self, error: Exception) -> None: ...


Factory = Callable[[], "Actor"]


class Runtime(Protocol):
    """A backend: hosts actors, delivers messages, runs timers on its clock."""

    @property
    def clock(self) -> Clock: ...

    @property
    def kind(self) -> str:
        """'pykka', 'deterministic' or 'ray'."""
        ...

    @property
    def supervision_clock(self) -> Clock:
        """What supervisors count restart intensity and watchdog periods on: the runtime's clock
        where an actor restarts in microseconds (pykka, deterministic); real time on Ray, where a
        restart takes real seconds, which a 60x simulated clock turns into minutes, so a crash
        loop would never reach the intensity limit and the watchdog would ping ~12 times a
        second."""
        ...

    def spawn(
        self,
        factory: Factory,
        *,
        name: str,
        incarnation: int = 1,
        watcher: Ref | None = None,
    ) -> Ref:
        """Create and start an actor. Returns once `on_start` has been scheduled."""
        ...

    def lookup(self, name: str) -> Ref:
        """The live actor holding `name`; raises `ActorDead` if none."""
        ...

    def address(self, name: str) -> Address:
        """A stable handle that re-resolves `name` on every send."""
        ...

    def schedule(self, delay_s: float, target: Ref, message: object) -> Timer:
        """Tell `message` to `target` after `delay_s` seconds of this runtime's clock."""
        ...

    def abandon(self, ref: Ref) -> None:
        """Give up on an actor that would not stop in time: refuse its later messages, free its
        name, and kill it where the backend can (Ray); a pykka thread cannot be killed."""
        ...

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop whatever is still running (reverse spawn order) and release resources."""
        ...


@dataclass(frozen=True, slots=True)
class Address:
    """A name that survives restarts: each send looks up the current incarnation."""

    name: str
    runtime: Runtime = field(repr=False, compare=False)

    def tell(self, message: object) -> None:
        self.runtime.lookup(self.name).tell(message)

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        return self.runtime.lookup(self.name).ask(message, timeout_s)

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        try:
            ref = self.runtime.lookup(self.name)
        except ActorDead:
            return True
        return ref.stop(timeout_s)

    def is_alive(self) -> bool:
        try:
            return self.runtime.lookup(self.name).is_alive()
        except ActorDead:
            return False


class Context(Protocol):
    """What the runtime gives an actor about itself."""

    @property
    def name(self) -> str: ...

    @property
    def incarnation(self) -> int: ...

    @property
    def self_ref(self) -> Ref: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def clock(self) -> Clock: ...

    def schedule(self, delay_s: float, message: object) -> Timer:
        """Tell `message` to this actor after `delay_s` seconds of the runtime's clock."""
        ...

    def stop_self(self, reason: ExitReason | None = None) -> None:
        """Stop after the current message; the watcher is told `reason` (default `Normal`)."""
        ...

    def defer_reply(self) -> Reply | None:
        """Inside `receive`, for the ask being handled: answer it later through the returned
        `Reply`; what `receive` returns is then ignored. Lets an actor serve many asks with one
        piece of work (the journal commits the durable appends queued together in one commit).

        None when there is nothing to defer: the message is a tell, or the backend answers
        every ask when its handler returns (deterministic: an ask is a direct call, so asks
        never queue up; Ray: a call is a remote method's return). The caller then answers on
        return as usual. Replies still unanswered when the actor stops or crashes fail with
        `ActorDead`."""
        ...


class Actor:
    """Backend-neutral actor. Override `on_start`, `receive` and `on_stop`.

    `__init__` runs wherever the factory is called and must not do I/O; `on_start` runs on the
    actor's own thread/process before any message. `self.ctx` is set before `on_start`.
    """

    ctx: Context

    def on_start(self) -> None:
        """Runs before the first message. Rebuild state from the journal here."""

    def receive(self, message: object) -> object:
        """Handle one message; the return value is the reply to an ask (ignored for a tell)."""
        msg = f"{type(self).__name__} has no case for {message!r}"
        raise UnhandledMessage(msg)

    def on_stop(self) -> None:
        """Runs after the last message on an orderly stop (not after a crash)."""

    def on_crash(self) -> None:
        """Runs once after a handler crashed, before the watcher is told; best effort (it does not
        run when the process dies). A supervisor stops its children here, as OTP's links would."""
