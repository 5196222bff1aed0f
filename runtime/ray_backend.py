"""Ray backend: each actor is a named Ray actor (a process) in the project's namespace.

Our OTP semantics stay authoritative (reference/aesthetics_supervision.md, B4): Ray's own
restarts are off (`max_restarts=0`) and no call is ever retried by Ray (`max_task_retries=0`),
so an order-sending message can never be delivered twice. A Python exception in a handler is
a crash here too (Ray would otherwise resume the actor with its state): the host runs
`on_crash`, tells the watcher and exits its process. Refs are picklable names, resolved with
`ray.get_actor`, so they can be passed inside messages and survive restarts of the target.

A process that dies without a word (`os._exit`, OOM, `ray.kill`) cannot tell its watcher; the
supervisor's watchdog finds it through `is_alive`, which costs no round trip in steady state (it
reads the answer to the previous ping and sends the next one), and counts it as a crash. An ask
whose target becomes unreachable mid-call (`ActorUnavailableError`) raises `ReplyLost`: the
outcome is unknown, so it is reconciled, never resent.

Timers follow the runtime's clock in each process. A `SimulatedClock` reads `time.monotonic`,
which is one system-wide clock on one machine, so every actor process sees the same simulated
time; across the machines of a cluster it is not, so a cluster needs `RealClock`.

Costs to keep in mind (reference/runtime_limits.md): a call is ~1 ms and an actor ~40 MB, so
high-rate market data must stay inside the process that consumes it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from runtime._exits import report_exit, run_on_crash
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
    ReplyLost,
    Shutdown,
    StartFailed,
)
from runtime.clock import RealClock

if TYPE_CHECKING:
    from runtime.api import Actor
    from runtime.clock import Clock

__all__ = ["HostSummary", "RayRef", "RayRuntime", "init_ray"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "polyactor"
_ROOT = Path(__file__).resolve().parent.parent


PING_TIMEOUT_S = 2.0
"""How long a spawn waits for a name's holder to say whether it is alive."""

FIRST_PING_WAIT_S = 0.1
"""How long a first `is_alive` waits for its ping. An actor busy for longer counts as alive
(busy is not dead) and its ping is read on the next check: a supervisor's watchdog must not
stall its restarts and StartChild calls behind busy children (2 s each made the windows
supervisor start windows minutes of simulated time late at 60x)."""


REPLY_GRACE_S = 0.5
"""How long a host whose handler crashed during an ask lives on after replying, so that the
reply carrying the exception reaches the asker before the process is killed."""

EXIT_SEND_S = 1.0
"""How long an exiting host waits for its last tells to leave before its process is killed."""

NAME_RELEASE_TIMEOUT_S = 30.0
"""How long a spawn waits for a dead holder to release its name before calling it taken."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSummary:
    """What a Ray host says about the actor it hosts: for the status view and tests."""

    name: str
    incarnation: int
    actor_type: str
    pid: int
    alive: bool
    messages: int
    started_at: float


@dataclass(frozen=True, slots=True)
class _Ok:
    value: object


@dataclass(frozen=True, slots=True)
class _Err:
    error: BaseException


class _Outbox:
    """Tells made while a handler runs leave as one call per target when it returns.

    A Ray call costs about as much as a thousand in-process tells, and the simulated market
    publishes a tick's events one tell each: sent one by one they swamp the feed (measured: a
    5-minute run never caught up). Per sender/receiver FIFO is kept: one batch per target, in
    order, and an ask or stop from the handler sends what is waiting first. Tells from other
    threads (timers, the driver) leave at once."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        if getattr(self._local, "batches", None) is not None:
            yield  # a nested handler (a batch of messages): the outermost one sends
            return
        self._local.batches = {}
        try:
            yield
        finally:
            self.flush()
            self._local.batches = None

    def add(self, handle: Any, message: object) -> bool:
        """Keep `message` for the end of the handler; False when no handler runs here."""
        batches: dict[Any, tuple[Any, list[object]]] | None = getattr(self._local, "batches", None)
        if batches is None:
            return False
        batches.setdefault(handle._actor_id, (handle, []))[1].append(message)
        return True

    def flush(self) -> dict[Any, Any]:
        """Send what is waiting; the sent batches' calls by target actor id."""
        batches = getattr(self._local, "batches", None)
        if not batches:
            return {}
        self._local.batches = {}
        return {
            actor_id: handle.deliver_batch.remote(tuple(messages))
            for actor_id, (handle, messages) in batches.items()
        }


