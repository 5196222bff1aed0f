"""Ray backend: each actor is a named Ray actor (a process) in the project's namespace.

Our OTP semantics stay authoritative (reference/aesthetics_supervision.md, B4): Ray's own
restarts are off (`max_restarts=0`) and no call is ever retried by Ray (`max_task_retries=0`),
so an order-sending message can never be delivered twice. A Python exception in a handler is
a crash here too (Ray would otherwise resume the actor with its state): the host runs
`on_crash`, tells the watcher and exits its process. Refs are picklable names, resolved with
`ray.get_actor`, so they can be passed inside messages and survive restarts of the target.

Costs to keep in mind (reference/runtime_limits.md): a call is ~1 ms and an actor ~40 MB, so
high-rate market data must stay inside the process that consumes it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from runtime._exits import report_exit, run_on_crash
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
    Shutdown,
    StartFailed,
)

if TYPE_CHECKING:
    from runtime.api import Actor
    from runtime.clock import Clock

__all__ = ["RayRef", "RayRuntime"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "polyactor"
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class _Ok:
    value: object


@dataclass(frozen=True, slots=True)
class _Err:
    error: BaseException


@dataclass(eq=False)
class RayRef:
    """A picklable handle: a name in a namespace, resolved to a Ray actor handle on use."""

    name: str
    namespace: str = DEFAULT_NAMESPACE
    incarnation: int = 0
    _handle: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, object]:
        return {"name": self.name, "namespace": self.namespace, "incarnation": self.incarnation}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.namespace = state["namespace"]
        self.incarnation = state["incarnation"]
        self._handle = None

    def handle(self) -> Any:
        if self._handle is None:
            try:
                self._handle = ray.get_actor(self.name, namespace=self.namespace)
            except ValueError as e:
                msg = f"no live actor named {self.name!r}"
                raise ActorDead(msg) from e
        return self._handle

    def tell(self, message: object) -> None:
        self.handle().deliver.remote(message)

    def ask(self, message: object, timeout_s: float = 5.0) -> Any:
        try:
            reply = ray.get(self.handle().call.remote(message), timeout=timeout_s)
        except GetTimeoutError as e:
            msg = f"{self.name} did not answer {type(message).__name__} in {timeout_s}s"
            raise AskTimeout(msg) from e
        except RayActorError as e:
            msg = f"{self.name} is not alive: {type(e).__name__}"
            raise ActorDead(msg) from e
        if isinstance(reply, _Err):
            raise reply.error
        assert isinstance(reply, _Ok)
        return reply.value

    def stop(self, timeout_s: float | None = 5.0) -> bool:
        try:
            ray.get(self.handle().stop.remote(), timeout=timeout_s)
        except ActorDead:
            return True
        except RayActorError:
            return True
        except GetTimeoutError:
            return False
        return _wait_gone(self.name, self.namespace, timeout_s)

    def is_alive(self) -> bool:
        try:
            return bool(ray.get(self.handle().ping.remote(), timeout=5.0))
        except (ActorDead, RayActorError, GetTimeoutError):
            return False


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

    def start(self) -> InitFailed | None:
        runtime = RayRuntime(self.clock, namespace=self.namespace, connect=False)
        self_ref = RayRef(self.name, self.namespace, self.incarnation)
        actor = self.factory()
        actor.ctx = _Context(self, runtime, self_ref)
        self.actor = actor
        try:
            actor.on_start()
        except Exception as e:  # noqa: BLE001 - reported to the spawner as StartFailed
            self.poisoned = True
            return InitFailed(error=repr(e), traceback=traceback.format_exc())
        return None

    def deliver(self, message: object) -> None:
        if self.poisoned or self.actor is None:
            log.debug("dead letter to %s: %r", self.name, message)
            return
        try:
            self.actor.receive(message)
        except Exception as e:  # noqa: BLE001 - a crash, reported to the watcher
            self._crash(e)

    def call(self, message: object) -> _Ok | _Err:
        if self.poisoned or self.actor is None:
            return _Err(ActorDead(f"{self.name} is stopping"))
        try:
            return _Ok(self.actor.receive(message))
        except Exception as e:  # noqa: BLE001 - the asker gets it; the actor crashes
            self._crash(e)
            return _Err(e)

    def stop(self, reason: ExitReason | None = None) -> bool:
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

    def ping(self) -> bool:
        return not self.poisoned

    def _crash(self, error: Exception) -> None:
        reason = Crash(error=repr(error), traceback=traceback.format_exc())
        self.poisoned = True
        assert self.actor is not None
        run_on_crash(self.actor, self.name)
        report_exit(self.name, self.incarnation, reason, self.watcher)
        self._exit_soon()

    def _exit_soon(self) -> None:
        # Exit after the current call has returned its reply, so the asker sees our answer.
        handle = ray.get_runtime_context().current_actor
        threading.Thread(target=lambda: ray.kill(handle, no_restart=True), daemon=True).start()


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

    def schedule(self, delay_s: float, message: object) -> _RayTimer:
        return self._runtime.schedule(delay_s, self._self_ref, message)

    def stop_self(self, reason: ExitReason | None = None) -> None:
        # Through our own mailbox, so the current message finishes first.
        self._self_ref.handle().stop.remote(reason or Normal())


class _RayTimer:
    def __init__(self, real_delay: float | None, target: Ref, message: object) -> None:
        self._timer: threading.Timer | None = None
        if real_delay is not None:
            self._timer = threading.Timer(real_delay, self._fire, args=(target, message))
            self._timer.daemon = True
            self._timer.start()

    @staticmethod
    def _fire(target: Ref, message: object) -> None:
        try:
            target.tell(message)
        except ActorDead:
            log.debug("timer for %s fired after it stopped", target.name)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class RayRuntime:
    """Ray backend. On the driver it starts (or joins) Ray; inside actors it only connects."""

    kind = "ray"

    def __init__(
        self,
        clock: Clock,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        connect: bool = True,
        address: str | None = None,
        num_cpus: int = 2,
        include_dashboard: bool = False,
    ) -> None:
        self._clock = clock
        self._namespace = namespace
        self._owns_ray = False
        self._spawned: dict[str, RayRef] = {}
        if connect and not ray.is_initialized():
            ray.init(
                address=address or os.environ.get("RAY_ADDRESS"),
                namespace=namespace,
                num_cpus=None if address else num_cpus,
                include_dashboard=include_dashboard,
                dashboard_host="127.0.0.1",
                log_to_driver=True,
                runtime_env={"env_vars": {"PYTHONPATH": str(_ROOT)}},
            )
            self._owns_ray = True

    @property
    def clock(self) -> Clock:
        return self._clock

    def spawn(
        self, factory: Factory, *, name: str, incarnation: int = 1, watcher: Ref | None = None
    ) -> Ref:
        host_class = ray.remote(_Host).options(
            name=name,
            namespace=self._namespace,
            num_cpus=0,  # our actors are I/O-bound; num_cpus=1 would cap a 2-core node at 2
            max_restarts=0,  # OTP supervision restarts, not Ray
            max_task_retries=0,  # never redeliver a message whose outcome is unknown
        )
        handle = self._create(host_class, factory, name, incarnation, watcher)
        failure = ray.get(handle.start.remote())
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
        deadline = time.monotonic() + 10.0
        while True:
            try:
                return host_class.remote(
                    factory, name, incarnation, watcher, self._namespace, self._clock
                )
            except ValueError as e:
                if RayRef(name, self._namespace).is_alive() or time.monotonic() > deadline:
                    msg = f"actor name {name!r} is held by a live actor"
                    raise NameTaken(msg) from e
                time.sleep(0.05)

    def lookup(self, name: str) -> Ref:
        ref = RayRef(name, self._namespace)
        ref.handle()
        return ref

    def address(self, name: str) -> Address:
        return Address(name, self)

    def schedule(self, delay_s: float, target: Ref, message: object) -> _RayTimer:
        return _RayTimer(self._clock.real_delay(delay_s), target, message)

    def abandon(self, ref: Ref) -> None:
        try:
            ray.kill(RayRef(ref.name, self._namespace).handle(), no_restart=True)
        except ActorDead:
            return

    def shutdown(self, timeout_s: float = 10.0) -> None:
        for ref in reversed(list(self._spawned.values())):
            if not ref.stop(timeout_s):
                self.abandon(ref)
        self._spawned.clear()
        if self._owns_ray:
            ray.shutdown()
