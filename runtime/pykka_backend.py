"""pykka backend: one thread per actor, in one process. The default runtime.

pykka itself never sees an exception from our code: every handler runs inside `_Host`, which
turns an escaping exception into a crash (refuse later messages, skip `on_stop`, tell the
watcher once), whether the message was a tell or an ask. That closes pykka's gaps described in
reference/aesthetics_supervision.md B2: asks that fail leave pykka actors running, and an
`on_start` failure reaches no hook at all.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from runtime._exits import report_exit
from runtime._exits import run_on_crash as _run_on_crash
from runtime._timers import TimerHandle, TimerThread
from runtime.api import (
    ActorDead,
    Address,
    AskTimeout,
    Crash,
    ExitReason,
    Factory,
    InitFailed,
    NameTaken,
    Normal,
    Ref,
    Reply,
    Shutdown,
    StartFailed,
)

if TYPE_CHECKING:
    from runtime.api import Actor
    from runtime.clock import Clock

__all__ = ["PykkaRuntime"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Tell:
    message: object


@dataclass(frozen=True, slots=True)
class _Ask:
    message: object


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


class _LaterReply:
    """An ask answered later (`Context.defer_reply`). The host hands this object to pykka as
    the ask's reply; the asker, finding it, waits here for the rest of its timeout."""

    __slots__ = ("_done", "_error", "_host", "_value")

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._done = threading.Event()
        self._value: object = None
        self._error: Exception | None = None

    def send(self, value: object) -> None:
        self._settle(value, None)

    def fail(self, error: Exception) -> None:
        self._settle(None, error)

    def _settle(self, value: object, error: Exception | None) -> None:
        if self._done.is_set():
            msg = f"{self._host.name}: an ask was answered twice (second answer {value or error!r})"
            raise RuntimeError(msg)
        self._value, self._error = value, error
        self._host.later_replies.discard(self)
        self._done.set()

    def wait(self, left_s: float, what: str, timeout_s: float) -> Any:
        if not self._done.wait(left_s):
            msg = f"{self._host.name} did not answer {what} in {timeout_s}s (it deferred the reply)"
            raise AskTimeout(msg)
        if self._error is not None:
            raise self._error
        return self._value