_OUTBOX = _Outbox()


@dataclass(eq=False)
class RayRef:
    """A picklable handle: a name in a namespace, resolved to a Ray actor handle on use.

    A ref returned by `spawn` keeps the handle of that one incarnation, so once it dies the ref
    stays dead even after a restart takes the name; a ref made from a name (or unpickled)
    resolves whoever holds the name on first use."""

    name: str
    namespace: str = DEFAULT_NAMESPACE
    incarnation: int = 0
    _handle: Any = field(default=None, repr=False, compare=False)
    _ping: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, object]:
        return {"name": self.name, "namespace": self.namespace, "incarnation": self.incarnation}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.namespace = state["namespace"]
        self.incarnation = state["incarnation"]
        self._handle = None
        self._ping = None

    def handle(self) -> Any:
        if self._handle is None:
            try:
                self._handle = ray.get_actor(self.name, namespace=self.namespace)
            except ValueError as e:
                msg = f"no live actor named {self.name!r} in namespace {self.namespace!r}"
                raise ActorDead(msg) from e
        return self._handle

    def tell(self, message: object) -> None:
        handle = self.handle()
        if not _OUTBOX.add(handle, message):
            handle.deliver.remote(message)

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        _OUTBOX.flush()  # the target sees this handler's earlier tells first
        try:
            reply = ray.get(self.handle().call.remote(message), timeout=timeout_s)
        except GetTimeoutError as e:
            msg = f"{self.name} did not answer {type(message).__name__} in {timeout_s}s"
            raise AskTimeout(msg) from e
        except ActorUnavailableError as e:
            msg = f"{self.name} became unreachable during {type(message).__name__}: outcome unknown"
            raise ReplyLost(msg) from e
        except RayActorError as e:
            msg = f"{self.name} is not alive: {type(e).__name__}"
            raise ActorDead(msg) from e
        if isinstance(reply, _Err):
            raise reply.error
        assert isinstance(reply, _Ok)
        return reply.value

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        _OUTBOX.flush()
        try:
            ray.get(self.handle().stop.remote(), timeout=timeout_s)
        except ActorDead:
            return True
        except RayActorError:
            return True
        except GetTimeoutError:
            return False
        return _wait_gone(self.name, self.namespace, timeout_s)

    def summary(self, timeout_s: float = 5.0) -> HostSummary:
        """The host's state summary; raises `ActorDead` if it is gone."""
        try:
            result: HostSummary = ray.get(self.handle().summary.remote(), timeout=timeout_s)
        except GetTimeoutError as e:
            msg = f"{self.name} did not answer summary() in {timeout_s}s"
            raise AskTimeout(msg) from e
        except RayActorError as e:
            msg = f"{self.name} is not alive: {type(e).__name__}"
            raise ActorDead(msg) from e
        return result

    def is_alive(self) -> bool:
        """Cheap enough for a watchdog: after the first check, it reads the previous ping's
        answer without waiting and sends the next ping, so a death shows one check late."""
        try:
            handle = self.handle()
        except ActorDead:
            return False
        pending, self._ping = self._ping, None
        if pending is None:
            pending = handle.ping.remote()
            ready, _ = ray.wait([pending], timeout=FIRST_PING_WAIT_S)
        else:
            ready, _ = ray.wait([pending], timeout=0)
        if not ready:
            self._ping = pending  # busy in a long handler: alive; read this ping next time
            return True
        try:
            answer = ray.get(pending)
        except RayActorError:
            return False
        if answer is None or (self.incarnation and answer != self.incarnation):
            return False  # stopping, or the name now belongs to another incarnation
        self._ping = handle.ping.remote()
        return True