class _Host(pykka.ThreadingActor):
    # Daemon threads: an abandoned (wedged) actor must not keep the process alive at exit.
    use_daemon_thread = True

    def __init__(
        self,
        runtime: PykkaRuntime,
        actor: Actor,
        name: str,
        incarnation: int,
        watcher: Ref | None,
        created: list[_Host],
    ) -> None:
        super().__init__()
        created.append(self)  # pykka's start() returns only its own ref; we need the host
        self.runtime = runtime
        self.actor = actor
        self.name = name
        self.incarnation = incarnation
        self.watcher = watcher
        self.started = threading.Event()
        self.finished = threading.Event()
        self.init_failure: InitFailed | None = None
        self.exit_reason: ExitReason | None = None
        self.poisoned = False
        self.dead_letters = 0
        self.is_asked = False  # handling an ask now: `defer_reply` may take it
        self.deferred: _LaterReply | None = None  # the current ask, if its handler deferred it
        self.later_replies: set[_LaterReply] = set()  # deferred, not answered yet
        self.ref = _PykkaRef(self)
        actor.ctx = _Context(self, self.ref)
        # Registered before the thread starts, so on_start can already be looked up by name.
        runtime._register(self)

    # pykka hooks -----------------------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self.actor.on_start()
        except Exception as e:  # noqa: BLE001 - any failure of on_start is an InitFailed exit
            self.init_failure = InitFailed(error=repr(e), traceback=traceback.format_exc())
            self.poisoned = True
            self.stop()
        finally:
            self.started.set()

    def on_receive(self, message: Any) -> Any:
        match message:
            case _Ask(inner):
                if self.poisoned:
                    return _Failure(ActorDead(f"{self.name} is stopping"))
                self.is_asked = True
                try:
                    reply = self.actor.receive(inner)
                except Exception as e:  # noqa: BLE001 - the asker gets it; the actor crashes
                    if self.deferred is not None:
                        self.later_replies.discard(self.deferred)
                    self._crash(e)
                    return _Failure(e)
                finally:
                    self.is_asked = False
                    deferred, self.deferred = self.deferred, None
                return reply if deferred is None else deferred
            case _Tell(inner):
                if self.poisoned:
                    self._dead_letter(inner)
                    return None
                try:
                    self.actor.receive(inner)
                except Exception as e:  # noqa: BLE001 - a crash, reported to the watcher
                    self._crash(e)
                return None
            case _:
                msg = f"{self.name}: pykka delivered a foreign message {message!r}"
                raise TypeError(msg)

    def on_stop(self) -> None:
        # Runs once, on our thread, after pykka has unregistered us.
        if self.init_failure is not None:
            self._finish(self.init_failure, notify=False)
            return
        reason = self.exit_reason or Shutdown()
        if isinstance(reason, Crash):
            _run_on_crash(self.actor, self.name)
        else:
            try:
                self.actor.on_stop()
            except Exception as e:  # noqa: BLE001 - on_stop failing is a crash of this incarnation
                reason = Crash(error=repr(e), traceback=traceback.format_exc())
                _run_on_crash(self.actor, self.name)
        self._finish(reason, notify=True)

    # internals --------------------------------------------------------------------------------

    def _dead_letter(self, message: object) -> None:
        # A message queued behind a crash or a stop is lost (its sender may rebuild the fact
        # from the journal, but nobody should have to guess it happened): the first one and
        # then every hundredth are reported.
        self.dead_letters += 1
        if self.dead_letters == 1 or self.dead_letters % 100 == 0:
            log.warning(
                "%s#%d is stopping: %d message(s) dropped, latest %s",
                self.name,
                self.incarnation,
                self.dead_letters,
                type(message).__name__,
            )

    def _crash(self, error: Exception) -> None:
        self.exit_reason = Crash(error=repr(error), traceback=traceback.format_exc())
        self.poisoned = True
        self.stop()

    def _finish(self, reason: ExitReason, *, notify: bool) -> None:
        for reply in list(self.later_replies):
            reply.fail(ActorDead(f"{self.name}#{self.incarnation} exited before answering"))
        self.runtime._release(self.name, self)
        if notify:
            report_exit(self.name, self.incarnation, reason, self.watcher)
        self.finished.set()


class _PykkaRef:
    __slots__ = ("_host", "_pykka_ref")

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._pykka_ref = host.actor_ref

    @property
    def name(self) -> str:
        return self._host.name

    @property
    def incarnation(self) -> int:
        return self._host.incarnation

    def tell(self, message: object) -> None:
        if self._host.poisoned or self._host.finished.is_set():
            msg = f"{self._host.name}#{self._host.incarnation} is not alive"
            raise ActorDead(msg)
        try:
            self._pykka_ref.tell(_Tell(message))
        except pykka.ActorDeadError as e:
            raise ActorDead(str(e)) from e

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        started = time.monotonic()
        try:
            future = self._pykka_ref.ask(_Ask(message), block=False)
            reply = future.get(timeout=timeout_s)
        except pykka.ActorDeadError as e:
            raise ActorDead(str(e)) from e
        except pykka.Timeout as e:
            msg = f"{self._host.name} did not answer {type(message).__name__} in {timeout_s}s"
            raise AskTimeout(msg) from e
        if isinstance(reply, _Failure):
            raise reply.error
        if isinstance(reply, _LaterReply):
            left = max(0.0, timeout_s - (time.monotonic() - started))
            return reply.wait(left, type(message).__name__, timeout_s)
        return reply

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        host = self._host
        if host.finished.is_set():
            return True
        if host.exit_reason is None:
            host.exit_reason = Shutdown()
        try:
            self._pykka_ref.stop(block=False)
        except pykka.ActorDeadError:
            pass  # already on its way out; wait for `finished` below
        return host.finished.wait(timeout_s)

    def poison(self) -> None:
        """Refuse every later message: used when a stop times out and the actor is abandoned."""
        self._host.poisoned = True
        self._host.runtime._release(self._host.name, self._host)

    def is_alive(self) -> bool:
        return not (self._host.poisoned or self._host.finished.is_set())

    def __repr__(self) -> str:
        return f"<ref {self._host.name}#{self._host.incarnation}>"