def _wait_gone(name: str, namespace: str, timeout_s: float | None) -> bool:
    """Wait until the name is free again (the process has exited)."""
    deadline = time.monotonic() + (timeout_s if timeout_s is not None else 60.0)
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name, namespace=namespace)
        except ValueError:
            return True
        time.sleep(0.02)
    return False


class _Host:
    """The Ray actor that hosts one of our actors."""

    def __init__(
        self,
        factory: Factory,
        name: str,
        incarnation: int,
        watcher: Ref | None,
        namespace: str,
        clock: Clock,
    ) -> None:
        self.factory = factory
        self.name = name
        self.incarnation = incarnation
        self.watcher = watcher
        self.namespace = namespace
        self.clock = clock
        self.poisoned = False
        self.actor: Actor | None = None
        self.messages = 0
        self.started_at = clock.now()
        self.watcher_reached: Any = None

    def start(self) -> InitFailed | None:
        runtime = RayRuntime(self.clock, namespace=self.namespace, connect=False)
        self.runtime = runtime
        self_ref = RayRef(self.name, self.namespace, self.incarnation)
        actor = self.factory()
        actor.ctx = _Context(self, runtime, self_ref)
        self.actor = actor
        self.watcher_reached = self._reach_watcher()
        with _OUTBOX.collecting():
            try:
                actor.on_start()
            except Exception as e:  # noqa: BLE001 - reported to the spawner as StartFailed
                self.poisoned = True
                return InitFailed(error=repr(e), traceback=traceback.format_exc())
        return None

    def _reach_watcher(self) -> Any:
        """A first call to the watcher, so that the way to it is open before the exit notice."""
        if not isinstance(self.watcher, RayRef):
            return None
        try:
            return self.watcher.handle().ping.remote()
        except ActorDead:
            return None

    def deliver(self, message: object) -> None:
        with _OUTBOX.collecting():
            self._deliver(message)

    def deliver_batch(self, messages: tuple[object, ...]) -> None:
        with _OUTBOX.collecting():
            for message in messages:
                self._deliver(message)

    def _deliver(self, message: object) -> None:
        if self.poisoned or self.actor is None:
            log.debug("dead letter to %s: %r", self.name, message)
            return
        self.messages += 1
        try:
            self.actor.receive(message)
        except Exception as e:  # noqa: BLE001 - a crash, reported to the watcher
            self._crash(e)

    def call(self, message: object) -> _Ok | _Err:
        if self.poisoned or self.actor is None:
            return _Err(ActorDead(f"{self.name} is stopping"))
        self.messages += 1
        with _OUTBOX.collecting():
            try:
                return _Ok(self.actor.receive(message))
            except Exception as e:  # noqa: BLE001 - the asker gets it; the actor crashes
                self._crash(e, replying=True)
                return _Err(e)

    def stop(self, reason: ExitReason | None = None) -> bool:
        with _OUTBOX.collecting():
            return self._stop(reason)

    def _stop(self, reason: ExitReason | None) -> bool:
        if self.poisoned or self.actor is None:
            return True
        self.poisoned = True
        exit_reason: ExitReason = reason or Shutdown()
        try:
            self.actor.on_stop()
        except Exception as e:  # noqa: BLE001 - on_stop failing is a crash of this incarnation
            exit_reason = Crash(error=repr(e), traceback=traceback.format_exc())
            run_on_crash(self.actor, self.name)
        report_exit(self.name, self.incarnation, exit_reason, self.watcher)
        self._exit_soon()
        return True

    def ping(self) -> int | None:
        """This incarnation's number while it takes messages; None once it is stopping."""
        return None if self.poisoned else self.incarnation

    def summary(self) -> HostSummary:
        return HostSummary(
            name=self.name,
            incarnation=self.incarnation,
            actor_type=type(self.actor).__name__ if self.actor is not None else "",
            pid=os.getpid(),
            alive=not self.poisoned,
            messages=self.messages,
            started_at=self.started_at,
        )

    def _crash(self, error: Exception, *, replying: bool = False) -> None:
        reason = Crash(error=repr(error), traceback=traceback.format_exc())
        self.poisoned = True
        assert self.actor is not None
        run_on_crash(self.actor, self.name)
        report_exit(self.name, self.incarnation, reason, self.watcher)
        self._exit_soon(replying=replying)

    def _let_tells_leave(self, sent: dict[Any, Any]) -> None:
        """Wait, at most `EXIT_SEND_S`, until the exit notice and every earlier tell have left.

        A first call to an actor waits for Ray to look up where it lives, and a process killed
        meanwhile loses it (measured: 8 of 80 tells made just before a crash, 5 of 120 exit
        notices). A tell has left once answered; the watcher's notice is never waited for (its
        answer is our restart, which waits for us to die), so the first call to the watcher
        went out at start and its answer shows the way to it is open."""
        pending = [ref for actor_id, ref in sent.items() if actor_id != self._watcher_actor_id()]
        if self.watcher_reached is not None:
            pending.append(self.watcher_reached)
        if pending:
            # Bounded: a receiver asking us, or busy since we started, answers late.
            ray.wait(pending, num_returns=len(pending), timeout=EXIT_SEND_S)

    def _watcher_actor_id(self) -> Any:
        if not isinstance(self.watcher, RayRef):
            return None
        try:
            return self.watcher.handle()._actor_id
        except ActorDead:
            return None

    def exit_process(self, delay_s: float = 0.0) -> None:
        """Queued by `_exit_soon`, so it runs after the call that stopped us. A kill through
        Ray's control store frees the name at once (`exit_actor` waits for the replies to our
        own tells, and the supervisor's reply to our exit notice waits for this name: a
        deadlock until the spawn gives up)."""
        time.sleep(delay_s)
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    def _exit_soon(self, *, replying: bool = False) -> None:
        self._let_tells_leave(_OUTBOX.flush())
        # Through our own mailbox, so the current call finishes first; messages queued before
        # it are refused. A crashing call's reply (the handler's exception) is still on its
        # way when that runs: killed at once, the process once lost it under load and its
        # asker saw ActorDiedError. The name stays taken until then (`_holder_state` calls
        # that 'exiting' and a restart waits for it).
        delay_s = REPLY_GRACE_S if replying else 0.0
        ray.get_runtime_context().current_actor.exit_process.remote(delay_s)


class _Context:
    def __init__(self, host: _Host, runtime: RayRuntime, self_ref: RayRef) -> None:
        self._host = host
        self._runtime = runtime
        self._self_ref = self_ref

    @property
    def name(self) -> str:
        return self._host.name

    @property
    def incarnation(self) -> int:
        return self._host.incarnation

    @property
    def self_ref(self) -> Ref:
        return self._self_ref

    @property
    def runtime(self) -> RayRuntime:
        return self._runtime

    @property
    def clock(self) -> Clock:
        return self._host.clock

    def schedule(self, delay_s: float, message: object) -> TimerHandle:
        return self._runtime.schedule(delay_s, self._self_ref, message)

    def stop_self(self, reason: ExitReason | None = None) -> None:
        # Through our own mailbox, so the current message finishes first.
        _OUTBOX.flush()
        self._self_ref.handle().stop.remote(reason or Normal())

    def defer_reply(self) -> Reply | None:
        # A call is answered by the remote method's return value; the host runs one at a time.
        return None


@functools.cache
def _remote_host_class() -> Any:
    """`ray.remote` rewrites the class's methods in place (tracing wrappers); doing it once per
    process rather than once per spawn keeps their signatures stable."""
    return ray.remote(_Host)


def _holder_state(name: str, namespace: str) -> str:
    """'live' (answers as a running incarnation), 'exiting' (stopped, its exit queued),
    'dead' (its process takes no more calls) or 'unknown' (busy or dying: no answer yet)."""
    try:
        handle = RayRef(name, namespace).handle()
    except ActorDead:
        return "dead"
    try:
        answer = ray.get(handle.ping.remote(), timeout=PING_TIMEOUT_S)
    except RayActorError:
        return "dead"
    except GetTimeoutError:
        return "unknown"
    return "exiting" if answer is None else "live"