class _Context:
    __slots__ = ("_host", "_ref")

    def __init__(self, host: _Host, ref: _PykkaRef) -> None:
        self._host = host
        self._ref = ref

    @property
    def name(self) -> str:
        return self._host.name

    @property
    def incarnation(self) -> int:
        return self._host.incarnation

    @property
    def self_ref(self) -> Ref:
        return self._ref

    @property
    def runtime(self) -> PykkaRuntime:
        return self._host.runtime

    @property
    def clock(self) -> Clock:
        return self._host.runtime.clock

    def schedule(self, delay_s: float, message: object) -> TimerHandle:
        return self._host.runtime.schedule(delay_s, self._ref, message)

    def stop_self(self, reason: ExitReason | None = None) -> None:
        if self._host.exit_reason is None:
            self._host.exit_reason = reason or Normal()
        self._host.stop()

    def defer_reply(self) -> Reply | None:
        host = self._host
        if not host.is_asked:
            return None
        if host.deferred is None:
            host.deferred = _LaterReply(host)
            host.later_replies.add(host.deferred)
        return host.deferred


class PykkaRuntime:
    """Threads in one process (pykka 4)."""

    kind = "pykka"

    def __init__(self, clock: Clock, *, start_timeout_s: float = 30.0) -> None:
        self._clock = clock
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._names: dict[str, _Host] = {}
        self._spawned: dict[int, _PykkaRef] = {}  # insertion order = spawn order
        self._timers = TimerThread(clock)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def supervision_clock(self) -> Clock:
        return self._clock

    def spawn(
        self, factory: Factory, *, name: str, incarnation: int = 1, watcher: Ref | None = None
    ) -> Ref:
        actor = factory()
        with self._lock:
            holder = self._names.get(name)
            if holder is not None:
                msg = f"actor name {name!r} is held by live incarnation #{holder.incarnation}"
                raise NameTaken(msg)
            created: list[_Host] = []
            _Host.start(self, actor, name, incarnation, watcher, created)
        host = created[0]
        ref = host.ref
        if not host.started.wait(self._start_timeout_s):
            ref.poison()
            raise StartFailed(InitFailed(error=f"on_start took over {self._start_timeout_s}s"))
        if host.init_failure is not None:
            host.finished.wait(self._start_timeout_s)
            raise StartFailed(host.init_failure)
        return ref

    def lookup(self, name: str) -> Ref:
        with self._lock:
            host = self._names.get(name)
        if host is None:
            msg = f"no live actor named {name!r}"
            raise ActorDead(msg)
        return _PykkaRef(host)

    def address(self, name: str) -> Address:
        return Address(name, self)

    def schedule(self, delay_s: float, target: Ref, message: object) -> TimerHandle:
        return self._timers.add(delay_s, target, message)

    def abandon(self, ref: Ref) -> None:
        if isinstance(ref, _PykkaRef):
            ref.poison()
        else:
            self.abandon(self.lookup(ref.name))

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._names)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        # Unsupervised actors first (roots stop their own subtrees in order), then stragglers.
        for roots_only in (True, False):
            with self._lock:
                refs = [
                    r
                    for r in reversed(self._spawned.values())
                    if not roots_only or r._host.watcher is None
                ]
            for ref in refs:
                if ref.is_alive() and not ref.stop(timeout_s):
                    log.error("actor %s did not stop within %.1fs at shutdown", ref.name, timeout_s)
                    ref.poison()
        self._timers.close()

    def _register(self, host: _Host) -> None:
        # Called with self._lock held, from spawn.
        self._names[host.name] = host
        self._spawned[id(host)] = host.ref

    def _release(self, name: str, host: _Host) -> None:
        with self._lock:
            if self._names.get(name) is host:
                del self._names[name]
            self._spawned.pop(id(host), None)