def _put_checkout_on_pythonpath() -> None:
    """Let the workers of a local cluster import the project's packages."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *paths])


_STARTED_HERE = threading.Event()
_REAL_CLOCK = RealClock()


def init_ray(
    address: str | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    num_cpus: int = 2,
    include_dashboard: bool = True,
    clock: Clock | None = None,
) -> None:
    """Start a local Ray (or join `address` / `RAY_ADDRESS`) unless this process is connected.

    `ray.init` takes 5-30 s; call this before anchoring a `SimulatedClock`, or that much
    simulated time (30 minutes at 60x) passes before the first actor starts, and the simulated
    market must publish all of it at once. `RayRuntime` calls it too (a no-op by then)."""
    if ray.is_initialized():
        return
    cluster = _resolve_address(address)
    if cluster is not None and type(clock).__name__ == "SimulatedClock":
        log.warning(
            "joining Ray cluster %s with a SimulatedClock: its time is only shared by "
            "processes on one machine; use RealClock on a multi-machine cluster",
            cluster,
        )
    if cluster is None:
        # Local workers inherit the driver's environment. A runtime_env would do the same
        # but gives every actor a fresh worker process instead of a prestarted one
        # (measured: 2 s instead of 0.2 s per actor).
        _put_checkout_on_pythonpath()
    ray.init(
        address=cluster,
        namespace=namespace,
        num_cpus=None if cluster else num_cpus,
        include_dashboard=None if cluster else include_dashboard,
        dashboard_host="127.0.0.1",
        log_to_driver=True,
        # On a cluster, every node must have this checkout at the same path (docs/ray.md).
        runtime_env={"env_vars": {"PYTHONPATH": str(_ROOT)}} if cluster else None,
    )
    _STARTED_HERE.set()


def _resolve_address(address: str | None) -> str | None:
    """An explicit address, else `RAY_ADDRESS`; None starts a local cluster."""
    return address or os.environ.get("RAY_ADDRESS") or None


class RayRuntime:
    """Ray backend. On the driver it starts (or joins) Ray; inside actors it only connects.

    Local by default (`num_cpus` CPUs, dashboard on 127.0.0.1); `address` or `RAY_ADDRESS`
    joins an existing cluster instead, which then needs a `RealClock` (see the module doc)."""

    kind = "ray"

    def __init__(
        self,
        clock: Clock,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        connect: bool = True,
        address: str | None = None,
        num_cpus: int = 2,
        include_dashboard: bool = True,
    ) -> None:
        self._clock = clock
        self._namespace = namespace
        self._owns_ray = False
        self._spawned: dict[str, RayRef] = {}  # insertion order = spawn order
        self._timers: TimerThread | None = None
        self._timers_lock = threading.Lock()
        if connect:
            init_ray(
                address,
                namespace=namespace,
                num_cpus=num_cpus,
                include_dashboard=include_dashboard,
                clock=clock,
            )
            # Whoever started Ray in this process (run.py through init_ray, or we) stops it here.
            self._owns_ray = _STARTED_HERE.is_set()

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def supervision_clock(self) -> Clock:
        return _REAL_CLOCK

    @property
    def namespace(self) -> str:
        return self._namespace

    def spawn(
        self, factory: Factory, *, name: str, incarnation: int = 1, watcher: Ref | None = None
    ) -> Ref:
        host_class = _remote_host_class().options(
            name=name,
            namespace=self._namespace,
            num_cpus=0,  # our actors are I/O-bound; num_cpus=1 would cap a 2-core node at 2
            max_restarts=0,  # OTP supervision restarts, not Ray
            max_task_retries=0,  # never redeliver a message whose outcome is unknown
        )
        handle = self._create(host_class, factory, name, incarnation, watcher)
        try:
            failure = ray.get(handle.start.remote())
        except RayActorError as e:
            # The process died in on_start (os._exit, or the factory would not unpickle).
            failure = InitFailed(error=f"{name}: its process died while starting: {e}")
        if failure is not None:
            ray.kill(handle, no_restart=True)
            _wait_gone(name, self._namespace, 10.0)
            raise StartFailed(failure)
        ref = RayRef(name, self._namespace, incarnation, handle)
        self._spawned[name] = ref
        return ref

    def _create(
        self, host_class: Any, factory: Factory, name: str, incarnation: int, watcher: Ref | None
    ) -> Any:
        # A name frees a moment after its previous holder exits; wait for that, not for a live one.
        deadline = time.monotonic() + NAME_RELEASE_TIMEOUT_S
        while True:
            try:
                return host_class.remote(
                    factory, name, incarnation, watcher, self._namespace, self._clock
                )
            except ValueError as e:
                holder = _holder_state(name, self._namespace)
                if holder == "live":
                    msg = f"actor name {name!r} is held by a live actor"
                    raise NameTaken(msg) from e
                if time.monotonic() > deadline:
                    # Slow, not taken: a supervisor retries a failed start later (charged to
                    # its intensity); NameTaken would crash it and every sibling with it.
                    error = (
                        f"actor name {name!r} was not released within "
                        f"{NAME_RELEASE_TIMEOUT_S}s: its holder is {holder}"
                    )
                    raise StartFailed(InitFailed(error=error)) from e
                if holder == "dead":
                    # A process killed from outside (`ray.kill`, OOM) keeps its name until Ray
                    # has noticed, which took over 10 s on a busy machine; telling Ray it is
                    # dead frees the name now. It has already reported its exit, or never will.
                    with contextlib.suppress(ActorDead):
                        ray.kill(RayRef(name, self._namespace).handle(), no_restart=True)
                time.sleep(0.05)

    def lookup(self, name: str) -> Ref:
        ref = RayRef(name, self._namespace)
        ref.handle()
        return ref

    def address(self, name: str) -> Address:
        return Address(name, self)

    def schedule(self, delay_s: float, target: Ref, message: object) -> TimerHandle:
        with self._timers_lock:
            if self._timers is None:
                self._timers = TimerThread(self._clock)
            timers = self._timers
        return timers.add(delay_s, target, message)

    def abandon(self, ref: Ref) -> None:
        try:
            ray.kill(RayRef(ref.name, self._namespace).handle(), no_restart=True)
        except ActorDead:
            return

    def names(self) -> list[str]:
        """Every live named actor in this runtime's namespace, as Ray's registry lists them."""
        return sorted(
            entry["name"]
            for entry in ray.util.list_named_actors(all_namespaces=True)
            if entry["namespace"] == self._namespace
        )

    def summaries(self, timeout_s: float = 5.0) -> list[HostSummary]:
        """One summary per live actor in the namespace (those dying meanwhile are left out)."""
        result = []
        for name in self.names():
            try:
                result.append(RayRef(name, self._namespace).summary(timeout_s))
            except (ActorDead, AskTimeout):
                log.debug("no summary from %s: it stopped or is busy", name)
        return result

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop what this runtime spawned in reverse order (a supervisor stops its own subtree,
        journal last), kill any straggler left in the namespace, then stop Ray if we started it."""
        for ref in reversed(list(self._spawned.values())):
            if not ref.stop(timeout_s):
                log.error("actor %s did not stop within %.1fs at shutdown", ref.name, timeout_s)
                self.abandon(ref)
        self._spawned.clear()
        if ray.is_initialized():
            for name in reversed(self.names()):
                log.warning("actor %s outlived its supervisor at shutdown; killing it", name)
                self.abandon(RayRef(name, self._namespace))
        if self._timers is not None:
            self._timers.close()
            self._timers = None
        if self._owns_ray:
            ray.shutdown()
            _STARTED_HERE.clear()
            self._owns_ray = False
